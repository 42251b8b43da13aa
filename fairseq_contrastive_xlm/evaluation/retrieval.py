"""Cross-lingual sentence retrieval: for each sentence, is its translation the nearest neighbour?

Two scores (Artetxe & Schwenk 2019): plain cosine similarity, and the ratio margin, which divides the
cosine of a candidate pair by the average cosine of each side to its k nearest neighbours on the other
side, so that "hub" sentences close to everything stop winning:

    margin(x, y) = cos(x, y) / ( sum_{z in NN_k(x)} cos(x, z) / 2k + sum_{z in NN_k(y)} cos(y, z) / 2k )

Row i of the source and row i of the target are translations; accuracy is the share of rows whose best
candidate is their own translation, in each direction.
"""

from typing import Dict, List

import numpy as np


def cosine(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    x = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    y = y / np.maximum(np.linalg.norm(y, axis=1, keepdims=True), 1e-12)
    return x @ y.T


def ratio_margin(similarity: np.ndarray, k: int = 4) -> np.ndarray:
    """Margin scores from a source x target cosine matrix."""
    k_src = min(k, similarity.shape[1])
    k_tgt = min(k, similarity.shape[0])
    # The k largest of each row (source -> its nearest targets) and of each column.
    source_neighbours = -np.sort(-similarity, axis=1)[:, :k_src].sum(axis=1) / (2 * k_src)
    target_neighbours = -np.sort(-similarity, axis=0)[:k_tgt, :].sum(axis=0) / (2 * k_tgt)
    denominator = source_neighbours[:, None] + target_neighbours[None, :]
    # A sentence sharing nothing with any candidate (possible for a lexical matcher) scores 0, not 0/0.
    return np.divide(similarity, denominator, out=np.zeros_like(similarity), where=denominator > 0)


def top1_accuracy(scores: np.ndarray) -> float:
    """% of rows whose highest-scoring column is the row's own index."""
    return 100.0 * float(np.mean(scores.argmax(axis=1) == np.arange(scores.shape[0])))


def retrieval_accuracy(source: np.ndarray, target: np.ndarray, k: int = 4) -> Dict[str, Dict[str, float]]:
    """Top-1 accuracy source->target and target->source, by cosine and by ratio margin."""
    if source.shape != target.shape:
        raise ValueError(f"source and target must be line-aligned: {source.shape} vs {target.shape}")
    return accuracy_of_similarity(cosine(source, target), k)


def char_ngram_vectors(source: List[str], target: List[str], n: int = 3):
    """Sparse character n-gram TF-IDF vectors of unit length (n-grams within words, padded by a space; the
    vocabulary and document frequencies from both sides): a lexical matcher that knows nothing of meaning, the
    reference row of every retrieval and mining table. Shared placeholders, names, numbers and loanwords are what
    it finds."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    vectorizer = TfidfVectorizer(analyzer="char_wb", ngram_range=(n, n), lowercase=True, sublinear_tf=True)
    vectors = vectorizer.fit_transform(list(source) + list(target))
    return vectors[: len(source)], vectors[len(source) :]


def char_ngram_similarity(source: List[str], target: List[str], n: int = 3) -> np.ndarray:
    """Cosine of char_ngram_vectors: source x target."""
    x, y = char_ngram_vectors(source, target, n)
    return (x @ y.T).toarray()


def accuracy_of_similarity(similarity: np.ndarray, k: int = 4) -> Dict[str, Dict[str, float]]:
    """Top-1 accuracy both ways from a source x target cosine matrix, by cosine and by ratio margin."""
    margin = ratio_margin(similarity, k)
    return {
        "cosine": {"src2tgt_acc": top1_accuracy(similarity), "tgt2src_acc": top1_accuracy(similarity.T)},
        "margin": {"src2tgt_acc": top1_accuracy(margin), "tgt2src_acc": top1_accuracy(margin.T)},
    }
