"""Train/held-out leakage: the same image, or a near-duplicate, in train and in validation or test.

A held-out image that is also (nearly) in train measures memory, not
generalisation: in validation it biases the epoch choice, in test the verdict. Exact copies are found by the SHA-256 of the encoded bytes;
near-duplicates (re-encoded, resized, slightly cropped or recoloured) in two steps:

1. candidates: every train/held-out pair while there are at most ALL_PAIRS_BUDGET
   of them (numpy compares 10 million pairs in about a second); beyond that,
   pairs whose 64-bit difference hashes are within `max_distance` bits. dHash is
   cheap but misses re-encoded or resized copies of tiny images, and collides
   on small simple ones (distinct handwritten digits share dHashes by the
   thousand). Its search uses the pigeonhole principle: split the 64 bits into
   `max_distance + 1` bands; two hashes within `max_distance` bits agree on one band.
2. confirmation: the Pearson correlation of the two 8x8 grey thumbnails must
   reach `min_similarity`.
   Correlation ignores brightness and contrast changes but not a different
   stroke; bench/bench_duplicates.py calibrates the threshold on real images.
"""
import base64
import collections
from dataclasses import dataclass
from typing import Dict, List, Sequence, Tuple

import numpy as np

from components.image_validation.checks import BLOCKING, WARNING, Finding
from components.image_validation.facts import DHASH_BITS, THUMB_SIDE, ImageFacts
from schemas.features import HELD_OUT_SPLITS, TRAIN_SPLIT

ALL_PAIRS_BUDGET = 200_000_000  # train x held-out pairs compared exhaustively (a few seconds); above: dHash candidates
_BLOCK_CELLS = 20_000_000       # similarity-matrix cells computed at once (~80 MB each in float32)
FLAT_STD = 2.0  # grey levels: a thumbnail this uniform has no pattern to correlate (blank, one colour)


@dataclass(frozen=True)
class Leak:
    train_path: str
    held_out_path: str
    kind: str       # "exact" (same bytes) or "near" (dHash within the distance, thumbnails correlated)
    distance: int   # Hamming distance of the dHashes (0 for most exact copies)
    similarity: float = 1.0  # thumbnail correlation (1.0 for exact copies)

    def to_dict(self):
        return {"train": self.train_path, "held_out": self.held_out_path, "kind": self.kind, "distance": self.distance,
                "similarity": round(self.similarity, 4)}


def _bands(max_distance: int) -> List[Tuple[int, int]]:
    """(shift, mask) of `max_distance + 1` bit bands covering the hash."""
    count = min(max_distance + 1, DHASH_BITS)
    edges = [round(i * DHASH_BITS / count) for i in range(count + 1)]
    return [(lo, (1 << (hi - lo)) - 1) for lo, hi in zip(edges, edges[1:])]


def exact_leaks(train: Sequence[ImageFacts], eval_: Sequence[ImageFacts]) -> List[Leak]:
    by_digest: Dict[str, List[ImageFacts]] = collections.defaultdict(list)
    for f in train:
        by_digest[f.sha256].append(f)
    return [Leak(t.path, e.path, "exact", bin(t.dhash ^ e.dhash).count("1"))
            for e in eval_ for t in by_digest.get(e.sha256, [])]


def _candidates(train: Sequence[ImageFacts], eval_: Sequence[ImageFacts], max_distance: int):
    """(train, eval, distance) of different bytes whose dHashes differ in at most `max_distance` bits."""
    bands = _bands(max_distance)
    index: Dict[Tuple[int, int], List[ImageFacts]] = collections.defaultdict(list)
    for t in train:
        for i, (shift, mask) in enumerate(bands):
            index[(i, (t.dhash >> shift) & mask)].append(t)
    for e in eval_:
        seen = set()
        for i, (shift, mask) in enumerate(bands):
            for t in index.get((i, (e.dhash >> shift) & mask), []):
                distance = bin(t.dhash ^ e.dhash).count("1")
                if t.path not in seen and distance <= max_distance and t.sha256 != e.sha256:
                    seen.add(t.path)
                    yield t, e, distance


def _pattern(fact: ImageFacts) -> np.ndarray:
    """The thumbnail minus its mean, scaled to unit length; zeros when it is flat."""
    pixels = np.frombuffer(base64.b64decode(fact.thumb), np.uint8).astype(np.float64)
    pixels = pixels - pixels.mean()
    if pixels.std() < FLAT_STD:
        return np.zeros_like(pixels)
    return pixels / np.linalg.norm(pixels)


def similarity(a: ImageFacts, b: ImageFacts) -> float:
    """Correlation of the grey thumbnails. A flat one (blank, one colour, fine noise) scores 0 with
    anything: it has no pattern to match, and its grey level cannot tell red from green."""
    return float(_pattern(a) @ _pattern(b))


def _all_pairs(train: Sequence[ImageFacts], eval_: Sequence[ImageFacts], min_similarity: float):
    """(train, eval, similarity) of every pair at `min_similarity` or more, by blocks of eval images."""
    t_pattern = np.array([_pattern(f) for f in train], np.float32).reshape(len(train), THUMB_SIDE ** 2)
    e_pattern = np.array([_pattern(f) for f in eval_], np.float32).reshape(len(eval_), THUMB_SIDE ** 2)
    block = max(1, _BLOCK_CELLS // max(len(train), 1))
    for start in range(0, len(eval_), block):
        scores = e_pattern[start:start + block] @ t_pattern.T
        for i, j in zip(*np.nonzero(scores >= min_similarity)):
            yield train[j], eval_[start + i], float(scores[i, j])


def near_leaks(train: Sequence[ImageFacts], eval_: Sequence[ImageFacts], max_distance: int,
               min_similarity: float, all_pairs_budget: int = ALL_PAIRS_BUDGET) -> List[Leak]:
    """Pairs of different bytes whose thumbnails correlate at `min_similarity` or more (see the module doc)."""
    leaks = []
    if len(train) * len(eval_) <= all_pairs_budget:
        for t, e, score in _all_pairs(train, eval_, min_similarity):
            if t.sha256 != e.sha256:
                leaks.append(Leak(t.path, e.path, "near", bin(t.dhash ^ e.dhash).count("1"), score))
    else:
        for t, e, distance in _candidates(train, eval_, max_distance):
            score = similarity(t, e)
            if score >= min_similarity:
                leaks.append(Leak(t.path, e.path, "near", distance, score))
    return sorted(leaks, key=lambda leak: (-leak.similarity, leak.held_out_path, leak.train_path))


def find_leaks(facts: Sequence[ImageFacts], max_distance: int, min_similarity: float) -> List[Leak]:
    """Train against validation and test together: exact copies first, then near-duplicates, each pair once."""
    train = [f for f in facts if f.split == TRAIN_SPLIT]
    eval_ = [f for f in facts if f.split in HELD_OUT_SPLITS]
    return exact_leaks(train, eval_) + near_leaks(train, eval_, max_distance, min_similarity)


def check_leakage(leaks: Sequence[Leak], max_distance: int, min_similarity: float, is_error: bool) -> List[Finding]:
    """One finding for all leaks: a warning, or blocking with validation.leakage_is_error."""
    if not leaks:
        return []
    exact = sum(leak.kind == "exact" for leak in leaks)
    by_eval: Dict[str, List[Leak]] = collections.defaultdict(list)
    for leak in leaks:
        by_eval[leak.held_out_path].append(leak)
    shown = ", ".join(
        f"{path} ~ {pairs[0].train_path} ({pairs[0].kind}, {pairs[0].distance} bits"
        + (f"; and {len(pairs) - 1} more train image(s))" if len(pairs) > 1 else ")")
        for path, pairs in list(by_eval.items())[:5])
    return [Finding("leakage", BLOCKING if is_error else WARNING, (
        f"{len(by_eval)} held-out (validation/test) image(s) are also in train: {exact} identical pair(s), {len(leaks) - exact} "
        f"near-duplicate pair(s) (8x8 thumbnail correlation >= validation.near_duplicate_min_similarity="
        f"{min_similarity}; dHash bits shown), "
        f"e.g. {shown}; keep each picture in one split only (the report lists every pair)"))]
