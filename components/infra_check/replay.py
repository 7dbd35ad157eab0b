"""`python -m components.infra_check.replay MODEL_DIR`: load a SavedModel fresh and replay its warmup.

Runs in a process of its own, as TF Serving would: nothing the Trainer or the
check's own process imported or cached can make a broken export look healthy.
Prints one JSON object on stdout: the load time, each signature's output specs,
per warmup request its signature, latency and outputs (strings base64), and per
hostile request (hostile.py: a bomb, garbage) its signature, latency and the
error it got, or that it was answered.
"""
from __future__ import annotations

import base64
import json
import sys
import time
from typing import Any, Dict, List

# The load is timed from here: importing TensorFlow is not the model's cost.
import tensorflow as tf

from components.infra_check.hostile import hostile_requests
from components.trainer.warmup import read_warmup


def _jsonable(value) -> Any:
    array = value.numpy()
    if array.dtype == object:
        return [base64.b64encode(v).decode("ascii") for v in array.ravel()]
    return array.tolist()


def replay(model_dir: str) -> Dict[str, Any]:
    started = time.perf_counter()
    loaded = tf.saved_model.load(model_dir)
    load_seconds = time.perf_counter() - started
    specs = {name: {out: {"dtype": spec.dtype.name, "shape": spec.shape.as_list()}
                    for out, spec in fn.structured_outputs.items()}
             for name, fn in loaded.signatures.items()}
    requests = []
    for signature, inputs in read_warmup(model_dir):
        if signature not in loaded.signatures:
            requests.append({"signature": signature, "error": "no such signature"})
            continue
        started = time.perf_counter()
        outputs = loaded.signatures[signature](**{k: tf.constant(v) for k, v in inputs.items()})
        seconds = time.perf_counter() - started
        requests.append({"signature": signature, "seconds": seconds, "outputs": {
            name: {"dtype": t.dtype.name, "shape": t.shape.as_list(), "values": _jsonable(t)}
            for name, t in outputs.items()}})
    return {"load_seconds": load_seconds, "signatures": specs, "requests": requests,
            "hostile": replay_hostile(loaded)}


def replay_hostile(loaded) -> List[Dict[str, Any]]:
    """Each hostile request through its signature: the error it got, or "answered"."""
    results = []
    for what, signature, inputs in hostile_requests():
        if signature not in loaded.signatures:
            continue  # reported by the signature check
        started = time.perf_counter()
        try:
            loaded.signatures[signature](**{k: tf.constant(v) for k, v in inputs.items()})
            error = None
        except tf.errors.OpError as e:
            error = e.message
        results.append({"what": what, "signature": signature, "seconds": time.perf_counter() - started,
                        "error": error})
    return results


if __name__ == "__main__":
    print(json.dumps(replay(sys.argv[1])))
