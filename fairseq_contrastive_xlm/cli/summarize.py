"""cxlm-summarize: one table over runs (the paper's seven models, or the demo's): XNLI test accuracy per
language and average, and Tatoeba retrieval, from each run's results files.

    cxlm-summarize --runs runs/paper

Reads RUNS/<model>/xnli/results.json (cxlm-xnli-eval) and RUNS/<model>/tatoeba.json (cxlm-retrieval) where
present; prints a Markdown table and writes RUNS/summary.md and RUNS/summary.json.
"""

import argparse
import json
import os

from ..errors import UserInputError
from . import command

PAPER_ORDER = ["baseline", "tlm", "mlm_tlm", "contrastive_se_tlm", "contrastive_se_mlm_tlm", "contrastive_me_tlm",
               "contrastive_me_mlm_tlm"]


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="cxlm-summarize", description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", required=True, help="a directory with one subdirectory per run")
    return parser.parse_args(argv)


def read_json(path):
    if not os.path.isfile(path):
        return None
    with open(path, encoding="utf-8") as f:
        return json.load(f)


@command("cxlm-summarize")
def main(argv=None):
    args = parse_args(argv)
    if not os.path.isdir(args.runs):
        raise UserInputError(f"{args.runs} does not exist")
    names = sorted(os.listdir(args.runs), key=lambda n: (PAPER_ORDER.index(n) if n in PAPER_ORDER else len(PAPER_ORDER), n))
    rows = {}
    for name in names:
        xnli = read_json(os.path.join(args.runs, name, "xnli", "results.json"))
        tatoeba = read_json(os.path.join(args.runs, name, "tatoeba.json"))
        if xnli or tatoeba:
            rows[name] = {"xnli_test": xnli and xnli["test"], "tatoeba": tatoeba and tatoeba["average"]}
    if not rows:
        raise UserInputError(f"no results under {args.runs} (expected <run>/xnli/results.json or <run>/tatoeba.json)")
    langs = next((r["xnli_test"] for r in rows.values() if r["xnli_test"]), {})
    langs = [lang for lang in langs if lang != "avg"]
    header = ["model", *langs, "XNLI avg", "Tatoeba xx→en", "Tatoeba en→xx"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for name, row in rows.items():
        test, tat = row["xnli_test"] or {}, (row["tatoeba"] or {}).get("cosine", {})
        cells = [f"{test[lang]:.1f}" if lang in test else "" for lang in langs]
        cells += [f"{test['avg']:.1f}" if "avg" in test else ""]
        cells += [f"{tat[k]:.1f}" if k in tat else "" for k in ("xx2en_acc", "en2xx_acc")]
        lines.append("| " + " | ".join([name, *cells]) + " |")
    table = "\n".join(lines)
    print(table)
    with open(os.path.join(args.runs, "summary.md"), "w", encoding="utf-8") as f:
        f.write(table + "\n")
    with open(os.path.join(args.runs, "summary.json"), "w", encoding="utf-8") as f:
        json.dump(rows, f, indent=2)


if __name__ == "__main__":
    main()
