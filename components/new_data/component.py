"""NewDataCheck: the pipeline's first step when data.span_pattern is set, so an orchestrator skips the rest.

`imgpipe run` answers "is there new data?" before starting (components/new_data/check.py); a
scheduled Kubeflow run cannot: it is the compiled pipeline. This component asks the same question
inside it and records the answer on its output (`new_data` 1 or 0). create_pipeline wraps every other
component in `tfx.dsl.Cond` on that property: TFX compiles it to each task's trigger condition in the
KFP v2 spec, the KFP driver skips the tasks whose condition is false, and the run ends successfully
with nothing ingested, trained or pushed. LocalDagRunner evaluates the same condition.
"""

from typing import Optional, Union

from absl import logging
from tfx import v1 as tfx

from components.image_example_gen.spans import select_window
from components.new_data.check import NOTHING_TO_DO, newest_batch_key, nothing_new, served_spans
from components.new_data.judged import Judgement, record_pending, settings_token
from components.new_data.spec import ANY_SPAN, MESSAGE_PROPERTY, NEW_DATA_PROPERTY, NODE_ID
from schemas.config import Config


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
    settings: tfx.dsl.components.Parameter[str] = "",
) -> None:
    """Sets `new_data` on `report`: 0 when the newest span is one the served model was trained on, or one
    already judged against it with these `settings` (judged.settings_token) and not blessed.

    An explicit `span` (imgpipe run --span N) always trains. When the run goes on, the batch is recorded
    as being judged (judged.py); the Pusher records the verdict. `state_token` is unused here: on a
    cached local run it changes whenever the data or the served model does (pipeline/local/caching.py), so
    an old answer is reused only when it still holds. A data root with no batch folder fails here, with
    the same message ImageExampleGen would give.
    """
    folders = select_window(data_root, span_pattern, 1, None if span == ANY_SPAN else span)
    stop = "" if span != ANY_SPAN else nothing_new(folders, serving_model_dir, data_root, settings)
    if not stop and settings:
        record_pending(serving_model_dir, Judgement(folders[-1].span, newest_batch_key(data_root, folders, settings),
                                                    served_spans(serving_model_dir)[0]))
    report.set_int_custom_property(NEW_DATA_PROPERTY, 0 if stop else 1)
    report.set_string_custom_property(MESSAGE_PROPERTY, stop)
    logging.info("%s", f"{stop}: {NOTHING_TO_DO}; every other step is skipped." if stop
                 else f"New data: span {folders[-1].span} ({folders[-1].name}); the run goes on.")


def create_new_data_check(cfg: Config, data_root: Union[str, tfx.dsl.experimental.RuntimeParameter],
                          serving_model_dir: str, span: Optional[int] = None,
                          state_token: str = "") -> Optional[NewDataCheck]:
    """The check, with batch folders (`data.span_pattern`); None without them (the pipeline then has no Cond).

    It takes the whole config: a judged batch is judged with every setting that shapes the model or its
    verdict (judged.settings_token)."""
    if not cfg.data.span_pattern:
        return None
    return NewDataCheck(data_root=data_root, span_pattern=cfg.data.span_pattern, serving_model_dir=serving_model_dir,
                        span=ANY_SPAN if span is None else span, state_token=state_token,
                        settings=settings_token(cfg)).with_id(NODE_ID)


def only_with_new_data(check: Optional[NewDataCheck]):
    """The context every other node is created in: with batch folders, they run only when NewDataCheck found
    a span not yet trained on. TFX compiles the Cond into each KFP task's trigger condition."""
    import contextlib
    if check is None:
        return contextlib.nullcontext()
    return tfx.dsl.Cond(check.outputs["report"].future()[0].custom_property(NEW_DATA_PROPERTY) == 1)
