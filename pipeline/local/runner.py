"""Run the pipeline locally: LocalDagRunner + Beam DirectRunner + SQLite MLMD."""
from __future__ import annotations

import contextlib
import os
from typing import Optional, TextIO

from tfx import v1 as tfx

from pipeline.beam_args import endpoint_problem, with_pickle_library, with_setup_file
from pipeline.local.caching import local_run_cache
from pipeline.layout import OutputLayout
from pipeline.pipeline import create_pipeline
from pipeline.local.progress import progress_lines
from pipeline.history.summary import RunSummary, read_run_summary
from schemas.config import Config


def run_local(cfg: Config, data_root: str, output_dir: str, progress: Optional[TextIO] = None,
              span: Optional[int] = None) -> RunSummary:
    """Run the whole pipeline; return the run's summary, with `error` set if a component failed.

    With `progress`, a line per component start and end (and epoch) is written there as the run goes.
    `span` picks that span of a data root of batches (data.span_pattern) instead of the newest.
    """
    layout = OutputLayout(os.path.abspath(output_dir))
    os.makedirs(layout.root, exist_ok=True)
    pipeline = create_pipeline(
        cfg,
        data_root=data_root,
        pipeline_root=layout.pipeline_root,
        serving_model_dir=layout.serving_model_dir(cfg.serving.model_name),
        metadata_connection_config=tfx.orchestration.metadata.sqlite_metadata_connection_config(
            layout.metadata_path),
        beam_pipeline_args=with_local_dependency_flag(cfg.run.beam_args),
        span=span,
        cache=(local_run_cache(data_root, cfg.data.golden_dir, layout.serving_model_dir(cfg.serving.model_name))
               if cfg.run.enable_cache else None))
    error = None
    try:
        with progress_lines(len(pipeline.components), progress) if progress else contextlib.nullcontext():
            tfx.orchestration.LocalDagRunner().run(pipeline)
    except Exception as e:  # a component failed; the summary says which and why
        error = e
    summary = read_run_summary(layout.metadata_path, cfg.run.pipeline_name)
    if error is not None:
        summary.error = endpoint_problem(cfg.run.beam_args) or root_cause_message(error)
    _add_report(summary, layout, cfg)
    return summary


def _add_report(summary: RunSummary, layout: OutputLayout, cfg: Config) -> None:
    """The run's HTML report, rendered once (also for a run a component stopped); a failure is noted, not raised."""
    from absl import logging
    from pipeline.history.report import publish_run_report
    if not summary.run_id:
        return
    try:
        summary.report_path = publish_run_report(layout.metadata_path, layout.pipeline_root,
                                                 cfg.run.pipeline_name, summary.run_id, cfg, summary.error)
    except Exception as e:  # the run's outcome stands; the log has the traceback
        logging.exception("The run report could not be written")
        summary.report_error = f"{type(e).__name__}: {e}"


_SETUP_PY = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "setup.py")


def with_local_dependency_flag(beam_args: list) -> list:
    """Our own setup.py as the Beam dependency (the DirectRunner stages nothing), and the pickle library."""
    return with_pickle_library(with_setup_file(beam_args, _SETUP_PY) if os.path.isfile(_SETUP_PY) else beam_args)


def root_cause_message(error: BaseException) -> str:
    """The message of our own component's exception, not the runner's wrapping of it.

    Walks the cause chain and prefers the outermost exception raised by this
    project's code (it names the file or value); otherwise the innermost one.
    """
    chain = []
    while error is not None and error not in chain:
        chain.append(error)
        error = error.__cause__ or error.__context__
    ours = [e for e in chain if type(e).__module__.split(".")[0] in ("components", "pipeline")]
    chosen = ours[0] if ours else chain[-1]
    return f"{type(chosen).__name__}: {chosen}"
