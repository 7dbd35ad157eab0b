"""Benchmark the serving guard on issue 25's request: a 746 KB PNG declaring 16000x16000 pixels, sent
twice in one request to `serving_bytes`. Prints figures; it is not a test.

Two exports of the same model, built here the way the Trainer exports (the real Transform graph +
make_serving_signatures around a small untrained Keras model):
  guarded    the default limits (serving.max_image_pixels = data.max_image_pixels = 50,000,000);
  unguarded  limits no image reaches: the graph of a model exported before the guard, plus a header
             parse that lets everything through (microseconds).
Each request runs in a fresh process: load the model, answer one small PNG (tracing is not the
bomb's cost), reset the peak resident set (/proc/self/clear_refs), send the request; the row gives
the wall time, the growth of the peak resident set and the answer. The unguarded model gets the
8000x8000 bomb by default (about 1.5 GB; --full-unguarded sends the 16000x16000 one, about 8.5 GB),
the guarded one both. `--model DIR` measures a pushed version (e.g. after `imgpipe run`) as well.

    python -m bench.bench_serving_guard [--work /tmp/imgpipe-bench-guard] [--model DIR] [--full-unguarded]
"""
from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
from typing import Dict, List

import components  # noqa: F401  (sets Keras 2 before TensorFlow is imported)

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CHILD = """
import json, sys, time
import tensorflow as tf
model_dir, bomb_path, small_path = sys.argv[1:4]
serve = tf.saved_model.load(model_dir).signatures["serving_bytes"]
serve(image_bytes=tf.constant([open(small_path, "rb").read()]))
bomb = open(bomb_path, "rb").read()
def rss(field):
    return next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith(field)) / 1024
open("/proc/self/clear_refs", "w").write("5")
before, started = rss("VmRSS"), time.perf_counter()
try:
    answer = "answered " + repr(serve(image_bytes=tf.constant([bomb, bomb]))["class_name"].numpy().tolist())
except tf.errors.OpError as e:
    answer = "error: " + [l for l in e.message.splitlines() if l.strip() and not l.strip().startswith("[[")][-1][:160]
print(json.dumps({"seconds": time.perf_counter() - started, "rss_growth_mb": rss("VmHWM") - before, "answer": answer}))
"""


def small_png(seed: int = 0) -> bytes:
    import numpy as np
    from PIL import Image
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(seed).integers(0, 256, (24, 24, 3), dtype=np.uint8)).save(buf, "PNG")
    return buf.getvalue()


def build_exports(work: str) -> Dict[str, str]:
    """{"guarded": path, "unguarded": path}: the Trainer's export with the default and with no limits."""
    import tf_keras as keras

    from components.trainer.serving import make_serving_signatures, save_served_model
    from components.trainer.spec import ServingLimits
    from components.transform.standalone import write_transform_graph
    from schemas import features
    from schemas.config import build_config

    tft_output = write_transform_graph(os.path.join(work, "transform"), 32, [small_png(i) for i in range(4)])
    labels = os.path.join(work, "labels.txt")
    with open(labels, "w") as f:
        f.write("circle\nsquare\n")
    limits = {"guarded": ServingLimits.from_config(build_config()),
              "unguarded": ServingLimits(max_image_pixels=2**62, max_image_bytes=2**31 - 1, max_batch_images=10**9)}
    paths = {}
    for name, limit in limits.items():
        model = keras.Sequential([keras.layers.Conv2D(8, 3, input_shape=(32, 32, 3)), keras.layers.GlobalAveragePooling2D(),
                                  keras.layers.Dense(2, activation="softmax", name=features.PROBABILITIES_OUTPUT)])
        paths[name] = os.path.join(work, name)
        save_served_model(model, paths[name], make_serving_signatures(model, tft_output, labels, limit))
    return paths


def measure(model_dir: str, bomb_path: str, small_path: str) -> Dict:
    done = subprocess.run([sys.executable, "-c", CHILD, model_dir, bomb_path, small_path], capture_output=True,
                          text=True, cwd=REPO, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}, timeout=600)
    if done.returncode != 0:
        return {"seconds": float("nan"), "rss_growth_mb": float("nan"),
                "answer": f"process died (exit {done.returncode}): {done.stderr.strip().splitlines()[-1:]}"}
    return json.loads(done.stdout.strip().splitlines()[-1])


def write_bombs(work: str, sides: List[int]) -> Dict[int, str]:
    from components.infra_check.hostile import png_bomb
    paths = {}
    for side in sides:
        paths[side] = os.path.join(work, f"bomb_{side}.png")
        if not os.path.exists(paths[side]):
            with open(paths[side], "wb") as f:
                f.write(png_bomb(side, side))
    return paths


def run(work: str, model: str = "", full_unguarded: bool = False) -> List[Dict]:
    """One row per (model, bomb): {"model", "side", "seconds", "rss_growth_mb", "answer"}."""
    os.makedirs(work, exist_ok=True)
    models = build_exports(work)
    if model:
        models["pushed (--model)"] = model
    bombs = write_bombs(work, [8000, 16000])
    small = os.path.join(work, "small.png")
    with open(small, "wb") as f:
        f.write(small_png())
    rows = []
    for name, path in models.items():
        for side in ([8000, 16000] if name != "unguarded" or full_unguarded else [8000]):
            rows.append({"model": name, "side": side, **measure(path, bombs[side], small)})
    return rows


def main(argv: List[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", default="/tmp/imgpipe-bench-guard", help="scratch folder for models and bombs")
    parser.add_argument("--model", default="", help="also measure this pushed SavedModel version")
    parser.add_argument("--full-unguarded", action="store_true", help="send the 16000x16000 bomb to the unguarded "
                        "model too (about 8.5 GB resident)")
    args = parser.parse_args(argv)
    rows = run(args.work, args.model, args.full_unguarded)
    sizes = {side: os.path.getsize(os.path.join(args.work, f"bomb_{side}.png")) / 1024 for side in (8000, 16000)}
    print(f"PNG bombs: 16000x16000 {sizes[16000]:.0f} KB, 8000x8000 {sizes[8000]:.0f} KB; each request sends "
          f"the bomb twice to serving_bytes, in a fresh process")
    print(f"{'model':18} | {'bomb':11} | {'seconds':>8} | {'peak RSS growth':>15} | answer")
    for r in rows:
        print(f"{r['model']:18} | {r['side']}x{r['side']:<6} | {r['seconds']:8.3f} | {r['rss_growth_mb']:12.0f} MB "
              f"| {r['answer']}")


if __name__ == "__main__":
    main()
