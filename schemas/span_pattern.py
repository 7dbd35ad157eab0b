"""The grammar of `data.span_pattern`: one batch-folder name with TFX ExampleGen's span tokens.

A data root may hold one folder per batch of images (`round-{SPAN}`,
`day={YYYY}-{MM}-{DD}`, optionally with `{VERSION}`). TFX's ExampleGen driver
resolves the newest such folder from the split pattern `<span_pattern>/*`; this
module reads the same tokens with the same meaning (a date is the span number
`days since 1970-01-01`, as in tfx.components.example_gen.utils) so that the
config check and the "nothing new" check answer without importing TFX.
"""
from __future__ import annotations

import datetime
import re
from typing import Optional, Tuple

ALLOWED_TOKENS = "{SPAN} (or {SPAN:width}), or {YYYY} {MM} {DD} together; optionally {VERSION} (or {VERSION:width})"
_TOKEN = re.compile(r"\{([^{}]*)\}")
_EPOCH = datetime.date(1970, 1, 1)


class SpanPatternError(ValueError):
    """A span pattern TFX's driver could not resolve; the message says what is wrong with it."""


def span_regex(pattern: str) -> "re.Pattern[str]":
    """A regex matching batch-folder names of `pattern`, with groups span (or yyyy/mm/dd) and version."""
    if "/" in pattern or "\\" in pattern:
        raise SpanPatternError("it names one batch folder directly under the data root, so it holds no '/'")
    counts = {"SPAN": 0, "YYYY": 0, "MM": 0, "DD": 0, "VERSION": 0}
    regex, last = [], 0
    for token in _TOKEN.finditer(pattern):
        name, _, width = token.group(1).partition(":")
        if name not in counts or (width and (name not in ("SPAN", "VERSION") or not width.isdigit())):
            raise SpanPatternError(f"unknown token {token.group(0)}")
        counts[name] += 1
        regex.append(_literal(pattern[last:token.start()]))
        digits = {"YYYY": 4, "MM": 2, "DD": 2}.get(name) or (int(width) if width else 0)
        regex.append(f"(?P<{name.lower()}>" + (rf"\d{{{digits}}}" if digits else r"\d+") + ")")
        last = token.end()
    regex.append(_literal(pattern[last:]))
    _check_counts(counts)
    return re.compile("".join(regex) + r"\Z")


def _literal(text: str) -> str:
    """Glob text between tokens: `*` and `?` as in the driver's glob, the rest literally."""
    if "{" in text or "}" in text:
        raise SpanPatternError("a '{' or '}' that is not part of a token")
    return "".join("[^/]*" if c == "*" else "[^/]" if c == "?" else re.escape(c) for c in text)


def _check_counts(counts) -> None:
    dates = [counts[name] for name in ("YYYY", "MM", "DD")]
    if counts["SPAN"] > 1 or counts["VERSION"] > 1 or max(dates) > 1:
        raise SpanPatternError("a token appears more than once")
    if counts["SPAN"] and any(dates):
        raise SpanPatternError("{SPAN} and the date tokens exclude each other")
    if any(dates) and not all(dates):
        raise SpanPatternError("a date needs all of {YYYY}, {MM} and {DD}")
    if not counts["SPAN"] and not any(dates):
        raise SpanPatternError("it needs {SPAN} or {YYYY}-{MM}-{DD}")


def span_of(match: "re.Match[str]") -> Optional[Tuple[int, Optional[int]]]:
    """(span, version) of a matched folder name; None for an impossible date (e.g. month 13)."""
    groups = match.groupdict()
    version = int(groups["version"]) if groups.get("version") is not None else None
    if groups.get("span") is not None:
        return int(groups["span"]), version
    try:
        day = datetime.date(int(groups["yyyy"]), int(groups["mm"]), int(groups["dd"]))
    except ValueError:
        return None
    return (day - _EPOCH).days, version


def check_span_pattern(pattern: str) -> Optional[str]:
    """Why `pattern` cannot be used, or None when it can (the empty pattern means no spans)."""
    if not pattern:
        return None
    try:
        span_regex(pattern)
    except SpanPatternError as e:
        return str(e)
    return None
