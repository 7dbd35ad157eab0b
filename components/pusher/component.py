"""AtomicPusher: TFX's Pusher with a publish TF Serving can never catch half-done.

Same inputs, outputs and PushedModel properties (`pushed`, `pushed_destination`,
`pushed_version`) as the stock Pusher, so the run summary and any tool reading
MLMD work unchanged. Only the copy differs (components/pusher/publish.py):
staging folder + rename, a sha256 manifest of the version's files written last
(signed with `serving.signing_key`, components/pusher/integrity.py), retention (`serving.keep_versions`), and a
`models.config` with version labels beside the versions. A candidate identical to
the newest served version is not pushed again (`already_served` names that version).
One input beside TFX's: `model_card`, whose files go into the version's `assets.extra/` before its manifest.
"""
from __future__ import annotations

import json
from typing import Any, Dict, List

from absl import logging
from tfx import types
from tfx import v1 as tfx
from tfx.components.pusher import executor as tfx_pusher_executor
from tfx.dsl.components.base import base_component, executor_spec
from tfx.proto import pusher_pb2
from tfx.types import artifact_utils, standard_artifacts, standard_component_specs
from tfx.types.component_spec import ChannelParameter
from tfx.utils import io_utils, json_utils, proto_utils

from components.new_data import judged as judged_batches
from components.pusher.already_served import newest_identical_version
from components.pusher.model_card import ModelCardFiles, card_files
from components.pusher.models_config import write_models_config
from components.pusher.publish import next_version, prune, publish
from components.pusher.spec import ALREADY_SERVED_PROPERTY, MODEL_CARD_KEY, NODE_ID, SETTINGS_KEY, PusherSettings
from schemas import carrier
from schemas.config import ServingConfig
from schemas.features import BLESSED_PROPERTY


class AtomicPushExecutor(tfx_pusher_executor.Executor):
    """Pushes to `push_destination.filesystem.base_directory` through publish.publish()."""

    def Do(self, input_dict: Dict[str, List[types.Artifact]], output_dict: Dict[str, List[types.Artifact]],
           exec_properties: Dict[str, Any]) -> None:
        self._log_startup(input_dict, output_dict, exec_properties)
        model_push = artifact_utils.get_single_instance(output_dict[standard_component_specs.PUSHED_MODEL_KEY])
        destination = pusher_pb2.PushDestination()
        proto_utils.json_to_proto(exec_properties[standard_component_specs.PUSH_DESTINATION_KEY], destination)
        model_dir = destination.filesystem.base_directory
        if not self.CheckBlessing(input_dict):
            self._MarkNotPushed(model_push)
            judged = judged_batches.confirm_pending(model_dir, _verdict(input_dict))
            logging.info("Not pushed; %s", f"batch recorded as judged: {judged}" if judged else "no batch pending")
            return
        judged_batches.clear(model_dir)  # what is served now (pushed or already served) answers for the batch
        custom = json.loads(exec_properties.get(standard_component_specs.CUSTOM_CONFIG_KEY) or "{}")
        settings = carrier.from_json(PusherSettings, custom[SETTINGS_KEY])

        model_path = self.GetModelPath(input_dict)
        served = newest_identical_version(model_path, model_dir)
        if served:
            logging.info("Not pushed: the candidate is already the served model %s", served)
            self._MarkNotPushed(model_push)
            model_push.set_string_custom_property(ALREADY_SERVED_PROPERTY, served)
            return
        version = next_version(model_dir)
        cards = input_dict.get(MODEL_CARD_KEY) or []
        serving_path = publish(model_path, model_dir, version, settings.signing_key,
                               added=card_files(cards[0].uri) if cards else None)
        pruned = prune(model_dir, settings.keep_versions)
        write_models_config(model_dir, settings.model_name)
        logging.info("Published %s; pruned versions %s", serving_path, pruned or "none")

        io_utils.copy_dir(model_path, model_push.uri)  # the stock Pusher's archive copy
        self._MarkPushed(model_push, pushed_destination=serving_path, pushed_version=str(version))


def _verdict(input_dict: Dict[str, List[types.Artifact]]) -> str:
    """Why the candidate was not pushed, in the words of the judged record."""
    blessings = input_dict.get(standard_component_specs.MODEL_BLESSING_KEY) or []
    if blessings and not blessings[0].get_int_custom_property(BLESSED_PROPERTY):
        return "not blessed"
    return "infra check failed"


class AtomicPusherSpec(standard_component_specs.PusherSpec):
    INPUTS = {**standard_component_specs.PusherSpec.INPUTS,
              MODEL_CARD_KEY: ChannelParameter(type=ModelCardFiles, optional=True)}


class AtomicPusher(tfx.components.Pusher):
    SPEC_CLASS = AtomicPusherSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(AtomicPushExecutor)

    def __init__(self, model, model_blessing, infra_blessing, push_destination, custom_config: Dict[str, Any],
                 model_card=None):  # pylint: disable=super-init-not-called: TFX's builds its own spec
        base_component.BaseComponent.__init__(self, spec=AtomicPusherSpec(
            model=model, model_blessing=model_blessing, infra_blessing=infra_blessing, model_card=model_card,
            push_destination=push_destination, custom_config=json_utils.dumps(custom_config),
            pushed_model=types.Channel(type=standard_artifacts.PushedModel)))


def create_pusher(serving: ServingConfig, serving_model_dir: str, model, model_blessing,
                  infra_blessing, model_card=None) -> AtomicPusher:
    """Pushes a model both the Evaluator and InfraCheck blessed to `<serving_model_dir>/<version>/`, with
    its model card (ModelCard's artifact) in `assets.extra/`."""
    return AtomicPusher(
        model=model, model_blessing=model_blessing, infra_blessing=infra_blessing, model_card=model_card,
        push_destination=tfx.proto.PushDestination(
            filesystem=tfx.proto.PushDestination.Filesystem(base_directory=serving_model_dir)),
        custom_config={SETTINGS_KEY: carrier.to_json(PusherSettings.from_serving_config(serving))},
    ).with_id(NODE_ID)
