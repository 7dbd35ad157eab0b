"""The report's model sections: augmentation preview, training curves, evaluation.

Training facts come from the Trainer's one training record (components/trainer/record.py) in its
ModelRun artifact; the confusion matrices from TFMA's plots in the Evaluator's
output. TFMA keeps no per-example predictions, so the "most confident mistakes"
are found by running the candidate SavedModel on the held-out split here (the
same `serving_default` signature the Evaluator used).
"""
from __future__ import annotations

import json
from typing import Dict, List, Optional, Sequence

import numpy as np

from components.baseline import spec as baseline
from components.evaluator import spec as evaluator
from components.trainer import spec as trainer
from pipeline.history.report.data import iter_examples
from pipeline.history.report.spec import CONFIG_PROPERTY, NODE_ID
from pipeline.history.run_record import RunRecord
from schemas import features
from schemas.config import Config

AUGMENTED_IMAGES = 3     # training images shown in the augmentation preview
AUGMENTED_VERSIONS = 5   # augmented versions of each
MISTAKES_SHOWN = 8
_PREDICT_BATCH = 64


def run_config(record: RunRecord, given: Optional[Config]) -> Optional[Config]:
    """The config the run used: RunReport's record of it (the whole config, every section) when that node
    ran, else the one the caller gives (the local runner passes the config it ran with)."""
    from schemas.config import from_dict
    report = record.node(NODE_ID)
    raw = report.properties.get(CONFIG_PROPERTY) if report else None
    return from_dict(json.loads(raw)) if raw else given


def training_section(record: RunRecord) -> dict:
    from components.trainer.record import per_epoch, read_training_record
    runs = record.outputs(trainer.NODE_ID, "ModelRun")
    if not runs:
        return {"unavailable": "the Trainer did not run"}
    found = read_training_record(runs[0].uri)
    if not found:
        return {"unavailable": f"no {trainer.TRAINING_RECORD_FILE} in the Trainer's ModelRun artifact ({runs[0].uri})"}
    return {**found, "per_epoch": per_epoch(found), "logdir": runs[0].uri}


def augmentation_section(train_images: Sequence[bytes], cfg: Optional[Config], image_size: Optional[int] = None,
                         seed: int = 0) -> dict:
    """Each image resized as Transform does, then AUGMENTED_VERSIONS draws of the Trainer's augment_image.

    `image_size` is the side this run's Transform chose (data.image_size may be `auto`).
    """
    if cfg is None or not train_images:
        return {"unavailable": "no training images or no config recorded for this run"}
    image_size = image_size or (cfg.data.image_size if isinstance(cfg.data.image_size, int) else None)
    if image_size is None:
        return {"unavailable": "the run stopped before Transform chose the image size (data.image_size=auto)"}
    import tensorflow as tf
    from components.trainer.augment import augment_image
    from components.transform.preprocessing import decode_and_resize
    tf.random.set_seed(seed)
    rows = []
    for encoded in train_images[:AUGMENTED_IMAGES]:
        image = decode_and_resize(tf.constant(encoded), image_size)
        versions = [augment_image(image, cfg.augment).numpy() for _ in range(AUGMENTED_VERSIONS)]
        rows.append({"original": image.numpy(), "augmented": versions})
    return {"rows": rows, "policy": cfg.to_dict()["augment"]}


def confusion_matrices(evaluation_uri: str, num_classes: int) -> Dict[str, np.ndarray]:
    """Model name ('candidate', 'baseline') -> [actual, predicted] counts at argmax, overall slice."""
    import tensorflow_model_analysis as tfma
    result = {}
    for plots in tfma.load_plots(evaluation_uri):
        if plots.slice_key.single_slice_keys:
            continue
        for item in plots.plot_keys_and_values:
            matrices = item.value.multi_class_confusion_matrix_at_thresholds.matrices
            if not matrices:
                continue
            cells = np.zeros((num_classes, num_classes), dtype=np.int64)
            for entry in matrices[0].entries:
                if 0 <= entry.predicted_class_id < num_classes:
                    cells[entry.actual_class_id, entry.predicted_class_id] += round(entry.num_weighted_examples)
            result[item.key.model_name or "candidate"] = cells
    return result


def confusion_from_predictions(rows: Sequence[dict], num_classes: int) -> np.ndarray:
    """[actual, predicted] counts at argmax, from predict_split's rows."""
    cells = np.zeros((num_classes, num_classes), dtype=np.int64)
    for row in rows:
        cells[row["label"], int(np.argmax(row["probabilities"]))] += 1
    return cells


def served_model_dir(record: RunRecord) -> str:
    """The served model the gate compared with (ServedModelBaseline's copy), "" on a first run."""
    import tensorflow as tf
    from tfx.utils import path_utils
    found = record.outputs(baseline.NODE_ID, "Model")
    path = path_utils.serving_model_dir(found[0].uri) if found else ""
    return path if path and tf.io.gfile.exists(f"{path}/saved_model.pb") else ""


def same_model(candidate_dir: str, served_dir: str) -> bool:
    """The two SavedModels hold the same files byte for byte (the Pusher's test: push files aside)."""
    from components.pusher.already_served import model_digests
    digests = model_digests(candidate_dir)
    return bool(digests) and digests == model_digests(served_dir)


def gate_facts(record: RunRecord) -> Optional[dict]:
    """The paired gate's record: McNemar counts, the rules, the reasons, recall per class of both models."""
    import dataclasses
    from components.evaluator.metrics import read_gate
    from components.evaluator.paired import mcnemar_p_worse
    evaluations = record.outputs(evaluator.NODE_ID, "ModelEvaluation")
    gate = read_gate(evaluations[0].uri) if evaluations else None
    if gate is None:
        return None
    c = gate.counts
    return {"sentence": gate.verdict.sentence, "reasons": gate.verdict.reasons, "blessed": gate.verdict.blessed,
            "rules": dataclasses.asdict(gate.rules), "has_baseline": c.has_baseline, "images": c.images,
            "better": c.better, "worse": c.worse,
            "p_worse": mcnemar_p_worse(c.better, c.worse) if c.has_baseline else None,
            "classes": {name: {"images": k.images, "candidate_recall": k.candidate_correct / k.images,
                               "served_recall": k.baseline_correct / k.images if c.has_baseline else None}
                        for name, k in sorted(c.classes.items()) if k.images}}


def per_class_scores(cells: np.ndarray, class_names: Sequence[str]) -> Dict[str, dict]:
    """Precision, recall, F1 and support of each class from a [actual, predicted] count matrix."""
    scores = {}
    for i, name in enumerate(class_names):
        tp, predicted, actual = cells[i, i], cells[:, i].sum(), cells[i, :].sum()
        precision = tp / predicted if predicted else 0.0
        recall = tp / actual if actual else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        scores[name] = {"precision": float(precision), "recall": float(recall), "f1": float(f1),
                        "support": int(actual)}
    return scores


def confident_mistakes(rows: Sequence[dict], k: int = MISTAKES_SHOWN) -> List[dict]:
    """The k wrong predictions with the highest predicted probability (ties: by path)."""
    wrong = [r for r in rows if int(np.argmax(r["probabilities"])) != r["label"]]
    return sorted(wrong, key=lambda r: (-float(np.max(r["probabilities"])), r["path"]))[:k]


def load_model(model_dir: str):
    """The exported model as Keras loads it: its layers (Grad-CAM) and its serving signatures (predict_split),
    so the report reads a model from disk once (about 1.5 s each time here)."""
    import tf_keras as keras
    return keras.models.load_model(model_dir, compile=False)


def predict_split(model_dir: str, examples_uri: str, split: str, loaded=None) -> List[dict]:
    """A model's probabilities for each example of `split`, through `serving_default`; `loaded`: the model at
    `model_dir` already loaded (load_model), else it is loaded here."""
    import tensorflow as tf
    from components.pusher.publish import read_model_facts
    predict = (loaded if loaded is not None else tf.saved_model.load(model_dir)).signatures[features.EXAMPLES_SIGNATURE]
    size = trainer.batch_limit(read_model_facts(model_dir), _PREDICT_BATCH)  # serving.max_batch_images
    rows, batch = [], []
    for ex in iter_examples(examples_uri, split):
        batch.append(ex)
        if len(batch) == size:
            rows += _predict_batch(predict, batch)
            batch = []
    return rows + (_predict_batch(predict, batch) if batch else [])


def _predict_batch(predict, batch: List[dict]) -> List[dict]:
    import tensorflow as tf
    out = predict(**{features.EXAMPLES_INPUT: tf.constant([ex["serialized"] for ex in batch])})
    probabilities = out[features.PROBABILITIES_OUTPUT].numpy()
    return [{"path": ex["path"], "label": ex["label"], "image": ex["image"], "probabilities": p}
            for ex, p in zip(batch, probabilities)]
