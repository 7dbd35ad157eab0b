"""One Trainer worker for tests/test_multi_worker.py: the Trainer's strategy, model, input stage and export.

Run with TF_CONFIG naming a cluster (or without, as the single-process yardstick):
    python -m tests.multi_worker_probe <demo images dir> <export dir> <epochs>
Prints one JSON line: whether the strategy is MultiWorkerMirroredStrategy, replicas, whether this worker is the chief, its held-out accuracy
and where it saved the model. The Trainer's run_fn needs TFX's FnArgs; everything it does with the
strategy is exercised here through the same functions.
"""
import glob
import json
import os
import sys

import numpy as np
from PIL import Image

SIZE = 32
TEST_EVERY = 5


def load(folder: str):
    """The demo images at SIZE px as floats in [0, 1], split (every fifth is held out)."""
    classes = sorted(os.listdir(folder))
    images, labels = [], []
    for label, name in enumerate(c for c in classes if os.path.isdir(os.path.join(folder, c))):
        for path in sorted(glob.glob(os.path.join(folder, name, "*"))):
            images.append(np.asarray(Image.open(path).convert("RGB").resize((SIZE, SIZE)), np.float32) / 255.0)
            labels.append(label)
    images, labels = np.stack(images), np.array(labels)
    held_out = np.arange(len(labels)) % TEST_EVERY == 0
    return (images[~held_out], labels[~held_out]), (images[held_out], labels[held_out]), int(labels.max()) + 1


def main(data: str, export: str, epochs: int) -> None:
    import tensorflow as tf
    import tf_keras as keras

    from components.trainer.augment import training_model
    from components.trainer.distribution import export_dir, is_chief, make_strategy
    from components.trainer.model import build_model
    from components.trainer.schedule import learning_rate
    from components.trainer.tf_runtime import seed_and_determinism, skip_autograph_for_tf_keras
    from components.trainer.train import batches
    from schemas.config import build_config

    skip_autograph_for_tf_keras()
    cfg = build_config(overrides=["train.batch_size=16", f"train.epochs={epochs}"])
    seed_and_determinism(cfg.train.seed, False)
    strategy = make_strategy()  # built before any other TF op, as MultiWorkerMirroredStrategy requires
    (x, y), (tx, ty), classes = load(data)
    train = batches(tf.data.Dataset.from_tensor_slices((x, tf.one_hot(y, classes))), cfg, training=True)
    with strategy.scope():
        network = build_model(cfg.model, SIZE, classes)
        model = training_model(network, cfg.augment)  # as the Trainer fits it (compiled_network)
        steps_per_epoch = -(-len(y) // cfg.train.batch_size)
        model.compile(optimizer=keras.optimizers.Adam(learning_rate(cfg.train, steps_per_epoch)),
                      loss=keras.losses.CategoricalCrossentropy(), metrics=["accuracy"])
    model.fit(train, epochs=epochs, verbose=0)
    accuracy = float(np.mean(np.argmax(network.predict(tx, verbose=0), axis=1) == ty))
    where = export_dir(strategy, export)
    network.save(where, save_format="tf")
    print(json.dumps({"multi_worker": isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy),
                      "replicas": strategy.num_replicas_in_sync,
                      "chief": is_chief(strategy), "accuracy": accuracy, "saved_to": where}))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
