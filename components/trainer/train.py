"""Trainer module: `run_fn` for TFX's generic Trainer; its inputs and network, shared with the Tuner.

The Trainer reads the RAW examples and applies the Transform graph in its
tf.data pipeline (Transform runs with materialize=False): decoded float images
are ~50x larger than the encoded files, so rather than a materialised artifact,
each run decodes once into its own cache, in memory or, when they do not fit,
in a local file removed after training (input_cache.py).
"""
from __future__ import annotations

import dataclasses
import json
import logging as py_logging
import math
import os
import time
from typing import Dict, List, NamedTuple, Optional, Tuple

import tensorflow as tf
import tensorflow_transform as tft
import tf_keras as keras
from absl import logging
from tfx import v1 as tfx
from tfx_bsl.public import tfxio

from components.fs import write_json
from components.image_example_gen.manifest import labels_path, require_class_list
from components.image_example_gen.records import count_records
from components.trainer.augment import training_model
from components.trainer.backbones import build_network
from components.trainer.distribution import export_dir, input_is_sharded, make_strategy
from components.trainer.input_cache import InputCache, plan_cache
from components.trainer.record import training_record, write_training_record
from components.trainer.schedule import (batch_size, early_stopping, learning_rate, shuffle_buffer, stopping_facts,
                                          steps_per_execution, training_report)
from components.trainer.fine_tune import fine_tune_learning_rate, fine_tuning, phases
from components.trainer.serving import make_serving_signatures, save_served_model
from components.trainer.spec import (
    FACTS_BACKBONE,
    FACTS_BACKBONE_WEIGHTS,
    FACTS_CLASS_NAMES,
    FACTS_IMAGE_SIZE,
    FACTS_SERVING_LIMITS,
    FACTS_SPANS,
    FACTS_TRAINING,
    MODEL_FACTS_FILE,
    SETTINGS_KEY,
    TrainerSettings,
)
from components.trainer.tf_runtime import seed_and_determinism, skip_autograph_for_tf_keras
from components.trainer.warm_start import warm_start
from components.trainer.warmup import read_eval_examples, trained_model_probabilities, write_warmup
from components.tuner.space import tuned_values, with_hyperparameters
from schemas import carrier, features
from schemas.runtime import ONEDNN_ISA, PROGRESS_LOGGER

_DECODE_BATCH = 64  # raw examples decoded per Transform call
PROGRESS_LOG = py_logging.getLogger(PROGRESS_LOGGER)


def run_fn(fn_args: tfx.components.FnArgs) -> None:
    """Train the network and export a SavedModel with both serving signatures.

    With the Tuner upstream (tune.trials > 0), `fn_args.hyperparameters` holds the best trial's values:
    they replace the config's (components/tuner/space.py) and are kept in the training record."""
    skip_autograph_for_tf_keras()
    cfg = carrier.from_json(TrainerSettings, fn_args.custom_config[SETTINGS_KEY])
    tuned = tuned_values(fn_args.hyperparameters)
    cfg = with_hyperparameters(cfg, tuned)
    seed_and_determinism(cfg.train.seed, cfg.train.deterministic)
    inputs = training_inputs(fn_args, cfg)
    cfg = inputs.cfg

    strategy = make_strategy()
    with strategy.scope():
        compiled = compiled_network(inputs, fn_args.base_model, max_steps=fn_args.train_steps)
    logging.info("Training: %s", compiled.start)
    recorder = EpochRecorder(cfg.train.epochs)
    callbacks = _callbacks(cfg, fn_args.model_run_dir, fn_args.train_steps) + [recorder] + compiled.callbacks
    history = compiled.model.fit(  # EpochRecorder prints one line per epoch (--quiet silences it)
        inputs.train_ds, steps_per_epoch=inputs.steps_per_epoch, validation_data=inputs.validation_ds,
        epochs=cfg.train.epochs, callbacks=callbacks, verbose=0)
    inputs.cache.release()  # a disk cache's files: nothing reads the splits' datasets after fit()
    stopper = _find(callbacks, keras.callbacks.EarlyStopping)
    record = training_record(training_report(history.history, cfg.train, stopper, _find(callbacks, StopAfterSteps)),
                             recorder.epochs, recorder.seconds, stopping_facts(stopper), compiled.start, tuned)
    record["backbone"] = phases(cfg, record["kept_epoch"])
    record["input"] = inputs.cache.reason  # where the decoded images stayed between epochs (input_cache.py)
    record["onednn_max_cpu_isa"] = os.environ.get(ONEDNN_ISA, "")  # as oneDNN read it (schemas/runtime.py)
    logging.info("Training: %s", json.dumps(record))
    write_training_record(fn_args.model_run_dir, record)

    model = compiled.network  # the trained weights, without the training-only augmentation in front
    with strategy.scope():  # saved compiled for the integer labels TFMA's Evaluator feeds
        model.compile(optimizer=compiled.model.optimizer, loss=keras.losses.SparseCategoricalCrossentropy(),
                      metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")])
    signatures = make_serving_signatures(model, inputs.tft_output, labels_path(inputs.examples_uri), cfg.limits)
    export = export_dir(strategy, fn_args.serving_model_dir)
    save_served_model(model, export, signatures)
    # class_names and spans: what warm start and the "nothing new" check read (warm_start.py, components/new_data/check.py)
    write_json(os.path.join(export, MODEL_FACTS_FILE),
               {FACTS_IMAGE_SIZE: inputs.image_size, FACTS_TRAINING: record, FACTS_CLASS_NAMES: inputs.class_names,
                FACTS_BACKBONE: cfg.model.backbone, FACTS_BACKBONE_WEIGHTS: record["backbone"]["weights"],
                FACTS_SPANS: inputs.spans, FACTS_SERVING_LIMITS: dataclasses.asdict(cfg.limits)})
    _write_warmup(model, inputs.tft_output, fn_args.eval_files, export, cfg)


@dataclasses.dataclass
class TrainingInputs:
    """What the Trainer and each Tuner trial fit on: the train and validation splits through the Transform
    graph, and the facts sizing the network and the schedule. `cfg` has its batch size resolved.

    `train_ds` repeats: fit it with steps_per_epoch (one pass over the split is exactly that many batches).
    Keras makes a new iterator for each epoch of a finite data set, and on this stack that cost 2-3 s between
    about half the epochs (digits, 6,400 images at 28 px: 33 s of a 231 s Trainer; docs/performance.md)."""
    cfg: TrainerSettings
    tft_output: tft.TFTransformOutput
    image_size: int
    examples_uri: str
    class_names: List[str]
    spans: list
    train_images: int
    steps_per_epoch: int
    train_ds: tf.data.Dataset
    validation_ds: tf.data.Dataset
    cache: InputCache  # where the decoded images stay between epochs (input_cache.py); release() when done


def training_inputs(fn_args: tfx.components.FnArgs, cfg: TrainerSettings) -> TrainingInputs:
    """The train split (shuffled; augmented later, in the training step) and the validation split (fn_args.eval_files, EvalArgs): the
    epoch is chosen, and a Tuner trial scored, on validation, never on test."""
    tft_output = tft.TFTransformOutput(fn_args.transform_graph_path)  # the Tuner sets no transform_output alias
    image_size = graph_image_size(tft_output)
    examples_uri = _examples_uri(fn_args.train_files)
    manifest = require_class_list(examples_uri)
    num_classes = len(manifest["class_names"])
    cache = plan_cache(manifest["num_examples"], image_size, cfg.train)
    train_images = count_records(fn_args.train_files)
    cfg = resolved_for(cfg, train_images, image_size)
    datasets = [make_dataset(files, fn_args.data_accessor, tft_output, cfg, training=training, cache=where,
                             num_classes=num_classes)
                for files, training, where in ((fn_args.train_files, True, cache.train),
                                               (fn_args.eval_files, False, cache.validation))]
    train_ds, validation_ds = datasets
    if not input_is_sharded():  # Keras needs a known number of validation batches to run several per execution
        validation_ds = validation_ds.apply(tf.data.experimental.assert_cardinality(
            math.ceil(count_records(fn_args.eval_files) / cfg.train.batch_size)))
    return TrainingInputs(cfg, tft_output, image_size, examples_uri, manifest["class_names"],
                          manifest.get(FACTS_SPANS, []), train_images,
                          math.ceil(train_images / cfg.train.batch_size), train_ds.repeat(), validation_ds, cache)


def resolved_for(cfg: TrainerSettings, train_images: int, image_size: int) -> TrainerSettings:
    """`cfg` with the batch size and shuffle buffer the Trainer uses on a train split of this size
    (schedule.batch_size, schedule.shuffle_buffer): make_dataset needs both resolved."""
    return dataclasses.replace(cfg, train=dataclasses.replace(
        cfg.train, batch_size=batch_size(cfg.train, train_images),
        shuffle_buffer=shuffle_buffer(cfg.train, train_images, image_size)))


class CompiledNetwork(NamedTuple):
    """What compiled_network() returns. `model` is what to fit: `network` behind the training-only
    augmentation (augment.training_model), sharing its weights; `network` is what to export."""
    model: keras.Model
    network: keras.Model
    start: str                              # how it was started: warm or cold, and why
    callbacks: List[keras.callbacks.Callback]  # fine-tuning's (a pretrained backbone trains its head alone first)


def compiled_network(inputs: TrainingInputs, base_model: Optional[str] = None, max_steps: Optional[int] = None
                     ) -> CompiledNetwork:
    """The network `inputs.cfg` describes, warm-started when train.warm_start, behind the train-only
    augmentation, compiled with its schedule (train.steps_per_execution batches per call, fitted to the
    epoch and to the step cap `max_steps`). Call inside the distribution strategy's scope."""
    cfg = inputs.cfg
    network = build_network(cfg, inputs.image_size, len(inputs.class_names), train_images=inputs.train_images)
    start = (warm_start(network, base_model, inputs.class_names, inputs.image_size, cfg.model.backbone)
             if cfg.train.warm_start else "cold start (train.warm_start=false)")
    optimizer = keras.optimizers.Adam(
        fine_tune_learning_rate(learning_rate(cfg.train, inputs.steps_per_epoch), cfg, inputs.steps_per_epoch))
    tuning = fine_tuning(cfg, network, optimizer)
    model = training_model(network, cfg.augment)
    model.compile(optimizer=optimizer,
                  loss=keras.losses.CategoricalCrossentropy(label_smoothing=cfg.train.label_smoothing),
                  metrics=[keras.metrics.CategoricalAccuracy(name="accuracy")],
                  steps_per_execution=1 if input_is_sharded() else steps_per_execution(cfg.train, inputs.steps_per_epoch,
                                                                                       max_steps))
    create_training_variables(model)
    return CompiledNetwork(model, network, start, tuning)


def create_training_variables(model: keras.Model) -> None:
    """Create the optimizer's slots and the loss's running mean now, not in fit()'s first trace of the
    training step: variables born inside a trace make tf.function trace the whole step a second time, ~2-3 s
    of the first epoch on 2 cores (docs/performance.md#the-first-epoch-one-trace-of-the-training-step).
    Call after compile(), in the strategy's scope. Only the structure of the model's outputs is read."""
    model.optimizer.build(model.trainable_variables)  # a no-op when fine-tuning built it on every variable
    outputs = model.outputs[0] if len(model.outputs) == 1 else model.outputs
    model.compiled_loss.build(outputs)
    model.compiled_metrics.build(outputs, outputs)


def _write_warmup(model, tft_output: tft.TFTransformOutput, eval_files: List[str], export: str,
                  cfg: TrainerSettings) -> None:
    """Warmup requests from real eval images, and what the trained model answered (components/trainer/warmup.py)."""
    examples = read_eval_examples(eval_files, cfg.warmup_images)
    expected = trained_model_probabilities(
        model, tft_output.transform_features_layer(), tft_output.raw_feature_spec(), examples)
    logging.info("Warmup: %s", write_warmup(export, examples, cfg.model_name, expected))


def make_dataset(file_patterns: List[str], data_accessor, tft_output: tft.TFTransformOutput,
                 cfg: TrainerSettings, training: bool, cache: Optional[str], num_classes: int) -> tf.data.Dataset:
    """Raw tf.Examples -> (image, one-hot label) batches, through the Transform graph.

    `cache`: None, or the filename for Dataset.cache() ("" in memory; input_cache.plan_cache chooses).

    Labels are one-hot so one loss (CategoricalCrossentropy) serves with and
    without train.label_smoothing.

    Order: decode (parallel, batched) -> unbatch -> cache (memory or file) -> shuffle (train only) -> batch ->
    prefetch.
    Caching before shuffling keeps each epoch's order fresh. The training split's augmentation is not
    here: it runs in the training step (augment.training_model), so every epoch's draws are new too.
    """
    raw = raw_batches(file_patterns, data_accessor, tft_output)
    transform_layer = tft_output.transform_features_layer()

    def transform(raw_batch: Dict[str, tf.Tensor]) -> Tuple[tf.Tensor, tf.Tensor]:
        xf = transform_layer(raw_batch)
        return xf[features.IMAGE_XF_KEY], tf.one_hot(xf[features.LABEL_XF_KEY], num_classes)

    ds = raw.map(transform, num_parallel_calls=tf.data.AUTOTUNE).unbatch()
    if cache is not None:
        ds = ds.cache(cache)
    return batches(ds, cfg, training)


def raw_batches(file_patterns: List[str], data_accessor, tft_output: tft.TFTransformOutput) -> tf.data.Dataset:
    """The raw tf.Examples parsed by TFX's reader (TFXIO on the gzip TFRecords), in batches for the Transform."""
    return data_accessor.tf_dataset_factory(
        file_patterns,
        tfxio.TensorFlowDatasetOptions(batch_size=_DECODE_BATCH, shuffle=False, num_epochs=1),
        schema=tft_output.raw_metadata.schema)


def batches(ds: tf.data.Dataset, cfg: TrainerSettings, training: bool) -> tf.data.Dataset:
    """(image, label) pairs -> batches, shuffled when `training`, then prefetched."""
    if training:
        ds = ds.shuffle(_shuffle_buffer(ds, cfg), seed=cfg.train.seed, reshuffle_each_iteration=True)
    return ds.batch(cfg.train.batch_size).prefetch(tf.data.AUTOTUNE).with_options(without_autotune_model())


def without_autotune_model() -> tf.data.Options:
    """tf.data options with the autotuning model off (docs/performance.md#between-epochs).

    With it on, every iterator runs a model thread that re-optimises at a period growing to a minute, and
    deleting the iterator waits for that thread: when Keras dropped the train iterator at the end of fit()
    the Trainer sat 0-55 s doing nothing (and, we infer, each new iterator per epoch had cost the 2-3 s
    gaps seen between epochs before).
    Off, AUTOTUNE still means something: a parallel map runs on as many threads as the CPU has cores, and
    prefetch sizes its buffer with its own tuner, neither of which needs the model thread."""
    options = tf.data.Options()
    options.autotune.enabled = False
    return options


def _shuffle_buffer(ds: tf.data.Dataset, cfg: TrainerSettings) -> int:
    """train.shuffle_buffer as training_inputs() resolved it; the benches pass 0 with a data set of known size,
    resolved here by the same rule (schedule.shuffle_buffer)."""
    if cfg.train.shuffle_buffer > 0:
        return cfg.train.shuffle_buffer
    images, side = int(ds.cardinality()), ds.element_spec[0].shape[0]
    if images < 1 or side is None:
        raise ValueError("train.shuffle_buffer=0 needs a data set of known size and image side; resolve it with "
                         "schedule.shuffle_buffer() first")
    return shuffle_buffer(cfg.train, images, int(side))


class StopAfterSteps(keras.callbacks.Callback):
    """Stops training after `max_steps` batches in total, across epochs.

    TrainArgs.num_steps (fn_args.train_steps) is the `train_args` runtime parameter
    on Kubeflow: a scheduled run can cap training without recompiling. The cap
    never extends training beyond `train.epochs`; 0/None means no cap.
    With several batches per execution Keras calls on_train_batch_end once per
    execution with the index of its last batch in the epoch, so batches are
    counted from that index (compiled_network fits the execution to the cap).
    """

    def __init__(self, max_steps: int):
        super().__init__()
        self.max_steps, self.steps, self._before_epoch = max_steps, 0, 0

    def on_epoch_begin(self, epoch, logs=None):
        self._before_epoch = self.steps

    def on_train_batch_end(self, batch, logs=None):
        self.steps = self._before_epoch + batch + 1
        if self.steps >= self.max_steps:
            self.model.stop_training = True


class EpochRecorder(keras.callbacks.Callback):
    """Per-epoch metrics and wall time, kept for the run report and logged as progress lines.

    The lines go to the `imgpipe.progress` logger, which `imgpipe run` shows on the
    console (unless --quiet); Keras' own printing is off so --quiet means quiet.
    """

    def __init__(self, epochs: int):
        super().__init__()
        self.epochs, self.history, self.seconds, self._start = epochs, [], [], 0.0

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.monotonic()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(round(time.monotonic() - self._start, 3))
        self.history.append({k: float(v) for k, v in (logs or {}).items()})
        shown = ", ".join(f"{k} {v:.4f}" for k, v in self.history[-1].items())
        PROGRESS_LOG.info("Epoch %d/%d: %s (%.1f s)", epoch + 1, self.epochs, shown, self.seconds[-1])




def _callbacks(cfg: TrainerSettings, log_dir: str, max_steps: int | None = None) -> List[keras.callbacks.Callback]:
    callbacks: List[keras.callbacks.Callback] = [
        keras.callbacks.TensorBoard(log_dir=log_dir, update_freq="epoch", profile_batch=0)]
    if max_steps:
        callbacks.append(StopAfterSteps(max_steps))
    stopper = early_stopping(cfg.train)
    if stopper is not None:
        callbacks.append(stopper)
    return callbacks


def _find(callbacks: List[keras.callbacks.Callback], kind: type) -> Optional[keras.callbacks.Callback]:
    return next((c for c in callbacks if isinstance(c, kind)), None)


def graph_image_size(tft_output: tft.TFTransformOutput) -> int:
    """The side the Transform graph resizes to: data.image_size, or what `auto` chose for this data."""
    return int(tft_output.transformed_feature_spec()[features.IMAGE_XF_KEY].shape[0])


def _examples_uri(train_files: List[str]) -> str:
    """The Examples artifact's folder: the Trainer reads the raw Examples, so its split patterns look like
    `<examples uri>/Split-train/*`; ImageExampleGen's class list and manifest sit at `<examples uri>`."""
    return os.path.dirname(os.path.dirname(train_files[0]))
