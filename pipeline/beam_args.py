"""Beam pipeline args, shared by both runners: the `--beam-arg` flag of `imgpipe run` and `imgpipe compile`,
the dependency flag the workers need, and when the in-memory DirectRunner stops being sensible."""
from __future__ import annotations

import argparse
from typing import List, Sequence

from schemas.config.running import host_port

BEAM_ARG = "--beam-arg"

# Any of these tells TFX how Beam workers get the pipeline's code.
DEPENDENCY_FLAGS = ("--extra_package", "--setup_file", "--requirements_file",
                    "--worker_harness_container_image", "--sdk_container_image")


def with_setup_file(beam_args: Sequence[str], setup_py: str) -> List[str]:
    """`beam_args` plus `--setup_file=setup_py`, unless the user already named a dependency.

    Without any dependency flag, TFX builds an sdist of the whole tfx package for
    every Beam component of every run (~2.5 s each, 48 MB left in /tmp), and a
    remote runner (Dataflow) needs our package anyway, which setup.py describes.
    """
    if any(arg.split("=")[0].startswith(DEPENDENCY_FLAGS) for arg in beam_args):
        return list(beam_args)
    return list(beam_args) + [f"--setup_file={setup_py}"]


PICKLE_LIBRARY_FLAG = "--pickle_library"
PICKLE_LIBRARY = "cloudpickle"


def with_pickle_library(beam_args: Sequence[str]) -> List[str]:
    """`beam_args` plus `--pickle_library=cloudpickle`, unless the user already named a pickle library.

    Beam serializes every DoFn of a component's pipeline when it builds it and again for each bundle;
    with its default (dill) each call also resets dill's trace logger, which clears the cache of every
    logger TensorFlow, TFX and Beam have made. With cloudpickle (Beam's other supported pickler) the Beam
    components of a 1,000-image run took 0.2-0.9 s less each, the run ~2 s (docs/performance.md).
    """
    if any(arg.split("=")[0] == PICKLE_LIBRARY_FLAG for arg in beam_args):
        return list(beam_args)
    return list(beam_args) + [f"{PICKLE_LIBRARY_FLAG}={PICKLE_LIBRARY}"]


def in_memory_direct_runner(beam_args: Sequence[str]) -> bool:
    """True when these args run Beam's DirectRunner in one process (also Beam's default when they name
    neither a runner nor a running mode)."""
    flags = dict(arg.lstrip("-").split("=", 1) for arg in beam_args if "=" in arg)
    return (flags.get("runner", "DirectRunner") in ("DirectRunner", "direct")
            and flags.get("direct_running_mode", "in_memory") == "in_memory")


def large_data_hint(image_files: int, beam_args: Sequence[str], threshold: int) -> str:
    """One line suggesting the multi-process DirectRunner (or a distributed runner) for a large folder; ''
    below `threshold` (run.large_data_images; 0: never) or when the args already leave the in-memory mode."""
    if not threshold or image_files < threshold or not in_memory_direct_runner(beam_args):
        return ""
    return (f"Hint: {image_files} image files reach run.large_data_images={threshold}: the in-memory "
            "DirectRunner holds them in one process on one core; with many cores try --beam-arg "
            "--direct_running_mode=multi_processing --beam-arg --direct_num_workers=0, past this machine's "
            "memory a distributed runner (docs/scaling.md)")


def join_beam_args(argv: List[str]) -> List[str]:
    """`--beam-arg --runner=X` -> `--beam-arg=--runner=X`: argparse would take `--runner=X` for an option."""
    out: List[str] = []
    i = 0
    while i < len(argv):
        if argv[i] == BEAM_ARG and i + 1 < len(argv):
            out.append(f"{BEAM_ARG}={argv[i + 1]}")
            i += 2
        else:
            out.append(argv[i])
            i += 1
    return out


def add_beam_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(BEAM_ARG, dest="beam_args", action="append", default=[], metavar="ARG",
                        help="extra Beam pipeline arg, appended to run.beam_args (repeatable), "
                        "e.g. --beam-arg --runner=DataflowRunner --beam-arg --project=my-proj")


# --------------------------------------------------------------------------- the portable runner

PORTABLE = "portable"
BEAM_RUNNERS = ("direct", PORTABLE)
JOB_SERVER_COMMAND = "python -m apache_beam.runners.portability.local_job_service_main --port={port}"
WORKER_POOL_COMMAND = "python -m apache_beam.runners.worker.worker_pool_main --service_port={port}"


def add_beam_runner_args(parser: argparse.ArgumentParser) -> None:
    """`--beam-runner`, `--job-endpoint`, `--worker-pool`: plain flags for what --beam-arg can also say."""
    parser.add_argument("--beam-runner", choices=BEAM_RUNNERS, default=None,
                        help="where the Beam components run: direct (Beam's DirectRunner, the default) or "
                        "portable (a Beam job server, with --job-endpoint; docs/scaling.md)")
    parser.add_argument("--job-endpoint", default="", metavar="HOST:PORT",
                        help="with --beam-runner portable: the Beam job server")
    parser.add_argument("--worker-pool", default="", metavar="HOST:PORT",
                        help="with --beam-runner portable: an EXTERNAL Beam worker pool that runs the work; "
                        "without it the job server calls back into this process (LOOPBACK)")


def runner_beam_args(runner: str, job_endpoint: str = "", worker_pool: str = "") -> List[str]:
    """The Beam args `--beam-runner/--job-endpoint/--worker-pool` stand for; ValueError naming the flag."""
    if runner != PORTABLE and (job_endpoint or worker_pool):
        flag = "--job-endpoint" if job_endpoint else "--worker-pool"
        raise ValueError(f"{flag} needs --beam-runner portable")
    if runner is None:
        return []
    if runner != PORTABLE:
        return ["--runner=DirectRunner"]
    if not job_endpoint:
        raise ValueError("--beam-runner portable needs --job-endpoint HOST:PORT (a Beam job server; "
                         f"start one with {JOB_SERVER_COMMAND.format(port='PORT')}, docs/scaling.md)")
    for flag, value in (("--job-endpoint", job_endpoint), ("--worker-pool", worker_pool)):
        if value and not host_port(value):
            raise ValueError(f"{flag} {value}: expected HOST:PORT, e.g. localhost:8099")
    environment = (["--environment_type=EXTERNAL", f"--environment_config={worker_pool}"] if worker_pool
                   else ["--environment_type=LOOPBACK"])
    return ["--runner=PortableRunner", f"--job_endpoint={job_endpoint}"] + environment


def portable_endpoints(beam_args: Sequence[str]) -> List[tuple]:
    """[(what, HOST:PORT, command that starts it)] the portable runner of these args must reach; [] otherwise.

    The last value of a flag wins, as in Beam's own parsing."""
    flags = dict(arg.lstrip("-").split("=", 1) for arg in beam_args if "=" in arg)
    if flags.get("runner", "") not in ("PortableRunner", "portable"):
        return []
    found = []
    job = flags.get("job_endpoint", "")
    if host_port(job):
        found.append(("job server", job, JOB_SERVER_COMMAND))
    pool = flags.get("environment_config", "")
    if flags.get("environment_type", "").upper() == "EXTERNAL" and host_port(pool):
        found.append(("worker pool", pool, WORKER_POOL_COMMAND))
    return found


def endpoint_problem(beam_args: Sequence[str], timeout_s: float = 3.0) -> str:
    """One line naming the first job server or worker pool of these args that refuses a connection; ''."""
    import socket
    for what, endpoint, command in portable_endpoints(beam_args):
        host, port = host_port(endpoint)
        try:
            socket.create_connection((host, port), timeout=timeout_s).close()
        except OSError as e:
            reason = e.strerror or type(e).__name__
            return (f"the Beam {what} at {endpoint} is not reachable ({reason}): start it with "
                    f"{command.format(port=port)} (docs/scaling.md), with this project's environment "
                    "first on PATH, or fix the endpoint")
    return ""
