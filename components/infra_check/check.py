"""The infra check proper: is this SavedModel safe to put in front of TF Serving?

Loads the candidate in a fresh process (replay.py), replays its warmup requests
through both signatures, and holds the answers to the serving contract
(schemas/features.py): output names, dtypes and shapes, the served class names
byte-for-byte against the ingested class list, and the probabilities against
what the trained model gave the same images through the training input path.
It also replays hostile requests (hostile.py: a decompression bomb, garbage)
through both signatures: each must be refused by the serving guard before
decoding (components/trainer/serving_guard.py); a model that decodes them, or
fails them some other way, is not pushed. Each broken rule becomes one line in
`problems`; no problems means blessed.
"""
from __future__ import annotations

import base64
import json
import subprocess
import sys
from typing import Dict, List

import numpy as np
import tensorflow as tf

from components.image_example_gen.manifest import read_class_list
from components.image_example_gen.spec import LABELS_FILE
from components.infra_check.hostile import refused_by_guard
from components.trainer.warmup import ASSETS_EXTRA, EXPECTED_FILE, read_expected
from schemas import features

REPLAY_MODULE = "components.infra_check.replay"
REPLAY_TIMEOUT_SECONDS = 600
SIGNATURES = (features.EXAMPLES_SIGNATURE, features.BYTES_SIGNATURE)
OUTPUT_DTYPES = {features.PROBABILITIES_OUTPUT: "float32", features.CLASS_ID_OUTPUT: "int64",
                 features.CLASS_NAME_OUTPUT: "string"}


def replay_in_fresh_process(model_dir: str) -> Dict:
    """replay.py's JSON, or {"error": ...} with the child's last stderr line."""
    try:
        done = subprocess.run([sys.executable, "-m", REPLAY_MODULE, model_dir], capture_output=True,
                              text=True, timeout=REPLAY_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        return {"error": f"loading and replaying took over {REPLAY_TIMEOUT_SECONDS} s"}
    if done.returncode != 0:
        last = [line for line in done.stderr.splitlines() if line.strip()][-1:] or ["(no output)"]
        return {"error": f"exit code {done.returncode}: {last[0]}"}
    return json.loads(done.stdout.strip().splitlines()[-1])


def check_candidate(model_dir: str, class_names: List[bytes], atol: float) -> Dict:
    """The report: `problems` (empty when blessed), load time and per-request latencies."""
    return judge(model_dir, replay_in_fresh_process(model_dir), class_names, atol)


def judge(model_dir: str, replayed: Dict, class_names: List[bytes], atol: float) -> Dict:
    """Hold a fresh process's replay (replay.py's JSON) to the serving contract."""
    served_labels = f"{model_dir.rstrip('/')}/assets/{LABELS_FILE}"
    problems = []
    if not tf.io.gfile.exists(served_labels):
        problems.append(f"the SavedModel has no assets/{LABELS_FILE}")
    elif read_class_list(served_labels) != class_names:
        problems.append(f"served class names {read_class_list(served_labels)} differ from the ingested "
                        f"class list {class_names}")
    if "error" in replayed:
        return _report(problems + [f"the candidate does not load and answer in a fresh process: {replayed['error']}"])
    problems += _signature_problems(replayed["signatures"], len(class_names))
    problems += hostile_problems(replayed.get("hostile", []))
    try:
        expected = read_expected(model_dir)
    except tf.errors.NotFoundError:
        return _report(problems + [f"no {ASSETS_EXTRA}/{EXPECTED_FILE} in the SavedModel: export it with "
                                   "components.trainer.train.run_fn, which records the trained model's answers"])
    problems += _answer_problems(replayed["requests"], class_names, expected, atol)
    latencies = [r["seconds"] for r in replayed["requests"] if "seconds" in r]
    return _report(problems, replayed["load_seconds"], latencies)


def _report(problems: List[str], load_seconds: float = None, latencies: List[float] = ()) -> Dict:
    ms = np.asarray(latencies) * 1000
    return {"blessed": not problems, "problems": problems, "load_seconds": load_seconds,
            "requests": len(ms), "latency_ms_p50": float(np.percentile(ms, 50)) if len(ms) else None,
            "latency_ms_max": float(ms.max()) if len(ms) else None, "latency_ms": ms.round(3).tolist()}


def _signature_problems(signatures: Dict, num_classes: int) -> List[str]:
    problems = []
    for name in SIGNATURES:
        outputs = signatures.get(name)
        if outputs is None:
            problems.append(f"signature {name} is missing (has: {', '.join(sorted(signatures)) or 'none'})")
            continue
        if set(outputs) != set(OUTPUT_DTYPES):
            problems.append(f"{name} outputs {sorted(outputs)}, expected {sorted(OUTPUT_DTYPES)}")
            continue
        for out, dtype in OUTPUT_DTYPES.items():
            if outputs[out]["dtype"] != dtype:
                problems.append(f"{name} output {out} is {outputs[out]['dtype']}, expected {dtype}")
        if outputs[features.PROBABILITIES_OUTPUT]["shape"] != [None, num_classes]:
            problems.append(f"{name} output probabilities has shape {outputs[features.PROBABILITIES_OUTPUT]['shape']}"
                            f", expected [None, {num_classes}] ({num_classes} ingested classes)")
    return problems


def hostile_problems(results: List[Dict]) -> List[str]:
    """A hostile request must be refused by the serving guard; anything else means the model decodes it."""
    problems = []
    for r in results:
        if r["error"] is None:
            problems.append(f"{r['signature']} decoded and answered {r['what']} instead of refusing it: the model "
                            "has no serving guard (export it with components.trainer.serving)")
        elif not refused_by_guard(r["error"]):
            problems.append(f"{r['signature']} did not refuse {r['what']} before decoding it "
                            f"({error_line(r['error'])})")
    return problems


def error_line(message: str) -> str:
    """The line of a TensorFlow error message that says what went wrong: the one before the op's `[[...]]`."""
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    ops = [i for i, line in enumerate(lines) if line.startswith("[[")]
    return (lines[ops[0] - 1] if ops and ops[0] else lines[-1] if lines else "no message")[:200]


def _answer_problems(requests: List[Dict], class_names: List[bytes], expected: np.ndarray,
                     atol: float) -> List[str]:
    """Each warmup answer: the class name matches its id, the probabilities match the trained model's."""
    problems, per_signature = [], {name: 0 for name in SIGNATURES}
    for request in requests:
        name = request["signature"]
        if "error" in request or name not in per_signature:
            problems.append(f"warmup request for {name}: {request.get('error', 'unknown signature')}")
            continue
        outputs, row = request["outputs"], per_signature[name]
        per_signature[name] += 1
        class_id = outputs[features.CLASS_ID_OUTPUT]["values"][0]
        served = base64.b64decode(outputs[features.CLASS_NAME_OUTPUT]["values"][0])
        if not 0 <= class_id < len(class_names) or served != class_names[class_id]:
            problems.append(f"{name} answered class_name {served!r} for class_id {class_id}")
        probabilities = np.asarray(outputs[features.PROBABILITIES_OUTPUT]["values"][0])
        if row >= len(expected) or probabilities.shape != expected[row].shape:
            problems.append(f"{name} request {row}: no matching trained-model answer to compare with")
            continue
        diff = float(np.abs(probabilities - expected[row]).max())
        if diff > atol:
            problems.append(f"{name} request {row}: probabilities differ from the trained model's by {diff:.2g} "
                            f"(> serving.infra_check_atol {atol}): training/serving skew")
    problems += [f"no warmup request replayed through {n}" for n, count in per_signature.items() if not count]
    return problems
