"""Train/held-out leakage: the same image, or a near-duplicate, in train and in validation or test.

A held-out image that is also (nearly) in train measures memory, not
generalisation: in validation it biases the epoch choice, in test the verdict.
Exact copies are found by the SHA-256 of the encoded bytes; near-duplicates
(re-encoded, resized, slightly cropped or recoloured) in two steps:

1. candidates: every train/held-out pair while there are at most ALL_PAIRS_BUDGET
   of them (numpy compares 10 million pairs in about a second); beyond that,
   pairs whose 64-bit difference hashes are within `max_distance` bits. dHash is
   cheap but misses re-encoded or resized copies of tiny images, and collides
   on small simple ones (distinct handwritten digits share dHashes by the
   thousand). Its search uses the pigeonhole principle: split the 64 bits into
   `max_distance + 1` bands; two hashes within `max_distance` bits agree on one band.
2. confirmation, all three needed (bench/bench_duplicates.py measures each on real images):
   - structure: the Pearson correlation of the two 8x8 grey thumbnails reaches
     `min_similarity` (it ignores brightness and contrast changes, and a 4% crop
     keeps it near 0.9 on photos);
   - a clear winner: the pair's distance (1 - correlation) is at most `ratio`
     times the held-out image's distance to its runner-up, the best train image
     that is another picture. A copy matches its original far better than
     anything else; a handwritten 1 or a drawn circle matches dozens of others
     almost as well (Lowe's ratio test). Train images that are themselves
     copies of the match (correlation >= SAME_PICTURE, same colour) are not
     runners-up, so a picture in train twice still leaks;
   - the same colour: mean R, G, B minus their mean differ by at most
     CHROMA_TOLERANCE + CHROMA_RELATIVE of the larger one (brightening keeps it;
     a navy circle on sky blue is not a black circle on teal).
"""
import base64
import collections
from dataclasses import dataclass
from typing import Dict, List, Sequence, Tuple

import numpy as np

from components.image_validation.checks import BLOCKING, WARNING, Finding
from components.image_validation.facts import DHASH_BITS, THUMB_SIDE, ImageFacts
from schemas.features import GOLDEN_SPLIT, HELD_OUT_SPLITS, TRAIN_SPLIT

ALL_PAIRS_BUDGET = 200_000_000  # train x held-out pairs compared exhaustively (a few seconds); above: dHash candidates
_BLOCK_CELLS = 20_000_000       # similarity-matrix cells computed at once (~80 MB each in float32)
FLAT_STD = 2.0  # grey levels: a thumbnail this uniform has no pattern to correlate (blank, one colour)
SAME_PICTURE = 0.985  # correlation at which two train images of one colour count as one picture (runner-up)
RUNNER_UP_POOL = 8    # best-scoring train images searched for the runner-up
RUNNER_UP_SAMPLE = 4096  # beyond ALL_PAIRS_BUDGET: train images (evenly spaced) also searched for runner-ups
CHROMA_TOLERANCE = 8.0   # grey levels of mean-colour difference always allowed
CHROMA_RELATIVE = 0.25   # ... plus this share of the stronger colour (contrast scales it)


@dataclass(frozen=True)
class Leak:
    train_path: str
    held_out_path: str
    kind: str       # "exact" (same bytes) or "near" (confirmed by the thumbnails and colours, module doc)
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


def dhash_candidates(train: Sequence[ImageFacts], eval_: Sequence[ImageFacts], max_distance: int):
    """(train, held-out, distance) of different bytes whose dHashes differ in at most `max_distance` bits."""
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


def pattern(fact: ImageFacts) -> np.ndarray:
    """The thumbnail minus its mean, scaled to unit length; zeros when it is flat."""
    pixels = np.frombuffer(base64.b64decode(fact.thumb), np.uint8).astype(np.float64)
    pixels = pixels - pixels.mean()
    if pixels.std() < FLAT_STD:
        return np.zeros_like(pixels)
    return pixels / np.linalg.norm(pixels)


def similarity(a: ImageFacts, b: ImageFacts) -> float:
    """Correlation of the grey thumbnails. A flat one (blank, one colour, fine noise) scores 0 with
    anything: it has no pattern to match, and its grey level cannot tell red from green."""
    return float(pattern(a) @ pattern(b))


def colours_agree(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """[m, n] booleans: do chroma rows a [m, 3] and b [n, 3] agree within the tolerance (module doc)?"""
    diff = np.abs(a[:, None, :] - b[None, :, :]).max(axis=-1)
    stronger = np.maximum(np.abs(a).max(axis=-1)[:, None], np.abs(b).max(axis=-1)[None, :])
    return diff <= CHROMA_TOLERANCE + CHROMA_RELATIVE * stronger


class _Train:
    """The train side, as arrays: unit thumbnail patterns [n, 64] and chromas [n, 3]."""

    def __init__(self, train: Sequence[ImageFacts]):
        self.facts = list(train)
        self.patterns = np.array([pattern(f) for f in train], np.float32).reshape(len(train), THUMB_SIDE ** 2)
        self.chromas = np.array([f.chroma for f in train], np.float64).reshape(len(train), 3)

    def same_picture(self, i: int, others: np.ndarray) -> np.ndarray:
        scores = self.patterns[others] @ self.patterns[i]
        return (scores >= SAME_PICTURE) & colours_agree(self.chromas[i:i + 1], self.chromas[others])[0]


def _confirm(train: _Train, held_out: ImageFacts, columns: np.ndarray, scores: np.ndarray,
             min_similarity: float, ratio: float, pairable: int) -> List[Tuple[int, float]]:
    """(train index, correlation) of the train images among `columns[:pairable]` that this held-out image
    copies; the runner-up is searched among all `columns` (`scores` are the correlations with them)."""
    chroma = np.array([held_out.chroma], np.float64)
    found = []
    pool = np.argsort(-scores)[:RUNNER_UP_POOL]
    for k in np.nonzero(scores[:pairable] >= min_similarity)[0]:
        if not colours_agree(chroma, train.chromas[columns[k:k + 1]])[0, 0]:
            continue
        others = pool[pool != k]
        rivals = others[~train.same_picture(columns[k], columns[others])] if len(others) else others
        runner_up = float(scores[rivals[0]]) if len(rivals) else (float(scores[others[-1]]) if len(others) else -1.0)
        if 1.0 - scores[k] <= ratio * (1.0 - runner_up):
            found.append((int(columns[k]), float(scores[k])))
    return found


def _all_pairs(train: _Train, eval_: Sequence[ImageFacts], min_similarity: float, ratio: float):
    """(train, held-out, similarity) of every confirmed pair, scoring blocks of held-out images at once."""
    e_pattern = np.array([pattern(f) for f in eval_], np.float32).reshape(len(eval_), THUMB_SIDE ** 2)
    columns = np.arange(len(train.facts))
    block = max(1, _BLOCK_CELLS // max(len(train.facts), 1))
    for start in range(0, len(eval_), block):
        scores = e_pattern[start:start + block] @ train.patterns.T
        for i in np.nonzero(scores.max(axis=1, initial=-1.0) >= min_similarity)[0]:
            for j, score in _confirm(train, eval_[start + i], columns, scores[i], min_similarity, ratio, len(columns)):
                yield train.facts[j], eval_[start + i], score


def _candidate_pairs(train: _Train, eval_: Sequence[ImageFacts], max_distance: int, min_similarity: float,
                     ratio: float):
    """The same on dHash candidates only; runner-ups are searched among the candidates and an evenly spaced
    sample of RUNNER_UP_SAMPLE train images (a handwritten 1 has look-alikes in any sample of thousands)."""
    index = {id(f): i for i, f in enumerate(train.facts)}
    by_eval: Dict[int, List[int]] = collections.defaultdict(list)
    position = {id(e): n for n, e in enumerate(eval_)}
    for t, e, _ in dhash_candidates(train.facts, eval_, max_distance):
        by_eval[position[id(e)]].append(index[id(t)])
    sample = np.unique(np.linspace(0, len(train.facts) - 1, min(RUNNER_UP_SAMPLE, len(train.facts))).astype(int))
    for n, candidates in by_eval.items():
        columns = np.concatenate([candidates, np.setdiff1d(sample, candidates)]).astype(int)
        scores = train.patterns[columns] @ pattern(eval_[n]).astype(np.float32)
        for j, score in _confirm(train, eval_[n], columns, scores, min_similarity, ratio, len(candidates)):
            yield train.facts[j], eval_[n], score


def near_leaks(train: Sequence[ImageFacts], eval_: Sequence[ImageFacts], max_distance: int,
               min_similarity: float, ratio: float, all_pairs_budget: int = ALL_PAIRS_BUDGET) -> List[Leak]:
    """Pairs of different bytes confirmed as near-duplicates (see the module doc)."""
    arrays = _Train(train)
    pairs = (_all_pairs(arrays, eval_, min_similarity, ratio) if len(train) * len(eval_) <= all_pairs_budget
             else _candidate_pairs(arrays, eval_, max_distance, min_similarity, ratio))
    leaks = [Leak(t.path, e.path, "near", bin(t.dhash ^ e.dhash).count("1"), score)
             for t, e, score in pairs if t.sha256 != e.sha256]
    return sorted(leaks, key=lambda leak: (-leak.similarity, leak.held_out_path, leak.train_path))


def find_leaks(facts: Sequence[ImageFacts], max_distance: int, min_similarity: float, ratio: float) -> List[Leak]:
    """Train against validation, test and golden together: exact copies first, then near-duplicates, each pair once."""
    train = [f for f in facts if f.split == TRAIN_SPLIT]
    eval_ = [f for f in facts if f.split in (*HELD_OUT_SPLITS, GOLDEN_SPLIT)]
    return exact_leaks(train, eval_) + near_leaks(train, eval_, max_distance, min_similarity, ratio)


def check_leakage(leaks: Sequence[Leak], min_similarity: float, ratio: float, is_error: bool) -> List[Finding]:
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
        f"{len(by_eval)} held-out (validation/test) image(s) are also in train: {exact} identical pair(s), "
        f"{len(leaks) - exact} "
        f"near-duplicate pair(s) (8x8 thumbnail correlation >= validation.near_duplicate_min_similarity="
        f"{min_similarity}, clearly above the runner-up (validation.near_duplicate_ratio={ratio}), same colour; "
        f"dHash bits shown), "
        f"e.g. {shown}; keep each picture in one split only (the report lists every pair)"))]
