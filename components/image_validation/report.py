"""The validation report: `image_validation.json` (everything) and `summary.txt` (for people).

Both are written at the root of the ImageDataValidator's output artifact; the
run summary reads the warnings back from there through ML Metadata.
"""
import json
from typing import Any, Dict, List

import tensorflow as tf

from components.image_validation.checks import BLOCKING, WARNING, Finding
from components.image_validation.spec import REPORT_FILE, SUMMARY_FILE



def build_report(findings: List[Finding], **sections: Any) -> Dict[str, Any]:
    """`status` is "blocked" when any finding is blocking; the sections are the measured facts."""
    blocking = [f.to_dict() for f in findings if f.severity == BLOCKING]
    warnings = [f.to_dict() for f in findings if f.severity == WARNING]
    return {"status": "blocked" if blocking else "passed", "blocking": blocking, "warnings": warnings,
            **sections}


def summary_lines(report: Dict[str, Any]) -> List[str]:
    counts = report.get("class_counts", {})
    lines = [f"Image validation: {report['status']}"]
    for split in sorted(s for s in counts if s != "all"):
        lines.append(f"  {split}: " + ", ".join(f"{name} {n}" for name, n in counts[split].items()))
    if report.get("imbalance_ratio") is not None:
        lines.append(f"  imbalance (largest/smallest class): {report['imbalance_ratio']:.2f}")
    for finding in report["blocking"]:
        lines.append(f"  BLOCKING [{finding['check']}] {finding['message']}")
    for finding in report["warnings"]:
        lines.append(f"  warning [{finding['check']}] {finding['message']}")
    return lines


def blocking_message(report: Dict[str, Any], kept_at: str) -> str:
    """The error a blocked run stops with: the summary, and where the full report is kept."""
    return ("image validation failed, the run stops before training; nothing is pushed.\n"
            + "\n".join(summary_lines(report))
            + f"\nFull report: {kept_at}/{REPORT_FILE}. Thresholds are the validation.* config keys "
              "(docs/data-validation.md, 'Image-aware validation').")


def write_report(uri: str, report: Dict[str, Any]) -> str:
    tf.io.gfile.makedirs(uri)
    path = f"{uri}/{REPORT_FILE}"
    with tf.io.gfile.GFile(path, "w") as f:
        f.write(json.dumps(report, indent=2, sort_keys=True) + "\n")
    with tf.io.gfile.GFile(f"{uri}/{SUMMARY_FILE}", "w") as f:
        f.write("\n".join(summary_lines(report)) + "\n")
    return path


def read_report(uri: str) -> Dict[str, Any]:
    with tf.io.gfile.GFile(f"{uri}/{REPORT_FILE}") as f:
        return json.load(f)


def image_validation_warnings(uri: str) -> List[str]:
    """'[check] message' for each warning of the report at `uri` (none if it was not written)."""
    if not tf.io.gfile.exists(f"{uri}/{REPORT_FILE}"):
        return []
    return [f"[{w['check']}] {w['message']}" for w in read_report(uri)["warnings"]]


def image_validation_report(uri: str) -> str:
    """Path of the report at `uri`, or "" if it was not written."""
    path = f"{uri}/{REPORT_FILE}"
    return path if tf.io.gfile.exists(path) else ""
