"""cxlm-summarize: one table over runs (the paper's seven models, the demo's two), from the result files
each run directory holds:

    RUN/perplexity.json   cxlm-perplexity            -> MLM and TLM perplexity (mean over languages/pairs)
    RUN/heldout.json      cxlm-retrieval --pairs     -> retrieval accuracy on held-out pairs
    RUN/tatoeba.json      cxlm-retrieval --tatoeba   -> Tatoeba accuracy
    RUN/xnli/results.json cxlm-xnli-eval             -> XNLI test accuracy per language and average

    cxlm-summarize --runs runs/paper

Columns appear for what some run has. Prints a Markdown table; writes RUNS/summary.md and RUNS/summary.json.
"""

import argparse
import os

from ..errors import UserInputError
from ..evaluation.summary import columns
from . import command, write_json

PAPER_ORDER = [
    "baseline",
    "tlm",
    "mlm_tlm",
    "contrastive_se_tlm",
    "contrastive_se_mlm_tlm",
    "contrastive_me_tlm",
    "contrastive_me_mlm_tlm",
]


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="cxlm-summarize", description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", required=True, help="a directory with one subdirectory per run")
    return parser.parse_args(argv)


@command("cxlm-summarize")
def main(argv=None):
    args = parse_args(argv)
    if not os.path.isdir(args.runs):
        raise UserInputError(f"{args.runs} does not exist")
    names = sorted(
        (n for n in os.listdir(args.runs) if os.path.isdir(os.path.join(args.runs, n))),
        key=lambda n: (PAPER_ORDER.index(n) if n in PAPER_ORDER else len(PAPER_ORDER), n),
    )
    rows = {name: columns(os.path.join(args.runs, name)) for name in names}
    rows = {name: row for name, row in rows.items() if row}
    if not rows:
        raise UserInputError(f"no results under {args.runs} (see cxlm-summarize --help for the files it reads)")
    header = list(dict.fromkeys(key for row in rows.values() for key in row))
    lines = ["| run | " + " | ".join(header) + " |", "|---|" + "---|" * len(header)]
    for name, row in rows.items():
        lines.append(f"| {name} | " + " | ".join(f"{row[k]:.1f}" if k in row else "" for k in header) + " |")
    table = "\n".join(lines)
    print(table)
    with open(os.path.join(args.runs, "summary.md"), "w", encoding="utf-8") as f:
        f.write(table + "\n")
    write_json(os.path.join(args.runs, "summary.json"), rows)


if __name__ == "__main__":
    main()
