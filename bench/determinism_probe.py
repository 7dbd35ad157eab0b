"""Train a model through the Trainer's seeding and its shuffle + augment stage; print the weights' SHA-256
and the training images/s. Used by tests/test_trainer.py (are the weights bit-identical?) and by
bench/bench_determinism.py (what does it cost?); each call is a fresh process, since op determinism is
process-wide and cannot be switched off again.

    python -m bench.determinism_probe <true|false> <images> <size> <timed epochs> [KEY=VALUE ...]

One warm-up epoch runs before the timed ones; the KEY=VALUE config overrides apply after
train.deterministic. The data is random (seeded), three classes.
"""
import hashlib
import sys
import time


def main(deterministic: str, images: int, size: int, epochs: int, overrides) -> None:
    import numpy as np
    import tensorflow as tf
    import tf_keras as keras

    from components.trainer.augment import training_model
    from components.trainer.model import build_model
    from components.trainer.tf_runtime import seed_and_determinism, skip_autograph_for_tf_keras
    from components.trainer.train import batches
    from schemas.config import build_config

    cfg = build_config(overrides=[f"train.deterministic={deterministic}"] + list(overrides))
    skip_autograph_for_tf_keras()
    seed_and_determinism(cfg.train.seed, cfg.train.deterministic)
    rng = np.random.default_rng(0)
    data = (rng.random((images, size, size, 3), dtype=np.float32), tf.one_hot(rng.integers(0, 3, images), 3))
    model = training_model(build_model(cfg.model, size, 3), cfg.augment)  # as compiled_network fits it
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="categorical_crossentropy")
    dataset = batches(tf.data.Dataset.from_tensor_slices(data), cfg, training=True)
    model.fit(dataset, epochs=1, verbose=0)
    start = time.perf_counter()
    model.fit(dataset, epochs=epochs, verbose=0)
    rate = images * epochs / (time.perf_counter() - start)
    print(hashlib.sha256(b"".join(w.tobytes() for w in model.get_weights())).hexdigest(), rate)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5:])
