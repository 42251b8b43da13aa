"""The numbers a run directory's result files hold: as one nested row for programs (summary.json) and as flat
columns for the tables cxlm-summarize and cxlm-ablation-report print."""

import json
import os
from typing import Optional

import numpy as np

DIRECTIONS = ("xx2en", "en2xx")


def read_json(*parts):
    path = os.path.join(*parts)
    if not os.path.isfile(path):
        return None
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def mean_retrieval(report) -> float:
    """Retrieval in one number: the cosine accuracy averaged over both directions and every language."""
    return float(np.mean(list(report["average"]["cosine"].values())))


def retrieval(report) -> Optional[dict]:
    """{lang: {"xx2en": %, "en2xx": %}, "mean": %} of a cxlm-retrieval report (cosine similarity)."""
    if not report:
        return None
    found = {lang: {d: r["cosine"][f"{d}_acc"] for d in DIRECTIONS} for lang, r in report["results"].items()}
    return {**found, "mean": mean_retrieval(report)}


def perplexity(report, objective) -> Optional[float]:
    """The mean perplexity over the languages (MLM) or pairs (TLM) of a cxlm-perplexity report."""
    values = [r["ppl"] for r in (report or {"results": {}})["results"].values() if r["objective"] == objective]
    return float(np.mean(values)) if values else None


def row(run_dir) -> dict:
    """One run for summary.json: every key present, None where the run has no such value."""
    ppl = read_json(run_dir, "perplexity.json")
    mining = read_json(run_dir, "mining.json")  # cxlm-mine --pairs
    xnli = read_json(run_dir, "xnli", "results.json")
    return {
        "heldout": retrieval(read_json(run_dir, "heldout.json")),
        "tatoeba": retrieval(read_json(run_dir, "tatoeba.json")),
        "mining_f1": mining["results"]["average"]["f1"] if mining else None,
        "mlm_ppl": perplexity(ppl, "mlm"),
        "tlm_ppl": perplexity(ppl, "tlm"),
        "xnli": xnli["test"] if xnli else None,
    }


def columns(run_dir, per_language=False):
    """{column: value} for one run's line in a table, only what the run has; with per_language, held-out
    retrieval of each language too."""
    numbers = row(run_dir)
    found = {}
    for key, label in (("mlm_ppl", "MLM ppl"), ("tlm_ppl", "TLM ppl")):
        if numbers[key] is not None:
            found[label] = numbers[key]
    for key, label in (("heldout", "held-out"), ("tatoeba", "Tatoeba")):
        found_here = numbers[key]
        if not found_here:
            continue
        languages = [lang for lang in found_here if lang != "mean"] if key == "heldout" and per_language else []
        for lang in languages:
            for direction in DIRECTIONS:
                found[f"{label} {direction.replace('xx', lang).replace('2', '→')}"] = found_here[lang][direction]
        report = read_json(run_dir, f"{key}.json")
        for direction in DIRECTIONS:
            found[f"{label} {direction.replace('2', '→')}"] = report["average"]["cosine"][f"{direction}_acc"]
        if languages:
            found[f"{label} mean"] = found_here["mean"]
    if numbers["mining_f1"] is not None:
        found["mining F1"] = numbers["mining_f1"]
    if numbers["xnli"]:
        found.update({f"XNLI {lang}": v for lang, v in numbers["xnli"].items() if lang != "avg"})
        found["XNLI avg"] = numbers["xnli"]["avg"]
    return found
