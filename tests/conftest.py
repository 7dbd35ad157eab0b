"""Process settings for every test, and the fixtures several test modules share."""
import os

import pytest

from schemas.runtime import ONEDNN_ISA_OURS, set_tensorflow_env

# Keras 2 and the oneDNN cap (schemas/runtime.py) before any test module loads TensorFlow. The cap stays
# AVX2 in the test processes and those they start, as if the user had set it: a test that calls `imgpipe run`
# in process must not lift it for the tiny 8-filter networks other tests train in the same worker.
set_tensorflow_env()
os.environ.pop(ONEDNN_ISA_OURS, None)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# `make test` runs the modules on two processes (pytest-xdist, one module per worker at a time). The
# longest modules start first, so the suite's wall time is the longest module, not the longest plus
# whatever happened to be queued behind it. Third and fourth are light: each worker is handed two
# modules at the start, and the first worker's second should not be another long one.
LONGEST_FIRST = ["test_spec_run.py", "test_pipeline_e2e.py", "test_backbones.py", "test_config.py", "test_docs.py",
                 "test_image_validation_e2e.py", "test_scheduled_runs_e2e.py", "test_evaluation_gate.py", "test_multi_worker.py",
                 "test_cli.py", "test_infra_check.py"]


def pytest_collection_modifyitems(items):
    """Order modules longest first (stable within a module); the rest keep pytest's order."""
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))


@pytest.fixture(scope="session")
def kfp_yaml(tmp_path_factory):
    """The pipeline compiled for KFP once per test session (TFX's compiler takes ~30 s here)."""
    from pipeline.kubeflow.compiler import compile_pipeline
    from schemas.config import build_config
    from tests.fixtures import KFP_DATA, KFP_IMAGE, KFP_RESOURCES, KFP_ROOT, KFP_SERVING

    cfg = build_config("", KFP_RESOURCES)
    cfg.run.beam_args.append("--runner=DirectRunner")  # what --beam-arg appends
    path = str(tmp_path_factory.mktemp("kfp") / "imgpipe.yaml")
    return compile_pipeline(cfg, "kfp", KFP_IMAGE, KFP_ROOT, path, data_root=KFP_DATA, serving_dir=KFP_SERVING)


@pytest.fixture
def fake_kfp():
    """A fake KFP API on 127.0.0.1 for one test (tests/fake_kfp.py); single-user, no auth unless told."""
    from tests.fake_kfp import FakeKfp, start

    fake = FakeKfp()
    stop = start(fake)
    yield fake
    stop()

@pytest.fixture(scope="session")
def compiled_spec(tmp_path_factory):
    """The pipeline compiled for both targets with local paths, so run-spec can execute it here.

    The data root holds batches (data.span_pattern=round-{SPAN}): an older small round-1 and the
    newest, round-2, which is what each run must read."""
    from pipeline.kubeflow.compiler import REPO_DIR, compile_pipeline
    from schemas.config import build_config
    from tests.fixtures import FAST, make_colour_folder

    root = tmp_path_factory.mktemp("spec")
    data = str(root / "data")
    make_colour_folder(os.path.join(data, "round-1"), per_class=5, seed=1)
    make_colour_folder(os.path.join(data, "round-2"))
    cfg = build_config(overrides=FAST + ["data.span_pattern=round-{SPAN}"])
    paths = {"serving": str(root / "serving"), "work": str(root / "work"), "root": root, "data": data}
    for target, name in (("kfp", "pipeline.yaml"), ("vertex", "pipeline.json")):
        paths[target] = compile_pipeline(
            cfg, target, image="imgpipe:test", pipeline_root=str(root / "pipeline_root"),
            output_path=str(root / name), data_root=data, serving_dir=paths["serving"],
            image_source_dir=REPO_DIR)
    return paths
