"""`imgpipe run --beam-runner portable` (docs/scaling.md#the-portable-runner): the plain flags are the Beam
args they stand for, and a job server or worker pool that is down, before the run or during it, fails the
run in one line naming the endpoint, exit 1, with nothing half-written taken for finished.

The run through a live job server and worker pool, compared with the in-memory run, is in
tests/test_pipeline_e2e.py (it reuses that module's in-memory run)."""
import os

import pytest

from pipeline.beam_args import endpoint_problem, portable_endpoints, runner_beam_args
from pipeline.exit_codes import EXIT_FAILED, EXIT_USAGE
from pipeline.history.run_record import open_store, read_run_record
from tests.beam_servers import beam_servers, free_port
from tests.fixtures import FAST, make_colour_folder


@pytest.fixture(scope="module")
def job_server(tmp_path_factory):
    """A live job server (no worker pool): the job starts, and the pool it names does not answer."""
    with beam_servers(str(tmp_path_factory.mktemp("servers")), worker_pool=False) as servers:
        yield servers["job"]


def test_the_plain_flags_are_the_beam_args_they_stand_for():
    assert runner_beam_args("portable", "localhost:8099", "localhost:50000") == [
        "--runner=PortableRunner", "--job_endpoint=localhost:8099", "--environment_type=EXTERNAL",
        "--environment_config=localhost:50000"]
    assert runner_beam_args("portable", "jobs:8099") == [
        "--runner=PortableRunner", "--job_endpoint=jobs:8099", "--environment_type=LOOPBACK"]
    assert runner_beam_args("direct") == ["--runner=DirectRunner"] and runner_beam_args(None) == []
    args = runner_beam_args("portable", "localhost:8099", "localhost:50000")
    assert [e[:2] for e in portable_endpoints(args)] == [("job server", "localhost:8099"),
                                                          ("worker pool", "localhost:50000")]
    for bad, message in ((("portable",), "--beam-runner portable needs --job-endpoint HOST:PORT"),
                         (("direct", "localhost:8099"), "--job-endpoint needs --beam-runner portable"),
                         (("portable", "8099"), "--job-endpoint 8099: expected HOST:PORT")):
        with pytest.raises(ValueError, match=message):
            runner_beam_args(*bad)


def test_a_job_server_that_is_down_stops_the_run_before_it_starts_in_one_line(tmp_path, capsys):
    from pipeline import cli
    port = free_port()  # nothing listens there
    data = make_colour_folder(str(tmp_path / "data"), per_class=3)
    code = cli.main(["run", "--data", data, "--output", str(tmp_path / "out"), "--set", "data.min_images_per_class=1",
                     "--beam-runner", "portable", "--job-endpoint", f"127.0.0.1:{port}"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == EXIT_FAILED
    assert err == [f"imgpipe: error: the Beam job server at 127.0.0.1:{port} is not reachable (Connection refused): "
                   f"start it with python -m apache_beam.runners.portability.local_job_service_main --port={port} "
                   "(docs/scaling.md), with this project's environment first on PATH, or fix the endpoint"]
    assert not os.path.exists(tmp_path / "out" / "metadata.sqlite")  # nothing recorded
    assert cli.main(["run", "--job-endpoint", "localhost:1"]) == EXIT_USAGE


def test_a_worker_pool_that_is_down_is_named_before_the_run(job_server, tmp_path, capsys):
    from pipeline import cli
    pool = f"127.0.0.1:{free_port()}"
    data = make_colour_folder(str(tmp_path / "data"), per_class=3)
    code = cli.main(["run", "--data", data, "--output", str(tmp_path / "out"), "--set", "data.min_images_per_class=1",
                     "--beam-runner", "portable", "--job-endpoint", job_server, "--worker-pool", pool])
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert code == EXIT_FAILED and line.startswith(f"imgpipe: error: the Beam worker pool at {pool} is not reachable")
    assert f"python -m apache_beam.runners.worker.worker_pool_main --service_port={pool.split(':')[1]}" in line


def test_a_worker_pool_failing_a_step_during_the_run_is_named_and_nothing_half_written_counts(job_server, tmp_path):
    """The runner without the CLI's pre-flight check, as when the pool dies after it: the job server takes the
    job, cannot start a worker, the first Beam step fails; the summary names the pool, the run exits 1, and
    ML Metadata records the step failed with no finished (LIVE) output a later run could take up."""
    from ml_metadata.proto import metadata_store_pb2
    from pipeline.local.cli import run_exit_code
    from pipeline.local.runner import run_local
    from schemas.config import build_config

    gone = f"127.0.0.1:{free_port()}"
    cfg = build_config(overrides=FAST)
    cfg.run.beam_args += runner_beam_args("portable", job_server, gone)
    assert endpoint_problem(cfg.run.beam_args).startswith(f"the Beam worker pool at {gone} is not reachable")
    output = str(tmp_path / "out")
    summary = run_local(cfg, make_colour_folder(str(tmp_path / "data")), output)
    assert summary.error == endpoint_problem(cfg.run.beam_args)
    states = {c.component: c.state for c in summary.components}
    assert states["ImageExampleGen"] == "failed" and "Trainer" not in states and summary.pushed_path == ""
    record = read_run_record(open_store(os.path.join(output, "metadata.sqlite")), "imgpipe", summary.run_id)
    assert all(a.state != metadata_store_pb2.Artifact.LIVE for a in record.outputs("ImageExampleGen"))
    assert run_exit_code(summary, fail_if_not_blessed=False) == EXIT_FAILED
