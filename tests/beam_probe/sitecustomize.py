"""Loaded by every Python process of the Beam worker pool the portable-runner test starts (its PYTHONPATH
names this folder). With IMGPIPE_BEAM_PROBE_DIR set, each bundle a process runs is recorded there as one
JSON line: the process id, its parent's, and the names of the bundle's Beam transforms. That is how the
test sees which process did each component's work, without any hook in the pipeline's own code.
The test also records the `imgpipe` process itself (`recording`), where no bundle should run."""
import contextlib
import os

PROBE_ENV = "IMGPIPE_BEAM_PROBE_DIR"


def _recorder(original, probe_dir: str):
    import json

    def process_bundle(self, instruction_id):
        names = sorted(t.unique_name for t in self.process_bundle_descriptor.transforms.values())
        line = json.dumps({"pid": os.getpid(), "ppid": os.getppid(), "transforms": names})
        with open(os.path.join(probe_dir, f"bundles-{os.getpid()}.jsonl"), "a", encoding="utf-8") as f:
            f.write(line + "\n")
        return original(self, instruction_id)

    return process_bundle


def install(probe_dir: str):
    """Record every bundle this process runs from now on; returns the method it replaced."""
    from apache_beam.runners.worker import bundle_processor
    original = bundle_processor.BundleProcessor.process_bundle
    bundle_processor.BundleProcessor.process_bundle = _recorder(original, probe_dir)
    return original


@contextlib.contextmanager
def recording(probe_dir: str):
    """Record the bundles this process runs while inside the block."""
    from apache_beam.runners.worker import bundle_processor
    original = install(probe_dir)
    try:
        yield
    finally:
        bundle_processor.BundleProcessor.process_bundle = original


if os.environ.get(PROBE_ENV):
    install(os.environ[PROBE_ENV])  # for the whole life of a worker pool process


def read_bundles(probe_dir: str) -> list:
    """Every bundle recorded under `probe_dir`: [{'pid', 'ppid', 'transforms'}]."""
    import glob
    import json
    return [json.loads(line) for path in sorted(glob.glob(os.path.join(probe_dir, "bundles-*.jsonl")))
            for line in open(path, encoding="utf-8")]
