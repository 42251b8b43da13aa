"""The numbers a run directory's result files hold, by column: what cxlm-summarize and cxlm-ablation-report
tabulate."""

import json
import os

import numpy as np


def read_json(*parts):
    path = os.path.join(*parts)
    if not os.path.isfile(path):
        return None
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def columns(run_dir):
    """{column: value} for one run."""
    found = {}
    ppl = read_json(run_dir, "perplexity.json")
    if ppl:
        for kind in ("mlm", "tlm"):
            values = [r["ppl"] for r in ppl["results"].values() if r["objective"] == kind]
            if values:
                found[f"{kind.upper()} ppl"] = float(np.mean(values))
    for name, label in (("heldout.json", "held-out"), ("tatoeba.json", "Tatoeba")):
        retrieval = read_json(run_dir, name)
        if retrieval:
            for direction in ("xx2en", "en2xx"):
                found[f"{label} {direction.replace('2', '→')}"] = retrieval["average"]["cosine"][f"{direction}_acc"]
    mining = read_json(run_dir, "mining.json")  # cxlm-mine --pairs
    if mining:
        found["mining F1"] = mining["results"]["average"]["f1"]
    xnli = read_json(run_dir, "xnli", "results.json")
    if xnli:
        found.update({f"XNLI {lang}": v for lang, v in xnli["test"].items() if lang != "avg"})
        found["XNLI avg"] = xnli["test"]["avg"]
    return found
