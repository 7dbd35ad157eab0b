"""The exit codes of every `imgpipe` command (documented in the README and docs/evaluation-gate.md)."""

EXIT_OK = 0       # done (a run: finished; pushed, or the gate said no and --fail-if-not-blessed was not given)
EXIT_FAILED = 1   # a step failed or was refused: a component, the data gate, a server
EXIT_USAGE = 2    # bad input found before anything ran: a flag, a config key, a path
EXIT_NOT_BLESSED = 3  # `imgpipe run --fail-if-not-blessed`: the run finished but the gate did not bless the model
