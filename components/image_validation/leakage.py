"""Train/held-out leakage: the same image, or a near-duplicate, in train and in validation or test.

A held-out image that is also (nearly) in train measures memory, not
generalisation: in validation it biases the epoch choice, in test the verdict. Exact copies are found by the SHA-256 of the encoded bytes;
near-duplicates (re-encoded, resized, slightly recoloured) by the Hamming
distance of 64-bit difference hashes.

Near-duplicate search uses the pigeonhole principle instead of comparing every
train image with every held-out image: split the 64 bits into `max_distance + 1`
bands; two hashes within `max_distance` bits agree exactly on at least one band,
so only images sharing a band value are compared.
"""
import collections
from dataclasses import dataclass
from typing import Dict, List, Sequence, Tuple

from components.image_validation.checks import BLOCKING, WARNING, Finding
from components.image_validation.facts import DHASH_BITS, ImageFacts
from schemas.features import HELD_OUT_SPLITS, TRAIN_SPLIT


@dataclass(frozen=True)
class Leak:
    train_path: str
    held_out_path: str
    kind: str       # "exact" (same bytes) or "near" (dHash within the distance)
    distance: int   # Hamming distance of the dHashes (0 for most exact copies)

    def to_dict(self):
        return {"train": self.train_path, "held_out": self.held_out_path, "kind": self.kind, "distance": self.distance}


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


def near_leaks(train: Sequence[ImageFacts], eval_: Sequence[ImageFacts], max_distance: int) -> List[Leak]:
    """Pairs (train, eval) of different bytes whose dHashes differ in at most `max_distance` bits."""
    bands = _bands(max_distance)
    index: Dict[Tuple[int, int], List[ImageFacts]] = collections.defaultdict(list)
    for t in train:
        for i, (shift, mask) in enumerate(bands):
            index[(i, (t.dhash >> shift) & mask)].append(t)
    leaks = {}
    for e in eval_:
        for i, (shift, mask) in enumerate(bands):
            for t in index.get((i, (e.dhash >> shift) & mask), []):
                distance = bin(t.dhash ^ e.dhash).count("1")
                if distance <= max_distance and t.sha256 != e.sha256:
                    leaks[(t.path, e.path)] = Leak(t.path, e.path, "near", distance)
    return sorted(leaks.values(), key=lambda leak: (leak.distance, leak.held_out_path, leak.train_path))


def find_leaks(facts: Sequence[ImageFacts], max_distance: int) -> List[Leak]:
    """Train against validation and test together: exact copies first, then near-duplicates, each pair once."""
    train = [f for f in facts if f.split == TRAIN_SPLIT]
    eval_ = [f for f in facts if f.split in HELD_OUT_SPLITS]
    return exact_leaks(train, eval_) + near_leaks(train, eval_, max_distance)


def check_leakage(leaks: Sequence[Leak], max_distance: int, is_error: bool) -> List[Finding]:
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
        f"near-duplicate pair(s) (dHash within validation.near_duplicate_hamming={max_distance} bits), "
        f"e.g. {shown}; keep each picture in one split only (the report lists every pair)"))]
