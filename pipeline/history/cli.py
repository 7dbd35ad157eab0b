"""`imgpipe report` and `imgpipe runs`: what past local runs did, from ML Metadata."""
from __future__ import annotations

import os

from pipeline.cli_help import InputError, add_command, add_config_args, add_output_arg
from pipeline.exit_codes import EXIT_OK
from pipeline.layout import OutputLayout
from schemas.config import build_config


def add_history_commands(commands) -> None:
    """report and runs: what past local runs did (pipeline/history/report/, pipeline/history/runs.py)."""
    report = add_command(commands, "report", "find (or rebuild) the HTML report of a run and print its path", [
        "imgpipe report                              # the newest run in ./output",
        "imgpipe report runs/photos                  # the newest run in that output folder",
        "imgpipe report 2026-11-27T01:02:03.456789 --output runs/photos --rebuild"])
    report.add_argument("target", nargs="?", default="", metavar="RUN|OUTPUT_DIR",
                        help="a run id (see `imgpipe runs`) or an output folder (its newest run); "
                        "default: the newest run in --output")
    add_output_arg(report, "output folder of the runs")
    report.add_argument("--rebuild", action="store_true", help="write the report again even if it exists")
    add_config_args(report)
    report.set_defaults(func=cmd_report)
    runs = add_command(commands, "runs", "one line per past run: when, data, images, accuracy, verdict, "
                       "pushed version, duration, report", [
                           "imgpipe runs                                # the runs in ./output",
                           "imgpipe runs --output runs/photos"])
    add_output_arg(runs, "output folder of the runs")
    add_config_args(runs)
    runs.set_defaults(func=cmd_runs)


def cmd_report(args) -> int:
    from pipeline.history.report import report_path, write_run_report
    from pipeline.history.run_record import open_store, read_run_record
    cfg = build_config(args.config, args.overrides)
    is_dir = bool(args.target) and os.path.isdir(args.target)
    layout = OutputLayout(os.path.abspath(args.target if is_dir else args.output))
    run_id = "" if is_dir else args.target
    if not os.path.isfile(layout.metadata_path):
        raise InputError(f"no runs recorded in {layout.root} (no {os.path.basename(layout.metadata_path)}): "
                         "pass the --output folder of `imgpipe run`")
    record = read_run_record(open_store(layout.metadata_path), cfg.run.pipeline_name, run_id)
    if record is None:
        raise InputError(f"no run {run_id!r} of pipeline {cfg.run.pipeline_name!r} in {layout.root}; "
                         "`imgpipe runs --output DIR` lists the runs")
    path = report_path(layout.pipeline_root, record.run_id)
    if args.rebuild or not os.path.isfile(path):
        from pipeline.local.progress import native_stderr_to
        with native_stderr_to(os.devnull):
            path = write_run_report(layout.metadata_path, layout.pipeline_root, cfg.run.pipeline_name,
                                    record.run_id, cfg)
    print(f"Report: {path}")
    return EXIT_OK


def cmd_runs(args) -> int:
    from pipeline.history.runs import run_table
    cfg = build_config(args.config, args.overrides)
    lines = run_table(args.output, cfg.run.pipeline_name)
    print("\n".join(lines) if lines else f"No runs of pipeline '{cfg.run.pipeline_name}' recorded in "
          f"{os.path.abspath(args.output)}")
    return EXIT_OK
