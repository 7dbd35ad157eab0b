"""NewDataCheck: the pipeline's first step when data.span_pattern is set, so an orchestrator skips the rest.

`imgpipe run` answers "is there new data?" before starting (components/new_data/check.py); a
scheduled Kubeflow run cannot: it is the compiled pipeline. This component asks the same question
inside it and records the answer on its output (`new_data` 1 or 0). create_pipeline wraps every other
component in `tfx.dsl.Cond` on that property: TFX compiles it to each task's trigger condition in the
KFP v2 spec, the KFP driver skips the tasks whose condition is false, and the run ends successfully
with nothing ingested, trained or pushed. LocalDagRunner evaluates the same condition.
"""

from absl import logging
from tfx import v1 as tfx

from components.image_example_gen.spans import select_window
from components.new_data.check import NOTHING_TO_DO, nothing_new
from schemas import features

NEW_DATA_PROPERTY = "new_data"   # 1: train; 0: the newest span is one the served model was trained on
ANY_SPAN = -1                    # `span` parameter: the newest (a number: that span, always trained on)


class NewDataReport(tfx.dsl.Artifact):
    """The answer of NewDataCheck: `new_data` and, when 0, the stop message."""
    TYPE_NAME = "imgpipe.NewDataReport"  # KFP v2 compile needs `<namespace>.<TypeName>` for custom types


@tfx.dsl.components.component
def NewDataCheck(
    data_root: tfx.dsl.components.Parameter[str],
    span_pattern: tfx.dsl.components.Parameter[str],
    serving_model_dir: tfx.dsl.components.Parameter[str],
    report: tfx.dsl.components.OutputArtifact[NewDataReport],
    span: tfx.dsl.components.Parameter[int] = ANY_SPAN,
    state_token: tfx.dsl.components.Parameter[str] = "",
) -> None:
    """Sets `new_data` on `report`: 0 when the newest span is one the served model was trained on.

    An explicit `span` (imgpipe run --span N) always trains. `state_token` is unused here: on a cached
    local run it changes whenever the data or the served model does (pipeline/local/caching.py), so an old
    answer is reused only when it still holds. A data root with
    no batch folder fails here, with the same message ImageExampleGen would give.
    """
    folders = select_window(data_root, span_pattern, 1, None if span == ANY_SPAN else span)
    stop = "" if span != ANY_SPAN else nothing_new(folders, serving_model_dir)
    report.set_int_custom_property(NEW_DATA_PROPERTY, 0 if stop else 1)
    report.set_string_custom_property(features.NOTHING_NEW_PROPERTY, stop)
    logging.info("%s", f"{stop}: {NOTHING_TO_DO}; every other step is skipped." if stop
                 else f"New data: span {folders[-1].span} ({folders[-1].name}); the run goes on.")
