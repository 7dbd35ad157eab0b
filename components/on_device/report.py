"""OnDeviceModel's report (`on_device.json` in its artifact): its reader and the summary's line.

TF-free, beside the writer (executor.py), so `imgpipe run`'s summary and the HTML report read it
without loading TensorFlow.
"""
from __future__ import annotations

from typing import Optional

from components.fs import read_json
from components.on_device.spec import REPORT_FILE


def report_path(uri: str) -> str:
    return f"{uri.rstrip('/')}/{REPORT_FILE}"


def read_report(uri: str) -> Optional[dict]:
    """The report in an OnDeviceModel artifact, or None when there is none."""
    return read_json(report_path(uri))


def summary_line(report: dict) -> str:
    """`TFLite: int8 0.3 MB, agreement 0.998, accuracy 0.951 (server 0.953): pushed` (or why not)."""
    parts = [f"{variant} {r['bytes'] / 1e6:.2f} MB, agreement {r['agreement']:.3f}, accuracy {r['accuracy']:.3f}"
             for variant, r in report["variants"].items()]
    outcome = f"pushed to {report['destination']}" if report["pushed"] else f"NOT pushed: {report['reason']}"
    if not parts:
        return f"TFLite: {outcome}"
    return f"TFLite: {'; '.join(parts)} (server {report['server_accuracy']:.3f}): {outcome}"
