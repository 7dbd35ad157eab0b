"""A Beam job server and an EXTERNAL worker pool on free 127.0.0.1 ports, started from this project's own
environment the way docs/scaling.md#the-portable-runner starts them (the environment's bin first on PATH,
the repository on PYTHONPATH), each in its own process group so that stopping it stops its workers.

With `probe_dir`, the pool's processes load tests/beam_probe/sitecustomize.py and record there every
bundle they run (see that file)."""
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from typing import Dict, Iterator, Optional

from tests.beam_probe.sitecustomize import PROBE_ENV

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PROBE_PATH = os.path.join(REPO, "tests", "beam_probe")
JOB_SERVER = "apache_beam.runners.portability.local_job_service_main"
WORKER_POOL = "apache_beam.runners.worker.worker_pool_main"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _environment(probe_dir: Optional[str]) -> Dict[str, str]:
    paths = [REPO] + ([PROBE_PATH] if probe_dir else [])
    env = dict(os.environ, PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""),
               PYTHONPATH=os.pathsep.join(paths))
    if probe_dir:
        env[PROBE_ENV] = probe_dir
    return env


def _start(module: str, port_flag: str, log_path: str, env: Dict[str, str]):
    port = free_port()
    with open(log_path, "w") as log:
        proc = subprocess.Popen([sys.executable, "-m", module, f"{port_flag}={port}"], stdout=log,
                                stderr=subprocess.STDOUT, env=env, start_new_session=True)
    return proc, port


def _wait_listening(proc, port: int, log_path: str, timeout_s: float = 90) -> None:
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        assert proc.poll() is None, open(log_path).read()[-2000:]
        with contextlib.suppress(OSError):
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        time.sleep(0.3)
    raise AssertionError(f"nothing listens on {port} after {timeout_s} s: {open(log_path).read()[-2000:]}")


def _stop(proc) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


@contextlib.contextmanager
def beam_servers(log_dir: str, worker_pool: bool = True, probe_dir: Optional[str] = None) -> Iterator[dict]:
    """{'job': '127.0.0.1:P', 'pool': '127.0.0.1:Q' (with worker_pool), 'pool_pid': ...}; both stopped after."""
    env = _environment(probe_dir)
    started = [("job", *_start(JOB_SERVER, "--port", os.path.join(log_dir, "job.log"), env), "job.log")]
    if worker_pool:
        started.append(("pool", *_start(WORKER_POOL, "--service_port", os.path.join(log_dir, "pool.log"), env),
                        "pool.log"))
    try:
        for _, proc, port, log in started:
            _wait_listening(proc, port, os.path.join(log_dir, log))
        endpoints = {name: f"127.0.0.1:{port}" for name, _, port, _ in started}
        yield dict(endpoints, **{f"{name}_pid": proc.pid for name, proc, _, _ in started})
    finally:
        for _, proc, _, _ in reversed(started):
            _stop(proc)
