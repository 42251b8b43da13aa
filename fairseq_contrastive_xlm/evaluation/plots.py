"""The pictures the evaluation commands write (PNG): confusion matrices, accuracy per epoch, attention,
embedding maps. Each file is written under a temporary name and renamed, so none is ever half-written."""

import math
from typing import Dict, List, Sequence

import matplotlib

matplotlib.use("Agg")  # files only; no display needed
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from ..atomic import atomic_path  # noqa: E402


def save(fig, path: str, dpi: int = 120):
    try:
        # matplotlib picks the format by the name's extension: the temporary name keeps ".png"
        with atomic_path(path, suffix=".partial.png") as partial:
            fig.savefig(partial, dpi=dpi, bbox_inches="tight")
    finally:
        plt.close(fig)
    return path


def _short(label: str) -> str:
    return label if len(label) <= 7 else label[:6] + "."


def _confusion(ax, matrix: np.ndarray, labels: Sequence[str], title: str):
    """Rows: gold label, columns: prediction; cells coloured by the share of their row, with counts."""
    counts = np.asarray(matrix, dtype=float)
    shares = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    ax.imshow(shares, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(labels)), [_short(label) for label in labels], fontsize=7)
    ax.set_yticks(range(len(labels)), [_short(label) for label in labels], fontsize=7)
    for i in range(len(labels)):
        for j in range(len(labels)):
            colour = "white" if shares[i, j] > 0.6 else "black"
            ax.text(
                j,
                i,
                f"{int(counts[i, j])}\n{100 * shares[i, j]:.0f}%",
                ha="center",
                va="center",
                fontsize=6,
                color=colour,
            )
    accuracy = 100 * np.trace(counts) / max(counts.sum(), 1)
    ax.set_title(f"{title} ({accuracy:.1f}%)", fontsize=9)


def confusion_matrices(matrices: Dict[str, np.ndarray], labels: Sequence[str], path: str, title: str):
    """One panel per language (rows gold, columns predicted)."""
    columns = min(5, len(matrices))
    rows = math.ceil(len(matrices) / columns)
    fig, axes = plt.subplots(rows, columns, figsize=(2.8 * columns, 2.8 * rows), squeeze=False, layout="constrained")
    for ax, (lang, matrix) in zip(axes.flat, matrices.items()):
        _confusion(ax, matrix, labels, lang)
    for ax in list(axes.flat)[len(matrices) :]:
        ax.axis("off")
    fig.suptitle(title)
    fig.supxlabel("predicted")
    fig.supylabel("gold")
    return save(fig, path)


def confusion_matrix(matrix: np.ndarray, labels: Sequence[str], path: str, title: str):
    fig, ax = plt.subplots(figsize=(4, 4))
    _confusion(ax, matrix, labels, title)
    ax.set_xlabel("predicted")
    ax.set_ylabel("gold")
    return save(fig, path)


def accuracy_per_epoch(epochs: List[int], curves: Dict[str, List[float]], path: str, title: str):
    """A line per language, and the average in black."""
    fig, ax = plt.subplots(figsize=(8, 5))
    colours = plt.get_cmap("tab20")
    for i, (lang, values) in enumerate(sorted(curves.items())):
        if lang == "avg":
            continue
        ax.plot(epochs, values, marker="o", markersize=3, linewidth=1, color=colours(i % 20), label=lang)
    if "avg" in curves:
        ax.plot(epochs, curves["avg"], color="black", linewidth=2.5, label="average")
    ax.set_xlabel("epoch")
    ax.set_ylabel("accuracy (%)")
    ax.set_xticks(epochs)
    ax.grid(alpha=0.3)
    ax.legend(ncol=2, fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5))
    ax.set_title(title)
    return save(fig, path)


def attention_heatmap(tokens: List[str], weights: np.ndarray, path: str, title: str):
    """weights[i, j]: how much token i attends to token j."""
    size = max(4.0, 0.28 * len(tokens) + 1.5)
    fig, ax = plt.subplots(figsize=(size + 1, size))
    image = ax.imshow(weights, cmap="viridis", vmin=0)
    ax.set_xticks(range(len(tokens)), tokens, rotation=90, fontsize=7)
    ax.set_yticks(range(len(tokens)), tokens, fontsize=7)
    ax.set_xlabel("attended token")
    ax.set_ylabel("attending token")
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    ax.set_title(title)
    return save(fig, path)


def embedding_map(points: np.ndarray, groups: Sequence[str], path: str, title: str, links: np.ndarray = None):
    """2-D points coloured by group (language); optional links join translations."""
    fig, ax = plt.subplots(figsize=(7, 6))
    if links is not None:
        for a, b in links:
            ax.plot(*points[[a, b]].T, color="grey", linewidth=0.3, alpha=0.4)
    colours = plt.get_cmap("tab10")
    for i, group in enumerate(sorted(set(groups))):
        chosen = np.array([g == group for g in groups])
        ax.scatter(points[chosen, 0], points[chosen, 1], s=9, color=colours(i % 10), label=group, alpha=0.8)
    ax.legend(fontsize=8, markerscale=2)
    ax.set_title(title)
    ax.set_xticks([])
    ax.set_yticks([])
    return save(fig, path)


def line_chart(curves: Dict[str, Dict[int, float]], path: str, title: str, xlabel: str, ylabel: str):
    """One line per named curve ({x: y}), labelled at its right end too, so that many stay readable."""
    fig, ax = plt.subplots(figsize=(9, 5.5))
    colours = plt.get_cmap("tab20")
    for i, (name, points) in enumerate(sorted(curves.items())):
        xs, ys = list(points), list(points.values())
        ax.plot(xs, ys, marker="o", markersize=3, linewidth=1.5, color=colours(i % 20), label=name)
        if xs:
            ax.annotate(
                name,
                (xs[-1], ys[-1]),
                fontsize=6,
                xytext=(3, 0),
                textcoords="offset points",
                color=colours(i % 20),
                va="center",
            )
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.legend(ncol=1, fontsize=7, loc="center left", bbox_to_anchor=(1.08, 0.5))
    ax.set_title(title)
    return save(fig, path)
