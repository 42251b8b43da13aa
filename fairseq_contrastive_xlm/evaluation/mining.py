"""Bitext mining: find the translations in two unaligned collections, as LASER and XTREME do it.

Every sentence of each side gets its k nearest neighbours on the other side (cosine, from faiss: an exact
inner-product index, or an inverted-file index above IVF_ABOVE vectors). A candidate pair is scored by the ratio
margin (Artetxe & Schwenk 2019, k = 4):

    margin(x, y) = cos(x, y) / ( (mean cos of x to its k neighbours + mean cos of y to its k neighbours) / 2 )

which is the formula of evaluation/retrieval.ratio_margin, computed here from the k neighbours alone: nothing
ever holds an n x n matrix, so a million sentences a side mine in memory proportional to n * k.

Strategies (LASER's mine_bitexts): forward (each source's best target), backward (each target's best source),
intersect (pairs that are both), max (forward and backward candidates together, best score first, each sentence
used once). Pairs scoring at least a threshold are kept; tune_threshold picks the one that maximises F1 on gold.
"""

from typing import Dict, List, NamedTuple, Sequence, Set, Tuple

import numpy as np

from ..optional import require

STRATEGIES = ("max", "intersect", "forward", "backward")
# Above this many database vectors the IVF index: at 100,000 a side it mined 3.7x faster than the exact index (13.5 s
# against 50.5 s on 2 cores) and agreed on 96.4% of nearest neighbours, on unclustered random vectors, its worst
# case; at 10,000 the exact index takes 0.6 s (cxlm-bench-mining; docs/performance.md, "Mining").
IVF_ABOVE = 100_000


def unit_rows(x: np.ndarray) -> np.ndarray:
    """float32, C-contiguous, unit-length rows (faiss's inner product is then the cosine)."""
    x = np.ascontiguousarray(x, dtype=np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def build_index(database: np.ndarray, kind: str = "auto"):
    """A faiss inner-product index over unit-length rows: 'flat' (exact), 'ivf', or 'auto' (ivf above IVF_ABOVE)."""
    faiss = require("faiss")

    n, dim = database.shape
    if kind == "auto":
        kind = "ivf" if n > IVF_ABOVE else "flat"
    if kind == "flat":
        index = faiss.IndexFlatIP(dim)
    elif kind == "ivf":
        lists = max(1, int(4 * np.sqrt(n)))  # faiss's guideline: 4 sqrt(n) to 16 sqrt(n) lists
        index = faiss.IndexIVFFlat(faiss.IndexFlatIP(dim), dim, lists, faiss.METRIC_INNER_PRODUCT)
        sample = database[np.random.default_rng(0).permutation(n)[: min(n, 64 * lists)]]
        index.train(sample)
        index.nprobe = min(lists, 16)
    else:
        raise ValueError(f"unknown index '{kind}' (expected flat, ivf or auto)")
    index.add(database)
    return index


def knn(queries: np.ndarray, database: np.ndarray, k: int, kind: str = "auto", block: int = 65536):
    """(similarities, indices), both queries x k, best first; queries searched a block at a time."""
    index = build_index(database, kind)
    k = min(k, database.shape[0])
    sims = np.empty((len(queries), k), dtype=np.float32)
    ids = np.empty((len(queries), k), dtype=np.int64)
    for start in range(0, len(queries), block):
        sims[start : start + block], ids[start : start + block] = index.search(queries[start : start + block], k)
    return sims, ids


class Candidates(NamedTuple):
    scores: np.ndarray  # best first
    source: np.ndarray  # row of the source collection
    target: np.ndarray  # row of the target collection


def sparse_knn(queries, database, k: int, budget: int = 1 << 25):
    """knn for sparse unit rows (the char-ngram baseline), exact: a block of queries at a time, each block's
    similarities at most `budget` entries."""
    k = min(k, database.shape[0])
    sims = np.empty((queries.shape[0], k), dtype=np.float32)
    ids = np.empty((queries.shape[0], k), dtype=np.int64)
    block = max(1, budget // max(1, database.shape[0]))
    for start in range(0, queries.shape[0], block):
        similarity = (queries[start : start + block] @ database.T).toarray()
        top = np.argpartition(-similarity, k - 1, axis=1)[:, :k]
        values = np.take_along_axis(similarity, top, axis=1)
        order = np.argsort(-values, axis=1, kind="stable")
        sims[start : start + block] = np.take_along_axis(values, order, axis=1)
        ids[start : start + block] = np.take_along_axis(top, order, axis=1)
    return sims, ids


def margin_candidates(x: np.ndarray, y: np.ndarray, k: int = 4, strategy: str = "max", kind: str = "auto"):
    """Mined pairs (x row, y row) with their ratio-margin scores, best first, by the given strategy."""
    x, y = unit_rows(x), unit_rows(y)
    return candidates_of_neighbours(knn(x, y, k, kind), knn(y, x, k, kind), strategy)


def candidates_of_neighbours(x2y, y2x, strategy: str = "max") -> "Candidates":
    """margin_candidates from each side's k nearest neighbours on the other: (similarities, indices) each."""
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy '{strategy}' (expected one of {', '.join(STRATEGIES)})")
    (x2y_sim, x2y_ids), (y2x_sim, y2x_ids) = x2y, y2x
    x_mean, y_mean = x2y_sim.mean(axis=1), y2x_sim.mean(axis=1)
    forward = x2y_sim / ((x_mean[:, None] + y_mean[x2y_ids]) / 2)  # x -> its k targets
    backward = y2x_sim / ((y_mean[:, None] + x_mean[y2x_ids]) / 2)  # y -> its k sources
    rows_x, rows_y = np.arange(len(x2y_ids)), np.arange(len(y2x_ids))
    best_f, best_b = forward.argmax(axis=1), backward.argmax(axis=1)
    fwd = Candidates(forward[rows_x, best_f], rows_x, x2y_ids[rows_x, best_f])
    bwd = Candidates(backward[rows_y, best_b], y2x_ids[rows_y, best_b], rows_y)
    if strategy == "forward":
        found = fwd
    elif strategy == "backward":
        found = bwd
    elif strategy == "intersect":
        keep = bwd.source[fwd.target] == fwd.source  # x's best y has x as its best
        found = Candidates(fwd.scores[keep], fwd.source[keep], fwd.target[keep])
    else:
        found = _each_sentence_once(Candidates(*(np.concatenate([a, b]) for a, b in zip(fwd, bwd))))
    order = np.argsort(-found.scores, kind="stable")
    return Candidates(found.scores[order], found.source[order], found.target[order])


def _each_sentence_once(candidates: Candidates) -> Candidates:
    """Best score first, keep a pair only if neither of its sentences is in a pair kept before (LASER's max)."""
    order = np.argsort(-candidates.scores, kind="stable")
    seen_x, seen_y, keep = set(), set(), []
    for i in order:
        sx, sy = int(candidates.source[i]), int(candidates.target[i])
        if sx not in seen_x and sy not in seen_y:
            seen_x.add(sx)
            seen_y.add(sy)
            keep.append(i)
    keep = np.asarray(keep, dtype=np.int64)
    return Candidates(candidates.scores[keep], candidates.source[keep], candidates.target[keep])


def precision_recall_f1(predicted: Set[Tuple], gold: Set[Tuple]) -> Dict[str, float]:
    found = len(predicted & gold)
    precision = found / len(predicted) if predicted else 0.0
    recall = found / len(gold) if gold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": 100 * precision, "recall": 100 * recall, "f1": 100 * f1, "found": found}


def tune_threshold(scores: Sequence[float], pairs: Sequence[Tuple], gold: Set[Tuple]) -> Tuple[float, Dict]:
    """The threshold (keep pairs scoring >= it) that maximises F1 against gold, and the scores it gets.
    scores and pairs: the mined candidates, best first."""
    if not len(scores):
        return float("inf"), precision_recall_f1(set(), gold)
    hits = np.cumsum([pair in gold for pair in pairs])
    kept = np.arange(1, len(pairs) + 1)
    precision, recall = hits / kept, hits / max(len(gold), 1)
    f1 = np.divide(2 * precision * recall, precision + recall, out=np.zeros(len(kept)), where=precision + recall > 0)
    best = int(f1.argmax())
    threshold = float(scores[best])
    return threshold, precision_recall_f1({p for s, p in zip(scores, pairs) if s >= threshold}, gold)


def unique_sentences(sentences: List[str]) -> Tuple[List[str], np.ndarray]:
    """(the distinct sentences in first-seen order, for each input line the row of its sentence)."""
    rows: Dict[str, int] = {}
    line_rows = np.fromiter((rows.setdefault(s, len(rows)) for s in sentences), dtype=np.int64, count=len(sentences))
    return list(rows), line_rows


class MiningSet(NamedTuple):
    foreign: List[str]
    english: List[str]
    gold: Set[Tuple[int, int]]  # (foreign row, English row) of the hidden translations


def hide_translations(foreign: List[str], english: List[str], hidden: int, seed: int = 0) -> MiningSet:
    """A mining set from line-aligned pairs: the first `hidden` pairs are the translations to find; of the rest,
    half give a foreign sentence without its English side and half an English sentence without its foreign side;
    both sides shuffled."""
    if not 0 < hidden < len(foreign):
        raise ValueError(f"hidden must be between 1 and {len(foreign) - 1}, got {hidden}")
    middle = hidden + (len(foreign) - hidden) // 2
    foreign_rows = list(range(hidden)) + list(range(hidden, middle))
    english_rows = list(range(hidden)) + list(range(middle, len(english)))
    rng = np.random.default_rng(seed)
    foreign_order, english_order = rng.permutation(len(foreign_rows)), rng.permutation(len(english_rows))
    foreign_at = {foreign_rows[old]: new for new, old in enumerate(foreign_order)}
    english_at = {english_rows[old]: new for new, old in enumerate(english_order)}
    return MiningSet(
        [foreign[foreign_rows[i]] for i in foreign_order],
        [english[english_rows[i]] for i in english_order],
        {(foreign_at[i], english_at[i]) for i in range(hidden)},
    )
