"""The three ways cxlm-mine mines, as library calls that return what they found: two text files (embedded by a
model, read from cxlm-embed's .npy files, or the character-trigram baseline), the BUCC 2018 task, and
translations hidden among held-out pairs. The embedder None stands for the baseline throughout.
The algorithm itself (kNN, margin, strategies, thresholds) is evaluation/mining.py."""

from dataclasses import dataclass
from typing import Dict, List, Optional, Set, Tuple

import numpy as np

from .. import text_files
from ..errors import UserInputError, check_input_file
from ..text_files import text_lines
from . import bucc, mining, retrieval, tatoeba


@dataclass
class MiningSettings:
    k: int = 4  # neighbours of the margin
    strategy: str = "max"  # mining.STRATEGIES
    index: str = "auto"  # faiss index: auto, flat or ivf
    batch_size: int = 64  # sentences embedded per batch


def read_lines(path: str) -> List[str]:
    """text_files.read_lines, for a text to mine: an empty one is an error."""
    lines = text_files.read_lines(path)
    if not lines:
        raise UserInputError(f"{path} is empty: nothing to mine")
    return lines


def load_embeddings(path: str, lines: int, text: str) -> np.ndarray:
    """cxlm-embed's .npy of `text` (one row a line), memory-mapped, checked against the text's line count."""
    check_input_file(path)
    try:
        vectors = np.load(path, mmap_mode="r", allow_pickle=False)
    except ValueError as err:
        raise UserInputError(f"{path} is not a NumPy .npy file ({err})") from None
    if vectors.ndim != 2 or vectors.dtype not in (np.float16, np.float32):
        raise UserInputError(
            f"{path} holds a {vectors.dtype} array of shape {vectors.shape}: expected lines x dimensions, "
            "float16 or float32 (cxlm-embed writes them)"
        )
    if len(vectors) != lines:
        raise UserInputError(f"{path} has {len(vectors)} rows but {text} has {lines} lines: one row a line")
    return vectors


def first_rows(line_rows: np.ndarray) -> np.ndarray:
    """For each distinct sentence (numbered in first-seen order), the first line holding it."""
    _, first = np.unique(line_rows, return_index=True)
    return first


def read_gold(path: str, source: List[str], target: List[str]) -> Set[Tuple[str, str]]:
    """The true pairs of a TSV of 1-based line numbers (source line TAB target line), as sentence pairs."""
    gold = set()
    for number, line in enumerate(text_lines(path), 1):
        fields = line.split("\t")
        if len(fields) != 2 or not all(f.strip().isdigit() for f in fields):
            raise UserInputError(f"{path}: line {number} is not 'source line<TAB>target line' (1-based numbers)")
        i, j = int(fields[0]), int(fields[1])
        if not (1 <= i <= len(source) and 1 <= j <= len(target)):
            raise UserInputError(
                f"{path}: line {number} names lines {i} and {j}, beyond the {len(source)} source and "
                f"{len(target)} target lines"
            )
        gold.add((source[i - 1], target[j - 1]))
    if not gold:
        raise UserInputError(f"{path} is empty: no gold pairs")
    return gold


def mine_sentences(
    source: List[str], target: List[str], source_vectors, target_vectors, settings: MiningSettings
) -> Tuple[np.ndarray, List[Tuple[str, str]]]:
    """(margin scores best first, the (source, target) sentence pairs they score) of distinct sentences."""
    if source_vectors.shape[1] != target_vectors.shape[1]:
        raise UserInputError(
            f"the source embeddings are {source_vectors.shape[1]} wide and the target's "
            f"{target_vectors.shape[1]}: they must come from one model"
        )
    found = mining.margin_candidates(source_vectors, target_vectors, settings.k, settings.strategy, settings.index)
    return found.scores, [(source[i], target[j]) for i, j in zip(found.source, found.target)]


def mine_collections(
    embedder, source: List[str], target: List[str], source_lang: str, target_lang: str, settings: MiningSettings
) -> Tuple[np.ndarray, List[Tuple[str, str]]]:
    """mine_sentences of two collections of distinct sentences embedded by `embedder` (a SentenceEmbedder or
    any with its interface), or with embedder None by the character-trigram baseline (sparse, exact kNN)."""
    if embedder is None:
        x, y = retrieval.char_ngram_vectors(source, target)
        k = settings.k
        found = mining.candidates_of_neighbours(
            mining.sparse_knn(x, y, k), mining.sparse_knn(y, x, k), settings.strategy
        )
        return found.scores, [(source[i], target[j]) for i, j in zip(found.source, found.target)]
    progress = max(len(source), len(target)) > 2000
    x = embedder.embed(source, source_lang, settings.batch_size, progress=progress)
    y = embedder.embed(target, target_lang, settings.batch_size, progress=progress)
    return mine_sentences(source, target, x, y, settings)


def threshold_and_scores(
    scores, pairs, gold, threshold: Optional[float], tune: bool
) -> Tuple[Optional[float], Optional[Dict]]:
    """The threshold to keep pairs at (tuned for F1 on gold with tune) and, given gold, its precision/recall/F1."""
    if tune:
        return mining.tune_threshold(scores, pairs, gold)
    if gold is None:
        return threshold, None
    kept = {p for s, p in zip(scores, pairs) if threshold is None or s >= threshold}
    return threshold, mining.precision_recall_f1(kept, gold)


def _mine_bucc_split(embedder, split: bucc.Split, lang: str, settings: MiningSettings):
    foreign, english = sorted(set(split.foreign.values())), sorted(set(split.english.values()))
    scores, pairs = mine_collections(embedder, foreign, english, lang, "en", settings)
    gold = None
    if split.gold is not None:
        gold = {(split.foreign[f], split.english[e]) for f, e in split.gold}
    return scores, pairs, gold


def mine_bucc(embedder, directory: str, lang: str, settings: MiningSettings, test: bool) -> Tuple[Dict, List[str]]:
    """BUCC 2018: the threshold tuned on the training split's gold, scored there and on the sample split; with
    test, the test split's mined id pairs (foreign id TAB English id, as BUCC's scorer reads them)."""
    splits = bucc.available_splits(directory, lang)
    training = bucc.read_split(directory, lang, "training")
    if training.gold is None:
        raise UserInputError(f"no {lang}-en.training.gold below {directory}: the threshold is tuned on it")
    scores, pairs, gold = _mine_bucc_split(embedder, training, lang, settings)
    threshold, measured = mining.tune_threshold(scores, pairs, gold)
    report = {"lang": lang, "strategy": settings.strategy, "k": settings.k, "threshold": threshold}
    report["training"] = measured
    if "sample" in splits:
        scores, pairs, gold = _mine_bucc_split(embedder, bucc.read_split(directory, lang, "sample"), lang, settings)
        if gold is not None:
            report["sample"] = mining.precision_recall_f1({p for s, p in zip(scores, pairs) if s >= threshold}, gold)
    lines = []
    if "test" in splits and test:
        split = bucc.read_split(directory, lang, "test")
        scores, pairs, _ = _mine_bucc_split(embedder, split, lang, settings)
        ids_of = {}
        for side, sentences in (("f", split.foreign), ("e", split.english)):
            for sentence_id, sentence in sentences.items():
                ids_of.setdefault((side, sentence), []).append(sentence_id)
        lines = [
            f"{f}\t{e}"
            for s, (a, b) in zip(scores, pairs)
            if s >= threshold
            for f in ids_of[("f", a)]
            for e in ids_of[("e", b)]
        ]
        report["test_pairs"] = len(lines)
    return report, lines


def mine_hidden(embedder, directory: str, hidden: int, settings: MiningSettings) -> Dict:
    """Per language of a directory of en-<lang> pairs: `hidden` translations hidden among the other pairs'
    sentences (each kept on one side only), mined, the threshold tuned on them; and the average over languages."""
    report = {}
    for lang, (foreign, english) in tatoeba.en_x_directory(directory).items():
        if len(foreign) < 2 * hidden:
            raise UserInputError(f"{directory}: en-{lang} has {len(foreign)} pairs, fewer than 2 x --hidden {hidden}")
        found = mining.hide_translations(foreign, english, hidden)
        scores, pairs = mine_collections(embedder, found.foreign, found.english, lang, "en", settings)
        gold = {(found.foreign[i], found.english[j]) for i, j in found.gold}
        threshold, measured = mining.tune_threshold(scores, pairs, gold)
        report[lang] = {
            **measured,
            "threshold": threshold,
            "foreign": len(found.foreign),
            "english": len(found.english),
        }
    report["average"] = {
        key: float(np.mean([r[key] for r in report.values()])) for key in ("precision", "recall", "f1")
    }
    return report
