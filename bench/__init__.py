"""Benchmarks: each module prints figures measured side by side in one run (`python -m bench.<name>`); `make bench` runs bench.suite. Not tests."""
