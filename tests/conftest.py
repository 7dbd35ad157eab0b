import os

# Keras 2 (tf_keras) for the whole TFX 1.16 stack; must be set before TensorFlow loads.
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest  # noqa: E402  (after the environment above)


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
