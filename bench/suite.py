"""`make bench`: the benchmark suite. One table; every row names its yardstick and a ratio measured
side by side in this same process (timings on a shared machine are noisy, ratios less so).

    python -m bench.suite                      # everything, ~17 minutes on 2 cores
    python -m bench.suite --images-per-class 200 --work /tmp/bench
    python -m bench.suite --parts evaluator,flops   # a subset (PARTS below); the pipeline run only if needed

What it does, in order (docs/performance.md explains each yardstick):
  1. draws N shape images per class as 160 px JPEG files and runs the real pipeline on them
     (LocalDagRunner, in-memory DirectRunner, 64 px, a few epochs), then again unchanged (cached):
     the TFRecords, schema and model the other parts measure on, and the components' wall times;
  2. input pipeline at 64 and 128 px: the Trainer's own tf.data (TFRecords -> Transform layer -> shuffle
     -> batches; the augmentation runs in the training step), uncached, cached in a file (a split above
     train.cache_max_mb) and cached in memory, vs the seed's tf.data
     on the same JPEG files (decode, resize and its augmentation), vs TF's JPEG decoder alone on the same
     bytes; and vs what the default preset's training step (network + augmentation) consumes;
  3. training: the `default` vs `seed` preset, images/s at 32, 64 and 128 px, and test accuracy on
     scikit-learn's digits after the same number of epochs;
  4. Evaluator: the pipeline's own Evaluator executor (TFMA, with and without a baseline model) vs a
     plain batched predict of the same SavedModel over the same test split;
  5. the serving guard (bench/bench_serving_guard.py): issue 25's PNG bomb sent twice to serving_bytes,
     guarded vs an export without limits (given the 8000x8000 bomb: the 16000x16000 one takes ~8.5 GB);
  6. end to end at scale (bench/bench_scale.py): `imgpipe run` on 1,000 and 10,000 generated 32 px images,
     per component fixed and marginal cost vs TF's decoder alone, peak memory, and the multi-process
     DirectRunner at 10,000 (--scale-sizes / --scale-mp-sizes change the sizes); the fixed cost of a
     whole run against `python -c "import tfx.v1"` timed in a fresh process here;
  7. training's achieved FLOP/s (forward FLOPs per image x 3 x images/s) against a large float32 matmul
     (bench/machine.py), per image size.
Not a test: it prints figures and asserts nothing.
"""
from __future__ import annotations

import argparse
import glob
import os
import statistics
import sys
import tempfile
import time
from typing import Callable, Dict, List, NamedTuple, Tuple

import components  # noqa: F401  (sets Keras 2 before TensorFlow is imported)
from schemas.config import ModelConfig
from schemas.runtime import lift_onednn_cap

# The oneDNN kernels `imgpipe run` picks for the default network (both presets compared are as safe),
# decided before TensorFlow loads as there (schemas/runtime.py); printed in the table's header.
ONEDNN = lift_onednn_cap(ModelConfig())

import numpy as np  # noqa: E402
import tensorflow as tf

from bench import bench_presets, machine, seed_input

from components.data_validation import spec as data_validation
from components.evaluator import spec as evaluator_spec
from components.image_example_gen import spec as example_gen
from components.trainer import spec as trainer
from schemas import features
from schemas.config import build_config

ROUNDS = 3
PARTS = ("rerun", "train", "input", "determinism", "evaluator", "guard", "scale", "flops")
NEEDS_PIPELINE = {"rerun", "input", "evaluator"}


class Table:
    """The suite's one table: each row is ours vs a yardstick measured in the same run, and their ratio."""

    def __init__(self):
        self.rows: List[Tuple[str, ...]] = []

    def row(self, area: str, ours: str, ours_value: float, yardstick: str, yard_value: float, goal: str,
            note: str = "", unit: str = "images/s") -> None:
        fmt = (lambda v: f"{v:,.0f} {unit}") if unit.startswith("images") else (lambda v: f"{v:.2f} {unit}".rstrip())
        self.rows.append((area, f"{ours}: {fmt(ours_value)}", f"{yardstick}: {fmt(yard_value)}",
                          f"{ours_value / yard_value:.2f}x", goal, note))

    def print(self) -> None:
        header = ("area", "ours", "yardstick", "ratio", "goal", "note")
        widths = [max(len(r[i]) for r in self.rows + [header]) for i in range(len(header))]
        for r in [header, tuple("-" * w for w in widths)] + self.rows:
            print(" | ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", default="", help="scratch folder (default: a fresh temporary one)")
    parser.add_argument("--images-per-class", type=int, default=200, help="3 classes of 160 px JPEGs")
    parser.add_argument("--pipeline-epochs", type=int, default=3)
    parser.add_argument("--train-sizes", default="32,64,128", help="input sizes for training throughput")
    parser.add_argument("--accuracy-epochs", type=int, default=10, help="epochs of each preset on digits")
    parser.add_argument("--scale-sizes", default="1000,10000", help="end to end at scale: image counts, in memory")
    parser.add_argument("--scale-mp-sizes", default="10000", help="... and also with the multi-process DirectRunner")
    parser.add_argument("--scale-side", type=int, default=32,
                        help="px of the scale part's generated JPEGs (issue 22 sets goals at 32 and 256)")
    parser.add_argument("--parts", default=",".join(PARTS), help=f"comma-separated subset of {', '.join(PARTS)}")
    args = parser.parse_args()
    args.parts = {p.strip() for p in args.parts.split(",") if p.strip()}
    if args.parts - set(PARTS):
        parser.error(f"--parts: unknown {', '.join(sorted(args.parts - set(PARTS)))}; choose from {', '.join(PARTS)}")
    return args


def timed(fn: Callable[[], int]) -> float:
    """Items per second of `fn`, which returns how many items it processed."""
    return timed_with_cpu(fn)[0]


def timed_with_cpu(fn: Callable[[], int]) -> Tuple[float, float]:
    """(items per second, items per CPU-second) of `fn`; CPU time is the process's, every thread: what a
    pipeline costs, not how well it spreads over the cores."""
    wall, cpu = time.perf_counter(), time.process_time()
    count = fn()
    return count / (time.perf_counter() - wall), count / (time.process_time() - cpu)


def drain(dataset: tf.data.Dataset, epochs: int = 1) -> Callable[[], int]:
    """Iterates the dataset `epochs` times; returns the images seen (first element of each batch)."""
    def run() -> int:
        return sum(int(tf.shape(batch[0] if isinstance(batch, tuple) else batch)[0])
                   for _ in range(epochs) for batch in dataset)
    return run


# --------------------------------------------------------------------------- 1. data and one pipeline run

def write_jpeg_folder(root: str, per_class: int, size: int = 160) -> str:
    """The demo's shapes (pipeline/local/demo_data.py), all as JPEG: the seed's pipeline reads JPEG only."""
    from pipeline.local.demo_data import DEMO_CLASSES, draw_shape_image
    if os.path.isdir(root):
        return root
    for class_index, name in enumerate(DEMO_CLASSES):
        os.makedirs(os.path.join(root, name))
        for i in range(per_class):
            image = draw_shape_image(name, size, np.random.default_rng([7, class_index, i]))
            image.save(os.path.join(root, name, f"{name}_{i:04d}.jpg"), format="JPEG", quality=90)
    return root


def run_pipeline(data: str, output: str, epochs: int):
    """The real pipeline at 64 px with caching on (the default), then the same run again, unchanged.

    Returns the first run's record (its artifacts and wall times) and both runs' wall-clock seconds.
    """
    from pipeline.local.runner import run_local
    from pipeline.history.run_record import list_run_ids, open_store, read_run_record
    cfg = build_config(overrides=["data.image_size=64", f"train.epochs={epochs}", "eval.min_accuracy=0"])
    seconds = []
    for _ in range(2):
        start = time.perf_counter()
        summary = run_local(cfg, data, output)
        seconds.append(time.perf_counter() - start)
        if summary.error:
            sys.exit(f"the bench's pipeline run failed: {summary.error}")
    store = open_store(os.path.join(output, "metadata.sqlite"))
    first = read_run_record(store, cfg.run.pipeline_name, list_run_ids(store, cfg.run.pipeline_name)[0])
    return first, seconds, cfg, summary


def split_files(examples_uri: str, split: str) -> List[str]:
    return sorted(glob.glob(os.path.join(examples_uri, f"Split-{split}", "*.gz")))


def read_split(examples_uri: str, split: str) -> List[tf.train.Example]:
    dataset = tf.data.TFRecordDataset(split_files(examples_uri, split), compression_type="GZIP")
    return [tf.train.Example.FromString(r.numpy()) for r in dataset]


def feature(example: tf.train.Example, key: str):
    values = example.features.feature[key]
    return values.bytes_list.value[0] if values.bytes_list.value else values.int64_list.value[0]


# --------------------------------------------------------------------------- 2. input pipeline

def write_transform_graph(examples_uri: str, schema, image_size: int, out_dir: str) -> str:
    """Our preprocessing_fn at `image_size` through real tf.Transform, as ImageTransform would build it."""
    import functools
    import apache_beam as beam
    import tensorflow_transform as tft
    import tensorflow_transform.beam as tft_beam
    from tensorflow_transform.tf_metadata import dataset_metadata, metadata_io
    from tfx.components.util import tfxio_utils
    from tfx.proto import example_gen_pb2
    from components.transform.preprocessing import IMAGE_SIZE_KEY, preprocessing_fn

    tfxio = tfxio_utils.make_tfxio(file_pattern=split_files(examples_uri, features.TEST_SPLIT),
                                   telemetry_descriptors=["bench"], schema=schema,
                                   payload_format=example_gen_pb2.PayloadFormat.FORMAT_TF_EXAMPLE)
    fn = functools.partial(preprocessing_fn, custom_config={IMAGE_SIZE_KEY: image_size})
    with beam.Pipeline(argv=["--direct_running_mode=in_memory"]) as p, \
            tft_beam.Context(temp_dir=tempfile.mkdtemp(dir=out_dir), force_tf_compat_v1=False):
        transform_fn = (p | tfxio.BeamSource(), tfxio.TensorAdapterConfig()) | tft_beam.AnalyzeDataset(fn)
        _ = transform_fn | tft_beam.WriteTransformFn(os.path.join(out_dir, f"transform_{image_size}"))
    graph_dir = os.path.join(out_dir, f"transform_{image_size}")
    metadata_io.write_metadata(dataset_metadata.DatasetMetadata(schema),  # the raw schema, as Transform writes it
                               os.path.join(graph_dir, tft.TFTransformOutput.RAW_METADATA_DIR))
    return graph_dir


def trainer_dataset(examples_uri: str, transform_dir: str, cfg, cache, parse_only: bool = False) -> tf.data.Dataset:
    """The Trainer's own training input (components/trainer/train.py make_dataset) on the train split;
    `cache` as make_dataset takes it: None, "" (memory) or a file name (components/trainer/input_cache.py).
    `parse_only`: only its first stage, TFX's reader (train.raw_batches), no Transform graph."""
    import tensorflow_transform as tft
    from tfx.components.trainer.fn_args_utils import DataAccessor
    from tfx.components.util import tfxio_utils
    from tfx.types import standard_artifacts
    from components.image_example_gen.records import count_records
    from components.trainer.train import graph_image_size, make_dataset, raw_batches, resolved_for

    examples = standard_artifacts.Examples()
    examples.uri = examples_uri
    accessor = DataAccessor(tfxio_utils.get_tf_dataset_factory_from_artifact([examples], ["bench"]), None, None)
    tft_output = tft.TFTransformOutput(transform_dir)
    files = [os.path.join(examples_uri, f"Split-{features.TRAIN_SPLIT}", "*")]
    if parse_only:
        return raw_batches(files, accessor, tft_output).map(lambda raw: raw[features.IMAGE_KEY])
    cfg = resolved_for(cfg, count_records(files), graph_image_size(tft_output))  # as the Trainer resolves it
    return make_dataset(files, accessor, tft_output, cfg, training=True, cache=cache, num_classes=3)


def input_pipeline(table: Table, examples_uri: str, data: str, schema, cfg, work: str) -> None:
    """Images/s and images per CPU-second of each input pipeline (and of TFX's reader alone), measured round
    by round in turn; the median of each is reported. Then what the default preset's training step consumes at that size, augmentation included (it runs in
    the step since 2026-12-07, not in the input pipeline)."""
    train = read_split(examples_uri, features.TRAIN_SPLIT)
    paths = [os.path.join(data, feature(e, features.PATH_KEY).decode()) for e in train]
    labels = [int(feature(e, features.LABEL_KEY)) for e in train]
    encoded = [feature(e, features.IMAGE_KEY) for e in train]
    for size in (64, 128):
        transform_dir = write_transform_graph(examples_uri, schema, size, work)
        cached = trainer_dataset(examples_uri, transform_dir, cfg, cache="")
        on_disk = trainer_dataset(examples_uri, transform_dir, cfg, cache=os.path.join(work, f"input_cache_{size}"))
        contenders = {
            "ours": drain(trainer_dataset(examples_uri, transform_dir, cfg, cache=None)),
            "ours_cached": drain(cached),
            "ours_disk": drain(on_disk),
            "seed": drain(seed_input.seed_dataset(paths, labels, size)),
            "decode": drain(seed_input.decode_limit_dataset(encoded)),
            "parse": drain(trainer_dataset(examples_uri, transform_dir, cfg, None, parse_only=True)),
        }
        drain(cached)()  # fills the caches: the cached rates are every epoch after the first
        drain(on_disk)()
        rates: Dict[str, List[float]] = {k: [] for k in contenders}
        cpu_rates: Dict[str, List[float]] = {k: [] for k in contenders}
        for _ in range(ROUNDS):
            for name, run in contenders.items():
                wall_rate, cpu_rate = timed_with_cpu(run)
                rates[name].append(wall_rate)
                cpu_rates[name].append(cpu_rate)
        med = {k: statistics.median(v) for k, v in rates.items()}
        cpu = {k: statistics.median(v) for k, v in cpu_rates.items()}
        n = f"{len(train)} images"
        table.row(f"input {size}px", "Trainer tf.data, uncached (decode+Transform)", med["ours"],
                  "seed tf.data, JPEG files (decode+resize+augment)", med["seed"], ">= 2x", n)
        table.row(f"input {size}px", "Trainer tf.data, uncached", med["ours"],
                  "decode_jpeg alone, same bytes", med["decode"], ">= 0.6x", n)
        table.row(f"input {size}px", "Trainer tf.data, uncached", cpu["ours"],
                  "decode_jpeg alone, same bytes", cpu["decode"], "(profile)",
                  f"the best ratio any schedule on any cores reaches; TFX's reader alone: {cpu['parse']:,.0f}/CPU-s, "
                  f"so with a free resize {cpu['parse'] / (cpu['parse'] + cpu['decode']):.2f}x", unit="images/CPU-s")
        table.row(f"input {size}px", "Trainer tf.data, cached epochs (shuffle)", med["ours_cached"],
                  "seed tf.data, JPEG files", med["seed"], ">= 3x", n)
        table.row(f"input {size}px", "Trainer tf.data, disk-cached epochs (split > cache_max_mb)", med["ours_disk"],
                  "decode_jpeg alone, same bytes", med["decode"], ">= 0.6x", n)
        table.row(f"input {size}px", "Trainer tf.data, disk-cached epochs", med["ours_disk"],
                  "seed tf.data, JPEG files", med["seed"], ">= 2x", n)
        consumes = statistics.median(bench_presets.trainer_throughput(["default"], size, ROUNDS, cfg.augment)["default"])
        for kind, key in (("uncached", "ours"), ("disk-cached epochs", "ours_disk"), ("cached epochs", "ours_cached")):
            table.row(f"input {size}px", f"Trainer tf.data, {kind}", med[key],
                      "default preset's training step consumes (network + augmentation)", consumes, ">= 3x", "")


# --------------------------------------------------------------------------- 3. training

def training(table: Table, sizes: List[int], accuracy_epochs: int) -> Dict[int, float]:
    """default vs seed preset: images/s per size (alternating rounds), and digits accuracy at equal epochs."""
    default_rates = {}
    for size in sizes:
        rates = bench_presets.trainer_throughput(["seed", "default"], size, ROUNDS)
        paired = statistics.median(d / s for d, s in zip(rates["default"], rates["seed"]))
        default_rates[size] = statistics.median(rates["default"])
        table.row(f"train {size}px", "default preset, images/s", default_rates[size],
                  "seed preset", statistics.median(rates["seed"]), ">= 3x",
                  f"median per-round ratio {paired:.2f}x; {bench_presets.TRAIN.steps_per_execution} batches per call, "
                  "as the Trainer")
    accuracy = {p: digits_accuracy(p, 32, accuracy_epochs) for p in ("seed", "default")}
    table.row("train 32px", f"default preset, digits test accuracy after {accuracy_epochs} epochs",
              accuracy["default"], "seed preset, same epochs", accuracy["seed"], ">= 1x", "", unit="")
    return default_rates


def determinism(table: Table) -> None:
    """train.deterministic=true vs false: training images/s in fresh processes, alternating (bench_determinism)."""
    from bench import bench_determinism
    m = bench_determinism.measure(rounds=2)
    table.row(f"determinism {bench_determinism.SIZE}px", "train.deterministic=true, training images/s",
              m["rate_deterministic"], "false (the default)", m["rate_default"], "(its cost)",
              f"distinct weight digests over {m['rounds']} runs: true {m['digests_deterministic']}, "
              f"false {m['digests_default']}")


def flops(table: Table, sizes: List[int], training_rates: Dict[int, float]) -> None:
    """Training's achieved FLOP/s (forward FLOPs per image x 3 for forward + backward, x images/s) vs a
    large float32 matmul's; the train part's images/s when it ran, else measured here the same way."""
    peak = machine.matmul_flops_per_second()
    train_cfg = bench_presets.TRAIN
    for size in sizes:
        model = bench_presets.compiled_model(bench_presets.model_config("default"), size, 10, train_cfg.learning_rate)
        rate = training_rates.get(size) or statistics.median(
            bench_presets.trainer_throughput(["default"], size, ROUNDS)["default"])
        per_image = machine.forward_flops_per_image(model, size)
        table.row(f"flops {size}px", "default preset training, achieved", 3 * per_image * rate / 1e9,
                  f"float32 matmul {machine.MATMUL_SIDE}^2", peak / 1e9, "(measured; 1x = the CPU's peak)",
                  f"{per_image / 1e6:.1f} MFLOPs/image forward x 3 x {rate:,.0f} images/s", unit="GFLOP/s")


def digits_accuracy(preset: str, size: int, epochs: int) -> float:
    import tf_keras as keras
    seed = bench_presets.TRAIN.seed
    keras.utils.set_random_seed(seed)
    x_train, x_test, y_train, y_test = bench_presets.digits_split(size, seed)
    model = bench_presets.compiled_model(bench_presets.model_config(preset), size, 10,
                                         bench_presets.TRAIN.learning_rate)
    model.fit(x_train, y_train, batch_size=bench_presets.TRAIN.batch_size, epochs=epochs, verbose=0)
    return float(model.evaluate(x_test, y_test, verbose=0)[1])


# --------------------------------------------------------------------------- 4. Evaluator

class EvaluatorInputs(NamedTuple):
    """What the Evaluator executor judged in a pipeline run, and its test split, for running it again."""
    examples: object        # the Examples artifact
    model: object           # the Trainer's Model artifact
    properties: dict        # the Evaluator's exec properties as the run recorded them
    serialized: List[bytes]  # the test split's tf.Examples
    labels: np.ndarray
    model_dir: str          # the SavedModel


def evaluator_inputs(record) -> EvaluatorInputs:
    from tfx.types import standard_artifacts
    from pipeline.history.run_record import artifact_property

    examples_proto = record.outputs(example_gen.NODE_ID, "Examples")[0]
    examples = standard_artifacts.Examples()
    examples.uri, examples.split_names = examples_proto.uri, artifact_property(examples_proto, "split_names")
    model = standard_artifacts.Model()
    model.uri = record.outputs(trainer.NODE_ID, "Model")[0].uri
    test = read_split(examples.uri, features.TEST_SPLIT)
    return EvaluatorInputs(examples, model, record.node(evaluator_spec.NODE_ID).properties,
                           [e.SerializeToString() for e in test],
                           np.array([feature(e, features.LABEL_KEY) for e in test]),
                           os.path.join(model.uri, "Format-Serving"))


def evaluator(table: Table, record, work: str) -> None:
    """The pipeline's own Evaluator executor on its own test split, vs a plain batched predict of the same
    SavedModel; with and without a baseline model, so the table also says where TFMA's time goes."""
    examples, model, properties, serialized, labels, model_dir = evaluator_inputs(record)
    seconds: Dict[str, List[float]] = {"plain": [], "plain_both": [], "load": [], "tfma": [], "tfma_baseline": [],
                                       "reused": []}
    run_evaluator(examples, model, None, properties, os.path.join(work, "eval_reuse"), run="0")  # judged once
    for i in range(2):
        seconds["reused"].append(1 / timed(lambda: run_evaluator(examples, model, model, properties,
                                                                 os.path.join(work, "eval_reuse"), run=str(i + 1))))
        seconds["load"].append(1 / timed(lambda: (tf.saved_model.load(model_dir), 1)[1]))
        seconds["plain"].append(1 / timed(lambda: plain_predict(model_dir, serialized, labels)))
        # with a baseline the Evaluator judges two models (here the same files twice, as two model specs):
        # the yardstick is a plain predict of both, each loaded, as issue 22 words it ("the same models")
        seconds["plain_both"].append(1 / timed(lambda: plain_predict_models([model_dir] * 2, serialized, labels)))
        for name, baseline in (("tfma", None), ("tfma_baseline", model)):
            out = os.path.join(work, f"eval_{name}_{i}")
            seconds[name].append(1 / timed(lambda: run_evaluator(examples, model, baseline, properties, out)))
    med = {k: statistics.median(v) for k, v in seconds.items()}
    n = f"{len(serialized)} test images"
    pipeline_eval = record.node(evaluator_spec.NODE_ID).seconds
    table.row("evaluator", "Evaluator executor (TFMA), with baseline", med["tfma_baseline"],
              "plain batched predict of both models (incl. both loads)", med["plain_both"], "<= 2x",
              f"{n}; {med['tfma_baseline'] / med['plain']:.2f}x a predict of one model", unit="s")
    table.row("evaluator", "Evaluator executor (TFMA), no baseline", med["tfma"],
              "plain batched predict (incl. model load)", med["plain"], "<= 2x", n, unit="s")
    table.row("evaluator", "Evaluator in the pipeline run (first run: no baseline)", pipeline_eval,
              "plain batched predict (incl. model load)", med["plain"], "<= 2x", "MLMD wall time", unit="s")
    table.row("evaluator", "Evaluator executor, candidate = served, judged before", med["reused"],
              "plain batched predict (incl. model load)", med["plain"], "<= 2x", "verdict reused, TFMA not run", unit="s")
    table.row("evaluator", "SavedModel load alone", med["load"], "plain batched predict (incl. model load)",
              med["plain"], "(profile)", "profile", unit="s")


def plain_predict(model_dir: str, serialized: List[bytes], labels: np.ndarray, batch: int = 64) -> int:
    """Load, predict the test split through `serving_default` in batches, and score it: what the
    Evaluator does at its core, without Beam or TFMA."""
    signature = tf.saved_model.load(model_dir).signatures[features.EXAMPLES_SIGNATURE]
    predicted = np.concatenate([
        signature(**{features.EXAMPLES_INPUT: tf.constant(serialized[i:i + batch])})[
            features.PROBABILITIES_OUTPUT].numpy().argmax(axis=1)
        for i in range(0, len(serialized), batch)])
    assert predicted.shape == labels.shape and 0 <= float((predicted == labels).mean()) <= 1
    return 1


def plain_predict_models(model_dirs: List[str], serialized: List[bytes], labels: np.ndarray) -> int:
    """plain_predict of each model in turn, each loaded: the yardstick for judging several models."""
    for model_dir in model_dirs:
        plain_predict(model_dir, serialized, labels)
    return 1


def run_evaluator(examples, model, baseline, properties: dict, out: str, run: str = "") -> int:
    """components/evaluator's executor, in process, with the exec properties the pipeline run recorded;
    with `run`, its outputs go to <out>/evaluation/<run> as a local pipeline's runs do (so it may reuse)."""
    import apache_beam as beam
    from tfx.types import standard_artifacts
    from components.evaluator.executor import Executor

    evaluation, blessing = standard_artifacts.ModelEvaluation(), standard_artifacts.ModelBlessing()
    evaluation.uri, blessing.uri = (os.path.join(out, kind, run).rstrip(os.sep) for kind in ("evaluation", "blessing"))
    inputs = {"examples": [examples], "model": [model]}
    if baseline is not None:
        inputs["baseline_model"] = [baseline]
    from pipeline.beam_args import with_pickle_library
    beam_args = with_pickle_library(["--direct_running_mode=in_memory"])  # as the local runner gives them
    context = Executor.Context(make_beam_pipeline_fn=lambda: beam.Pipeline(argv=beam_args),
                               tmp_dir=os.path.join(out, "tmp"))
    Executor(context).Do(inputs, {"evaluation": [evaluation], "blessing": [blessing]}, dict(properties))
    return 1


# --------------------------------------------------------------------------- 5. end to end at scale

def goal_text(goal) -> str:
    return "(measured)" if goal is None else f"<= {goal:g}x"


def scale(table: Table, sizes: str, mp_sizes: str, work: str, side: int = 32) -> str:
    """bench_scale: `imgpipe run` on generated folders of each size; rows for the goals, its report returned."""
    from bench import bench_scale
    to_ints = lambda s: [int(x) for x in s.split(",") if x.strip()]  # noqa: E731
    result = bench_scale.measure(to_ints(sizes), to_ints(mp_sizes), os.path.join(work, "scale"), side=side)
    decode, largest = result.decode_per_1000, result.runs[-1]
    span = f"fit over {', '.join(f'{r.images:,}' for r in result.runs)} images of {side} px"
    for node in largest.seconds:
        _, marginal = result.fixed_and_marginal(node)
        if node in bench_scale.READS_IMAGES:
            table.row("scale", f"{node}, marginal cost per 1k images", marginal, "decode alone, same images",
                      decode, goal_text(bench_scale.per_image_goal(node, side)), span, unit="s")
    fixed, _ = bench_scale.fit([r.images for r in result.runs], [r.wall_seconds for r in result.runs])
    imports = machine.import_tfx_seconds()
    table.row("scale", "fixed cost of a whole run (intercept)", fixed, 'python -c "import tfx.v1", fresh process',
              statistics.median(imports), "<= 3x", f"{span}; import median of {len(imports)}", unit="s")
    for count, multi in sorted(result.multi.items()):
        memory = next((r for r in result.runs if r.images == count), None)
        if memory is not None:
            table.row("scale", f"multi_processing (2 workers), whole run, {count:,} images", multi.wall_seconds,
                      "in_memory", memory.wall_seconds, "(measured)", "ratio > 1x: slower", unit="s")
    return bench_scale.report(result)


# --------------------------------------------------------------------------- main

def serving_guard(table: Table, work: str) -> None:
    """The PNG bomb twice in one serving_bytes request: refused by the guard vs decoded without it."""
    from bench import bench_serving_guard
    rows = {(r["model"], r["side"]): r for r in bench_serving_guard.run(os.path.join(work, "guard"))}
    guarded, unguarded = rows[("guarded", 16000)], rows[("unguarded", 8000)]
    table.row("serving guard", "16000x16000 PNG x2, refused", guarded["seconds"], "no guard, 8000x8000 PNG x2",
              unguarded["seconds"], "< 1 s, < 200 MB", f"peak RSS growth {guarded['rss_growth_mb']:.0f} MB vs "
              f"{unguarded['rss_growth_mb']:.0f} MB", unit="s")


def main() -> None:
    from components.trainer.tf_runtime import skip_autograph_for_tf_keras
    from tfx.utils import io_utils

    args = parse_args()
    skip_autograph_for_tf_keras()
    started = time.perf_counter()
    if args.work:
        os.makedirs(args.work, exist_ok=True)
    work = tempfile.mkdtemp(prefix="imgpipe-bench-", dir=args.work or None)
    print(f"CPU cores: {os.cpu_count()}, load average at start: {os.getloadavg()[0]:.2f}, scratch: {work}")
    table, parts, scale_report, sizes = Table(), args.parts, "", [int(s) for s in args.train_sizes.split(",")]
    if parts & NEEDS_PIPELINE:
        data = write_jpeg_folder(os.path.join(work, "images"), args.images_per_class)
        record, run_seconds, cfg, rerun = run_pipeline(data, os.path.join(work, "output"), args.pipeline_epochs)
    if "rerun" in parts:
        ran = ", ".join(f"{c.component} {c.seconds:.1f} s" for c in rerun.components if c.state != "cached")
        table.row("re-run", "unchanged re-run (cached)", run_seconds[1], "full run", run_seconds[0], "<= 0.1x, <= 15 s",
                  f"ran: {ran}; reused the rest", unit="s")
    training_rates = training(table, sizes, args.accuracy_epochs) if "train" in parts else {}
    if "flops" in parts:
        flops(table, sizes, training_rates)
    if "input" in parts:
        schema = io_utils.SchemaReader().read(os.path.join(
            record.outputs(data_validation.SCHEMA_GEN_ID, "Schema")[0].uri, data_validation.SCHEMA_FILE))
        input_pipeline(table, record.outputs(example_gen.NODE_ID, "Examples")[0].uri, data, schema, cfg, work)
    for name, part in (("determinism", lambda: determinism(table)), ("evaluator", lambda: evaluator(table, record, work)),
                       ("guard", lambda: serving_guard(table, work))):
        if name in parts:
            part()
    if "scale" in parts:
        scale_report = scale(table, args.scale_sizes, args.scale_mp_sizes, work, args.scale_side)
    print(f"\n== imgpipe bench, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
          f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}; "
          f"{ONEDNN or 'ONEDNN_MAX_CPU_ISA=' + os.environ.get('ONEDNN_MAX_CPU_ISA', '')}")
    table.print()
    if parts & NEEDS_PIPELINE:
        print(f"\npipeline run ({3 * args.images_per_class} images of 160 px, 64 px, {args.pipeline_epochs} epochs): "
              f"{run_seconds[0]:.1f} s wall; " + ", ".join(f"{n.node} {n.seconds:.1f} s" for n in record.nodes))
    print("\n" + scale_report if scale_report else "")
    print(f"suite wall time {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
