"""Benchmark the pushed model's serving path on this machine's CPU. Prints figures; it is not a test.

Three measurements, each side by side in one run (timings are noisy: read the ratios):
  single   one 64x64 PNG through `serving_bytes` (decode + Transform + model), p50/p99 latency,
           against the bare Keras model on the already-decoded tensor;
  batch    64 PNGs per call through `serving_bytes`, images/s, against the bare model;
  first    the first request after loading, in a fresh process, with and without replaying
           assets.extra/tf_serving_warmup_requests first (what TF Serving does on load).

    imgpipe run                     # pushes a model to output/serving/image_classifier
    python -m bench.bench_serving   # or --model <SavedModel or model folder>
"""
from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import time
from typing import Callable, List

import numpy as np

from pipeline.serving.predict import resolve_model
from pipeline.serving.cli import DEFAULT_SERVING_DIR
from schemas import features
from schemas.config import ServingConfig

import tensorflow as tf  # noqa: E402  (after our packages: Keras 2 is selected there)

FIRST_REQUEST = """
import sys, time
import tensorflow as tf
from components.trainer.warmup import read_warmup
model_dir, warm, png = sys.argv[1], sys.argv[2] == "1", open(sys.argv[3], "rb").read()
serve = tf.saved_model.load(model_dir).signatures["serving_bytes"]
if warm:
    loaded = tf.saved_model.load(model_dir)
    for signature, inputs in read_warmup(model_dir):
        loaded.signatures[signature](**{k: tf.constant(v) for k, v in inputs.items()})
    serve = loaded.signatures["serving_bytes"]
started = time.perf_counter()
serve(image_bytes=tf.constant([png]))
print((time.perf_counter() - started) * 1000)
"""


def png_bytes(size: int, seed: int) -> bytes:
    from PIL import Image
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(seed).integers(0, 256, (size, size, 3), dtype=np.uint8)).save(buf, "PNG")
    return buf.getvalue()


def timings_ms(fn: Callable[[], object], rounds: int) -> np.ndarray:
    fn()  # first call: tracing and kernel set-up, measured separately
    out = []
    for _ in range(rounds):
        started = time.perf_counter()
        fn()
        out.append((time.perf_counter() - started) * 1000)
    return np.asarray(out)


def first_request_ms(model_dir: str, warm: bool, png_path: str) -> float:
    done = subprocess.run([sys.executable, "-c", FIRST_REQUEST, model_dir, "1" if warm else "0", png_path],
                          capture_output=True, text=True, check=True)
    return float(done.stdout.strip().splitlines()[-1])


def main(argv: List[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=f"{DEFAULT_SERVING_DIR}/{ServingConfig().model_name}")
    parser.add_argument("--rounds", type=int, default=300, help="timed single-image requests per path")
    parser.add_argument("--work", default="/tmp/imgpipe-bench-serving", help="scratch folder for the PNG")
    args = parser.parse_args(argv)
    import tf_keras as keras
    model_dir = resolve_model(args.model)
    serve = tf.saved_model.load(model_dir).signatures[features.BYTES_SIGNATURE]
    keras_model = keras.models.load_model(model_dir, compile=False)
    size = int(keras_model.input_shape[1])
    # As a graph, like the signature: eager Keras would time Python, not the model.
    bare = tf.function(lambda x, training: keras_model(x, training=training))
    png = png_bytes(64, 0)
    decoded = tf.image.resize(tf.io.decode_png(png, channels=3), [size, size])[tf.newaxis] / 255.0

    single = timings_ms(lambda: serve(**{features.BYTES_INPUT: tf.constant([png])}), args.rounds)
    single_bare = timings_ms(lambda: bare(decoded, training=False), args.rounds)
    batch = [png_bytes(64, i) for i in range(64)]
    decoded_batch = tf.concat([decoded] * 64, axis=0)
    batch_ms = timings_ms(lambda: serve(**{features.BYTES_INPUT: tf.constant(batch)}), 20)
    batch_bare_ms = timings_ms(lambda: bare(decoded_batch, training=False), 20)

    os.makedirs(args.work, exist_ok=True)
    png_path = os.path.join(args.work, "one.png")
    with open(png_path, "wb") as f:
        f.write(png)
    cold, warm = first_request_ms(model_dir, False, png_path), first_request_ms(model_dir, True, png_path)

    p50, p99, b50, b99 = (np.percentile(single, 50), np.percentile(single, 99),
                          np.percentile(single_bare, 50), np.percentile(single_bare, 99))
    ips, ips_bare = 64_000 / np.median(batch_ms), 64_000 / np.median(batch_bare_ms)
    print(f"Model: {model_dir} (input {size}x{size}); {args.rounds} single requests per path")
    print(f"single 64x64 PNG  serving_bytes p50 {p50:.2f} ms p99 {p99:.2f} ms | bare Keras on decoded "
          f"p50 {b50:.2f} ms p99 {b99:.2f} ms | p50 ratio {p50 / b50:.2f}x")
    print(f"batch of 64       serving_bytes {ips:.0f} images/s | bare Keras {ips_bare:.0f} images/s | "
          f"ratio {ips / ips_bare:.2f}x")
    print(f"first request     without warmup {cold:.1f} ms | after warmup replay {warm:.1f} ms | "
          f"ratio {cold / warm:.1f}x")
    print(json.dumps({"p50_ms": p50, "p99_ms": p99, "bare_p50_ms": b50, "bare_p99_ms": b99,
                      "batch_images_per_s": ips, "bare_batch_images_per_s": ips_bare,
                      "first_request_cold_ms": cold, "first_request_warm_ms": warm}))


if __name__ == "__main__":
    main()
