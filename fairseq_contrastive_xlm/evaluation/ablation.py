"""The ablation study's results (examples/ablation/run.sh): one directory per variant and seed,

    RUNS/<variant>/seed<k>/heldout_<updates>.json   cxlm-retrieval --pairs at every saved checkpoint
    RUNS/<variant>/seed<k>/{heldout,tatoeba,perplexity}.json, train.log, seconds.txt   the final model

gathered into one table (mean over seeds, and the spread between them) and a curve of held-out retrieval
against updates per variant."""

import glob
import os
import re
from typing import Dict

import numpy as np

from . import plots
from .summary import columns, mean_retrieval, read_json

_CURVE = re.compile(r"heldout_(\d+)\.json$")
_VALID_ACC = re.compile(r"valid on 'valid' subset.*?ntxent_acc[ =]([\d.]+)")


def seed_results(directory: str) -> Dict[str, object]:
    found = dict(columns(directory))
    found["curve"] = {
        int(_CURVE.search(path).group(1)): mean_retrieval(read_json(path))
        for path in glob.glob(os.path.join(directory, "heldout_*.json"))
    }
    heldout = read_json(directory, "heldout.json")
    if heldout:
        found["held-out"] = mean_retrieval(heldout)
    log = os.path.join(directory, "train.log")
    if os.path.isfile(log):
        with open(log, encoding="utf-8") as f:
            accuracies = _VALID_ACC.findall(f.read())
        if accuracies:
            found["NT-Xent acc (valid)"] = float(accuracies[-1])
    seconds = os.path.join(directory, "seconds.txt")
    if os.path.isfile(seconds):
        with open(seconds, encoding="utf-8") as f:
            found["train s"] = float(f.read().strip())
    return found


def collect(runs: str) -> Dict[str, Dict[str, dict]]:
    """{variant: {seed directory: results}} for every variant with at least one finished seed."""
    collected = {}
    for variant in sorted(os.listdir(runs)):
        seeds = sorted(glob.glob(os.path.join(runs, variant, "seed*")))
        results = {
            os.path.basename(s): seed_results(s) for s in seeds if os.path.isfile(os.path.join(s, "heldout.json"))
        }
        if results:
            collected[variant] = results
    return collected


COLUMNS = (
    "held-out",
    "held-out xx→en",
    "held-out en→xx",
    "Tatoeba xx→en",
    "Tatoeba en→xx",
    "MLM ppl",
    "TLM ppl",
    "NT-Xent acc (valid)",
    "train s",
)


def table(collected) -> Dict[str, Dict[str, object]]:
    """{variant: {column: mean over seeds, column + ' spread': max - min, 'seeds': n}}."""
    rows = {}
    for variant, seeds in collected.items():
        row = {"seeds": len(seeds)}
        for column in COLUMNS:
            values = [r[column] for r in seeds.values() if column in r]
            if values:
                row[column] = float(np.mean(values))
                row[column + " spread"] = float(max(values) - min(values))
        rows[variant] = row
    return rows


def markdown(rows) -> str:
    present = [c for c in COLUMNS if any(c in row for row in rows.values())]
    lines = ["| variant | seeds | " + " | ".join(present) + " |", "|---|---|" + "---|" * len(present)]
    for variant, row in sorted(rows.items(), key=lambda item: -item[1].get("held-out", 0.0)):
        cells = [f"{row[c]:.1f} ± {row[c + ' spread'] / 2:.1f}" if c in row else "" for c in present]
        lines.append(f"| {variant} | {row['seeds']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def curves(collected) -> Dict[str, Dict[int, float]]:
    """{variant: {updates: held-out retrieval, mean over the seeds that have that point}}."""
    out = {}
    for variant, seeds in collected.items():
        points = {}
        for results in seeds.values():
            for updates, value in results["curve"].items():
                points.setdefault(updates, []).append(value)
        out[variant] = {u: float(np.mean(v)) for u, v in sorted(points.items())}
    return out


def plot_curves(collected, path: str) -> str:
    return plots.line_chart(
        curves(collected),
        path,
        "held-out retrieval against updates (mean over seeds)",
        "updates",
        "held-out retrieval, % (cosine, both directions)",
    )
