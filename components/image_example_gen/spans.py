"""Batches of images under one data root: `<data root>/<span folder>/<class_name>/<images>`.

The span folders are named by `data.span_pattern` (schemas/span_pattern.py).
On LocalDagRunner and Vertex, TFX's ExampleGen driver resolves the newest span
(or the one a RangeConfig asks for) and records it on the Examples artifact; the
executor then reads the `data.window_spans` newest spans up to that one. Where
no driver runs (open-source Kubeflow v2), the executor resolves the span itself
with the same rules. Pure Python, so the CLI's "nothing new" check is quick.
"""
from __future__ import annotations

import dataclasses
import fnmatch
import re
from typing import List, Optional, Sequence

from components.image_example_gen.folder import (
    FolderScan,
    ImageFile,
    ImageFolderError,
    _join,
    _list_dir,
    scan_image_folder,
)
from schemas.span_pattern import span_of, span_regex


@dataclasses.dataclass(frozen=True)
class SpanFolder:
    name: str                  # the batch folder's name under the data root
    span: int
    version: Optional[int] = None


def list_span_folders(root: str, pattern: str) -> List[SpanFolder]:
    """Every span under `root`, oldest first; of several versions of one span, the highest (as TFX picks).

    A folder the driver's glob matches (tokens as `*`) but whose name holds no
    span number (`round-x`, a 13th month) makes TFX's driver fail: it is refused here, named.
    """
    regex, shape = span_regex(pattern), re.sub(r"\{[^{}]*\}", "*", pattern)
    newest = {}
    for name, is_dir in _list_dir(root):
        if not is_dir or not fnmatch.fnmatchcase(name, shape):
            continue
        match = regex.match(name)
        parsed = span_of(match) if match else None
        if parsed is None:
            raise ImageFolderError(
                f"folder {_join(root, name)} looks like a batch of data.span_pattern={pattern!r} but its name "
                "holds no valid span: rename it (e.g. " + example_name(pattern) + ") or move it out of the data root.")
        folder = SpanFolder(name, *parsed)
        kept = newest.get(folder.span)
        if kept is None or (folder.version or 0) >= (kept.version or 0):
            newest[folder.span] = folder
    return [newest[span] for span in sorted(newest)]


def select_window(root: str, pattern: str, window: int, span: Optional[int] = None) -> List[SpanFolder]:
    """The `window` newest spans up to `span` (default: the newest span), oldest first.

    Raises ImageFolderError naming the root and the pattern when no folder
    matches, or when the asked-for span is not there.
    """
    folders = list_span_folders(root, pattern)
    if not folders:
        raise ImageFolderError(
            f"no batch folder under {root} matches data.span_pattern={pattern!r}. Put each batch in its own "
            f"folder named like that (e.g. {example_name(pattern)}), or set data.span_pattern='' for a "
            "data root that holds the class folders directly.")
    target = folders[-1].span if span is None else span
    if target not in {f.span for f in folders}:
        raise ImageFolderError(
            f"no batch folder for span {target} under {root} (data.span_pattern={pattern!r}); spans found: "
            + ", ".join(str(f.span) for f in folders))
    upto = [f for f in folders if f.span <= target]
    return upto[-window:]


def example_name(pattern: str) -> str:
    """What a folder of span 1 (or of 2026-01-01) is called under `pattern`, for messages."""
    name = re.sub(r"\{SPAN(:(\d+))?\}", lambda m: "1".zfill(int(m.group(2) or 1)), pattern)
    name = re.sub(r"\{VERSION(:(\d+))?\}", lambda m: "1".zfill(int(m.group(2) or 1)), name)
    return name.replace("{YYYY}", "2026").replace("{MM}", "01").replace("{DD}", "01").replace("*", "")


def scan_span_folders(root: str, folders: Sequence[SpanFolder], skip_empty_classes: bool = False) -> FolderScan:
    """One scan over several span folders: paths relative to `root`, so each image keeps its split.

    Classes are the sorted union of the spans' class folders; every span must
    itself be a valid image folder (at least two classes), or the message names it.
    """
    scans = [scan_image_folder(_join(root, f.name), skip_empty_classes) for f in folders]
    class_names = sorted({name for scan in scans for name in scan.class_names})
    label = {name: i for i, name in enumerate(class_names)}
    files, skipped = [], []
    for folder, scan in zip(folders, scans):
        files += [ImageFile(f"{folder.name}/{f.rel_path}", label[f.class_name], f.class_name) for f in scan.files]
        skipped += [(f"{folder.name}/{path}", reason) for path, reason in scan.skipped]
    return FolderScan(root, class_names, sorted(files, key=lambda f: f.rel_path), sorted(skipped))


def describe(folders: Sequence[SpanFolder]) -> str:
    """`span 3 (round-3)` or `spans 1-3 (round-1, round-2, round-3)`: the summary's words."""
    if not folders:
        return ""
    if len(folders) == 1:
        return f"span {folders[0].span} ({folders[0].name})"
    return (f"spans {folders[0].span}-{folders[-1].span} ("
            + ", ".join(f.name for f in folders) + ")")
