"""cxlm-summarize: one table over runs (the paper's seven models, the demo's three), from the result files
each run directory holds:

    RUN/perplexity.json   cxlm-perplexity            -> MLM and TLM perplexity (mean over languages/pairs)
    RUN/heldout.json      cxlm-retrieval --pairs     -> retrieval accuracy on held-out pairs
    RUN/tatoeba.json      cxlm-retrieval --tatoeba   -> Tatoeba accuracy
    RUN/mining.json       cxlm-mine --pairs          -> mining F1
    RUN/xnli/results.json cxlm-xnli-eval             -> XNLI test accuracy per language and average

    cxlm-summarize --runs runs/paper
    cxlm-summarize --runs runs/demo --order pretrained,lambda_0,lambda_1,char_ngram --per-language \
        --forgetting lambda_1/lambda_0 --seconds runs/demo/seconds.json

Columns appear for what some run has. Prints a Markdown table; writes RUNS/summary.md and, for programs,
RUNS/summary.json: {"rows": {run: {"heldout": {lang: {"xx2en", "en2xx"}, "mean"}, "tatoeba": ..., "mining_f1",
"mlm_ppl", "tlm_ppl", "xnli"}}, "forgetting": x, "seconds": {...}}, null where there is no such value.
"""

import argparse
import json
import os

from ..atomic import write_lines
from ..errors import UserInputError
from ..evaluation.summary import columns, row
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
    parser.add_argument(
        "--order", help="the runs to show, in this order (comma list; default: every run, the paper's order first)"
    )
    parser.add_argument("--per-language", action="store_true", help="held-out retrieval of each language too")
    parser.add_argument(
        "--forgetting",
        metavar="RUN/BASE",
        help="also report RUN's MLM perplexity divided by BASE's: what adding a loss cost the language model",
    )
    parser.add_argument("--seconds", help="a JSON file of named durations, kept in summary.json as 'seconds'")
    return parser.parse_args(argv)


def run_names(args):
    if args.order:
        names = [n for n in args.order.split(",") if n]
        missing = [n for n in names if not os.path.isdir(os.path.join(args.runs, n))]
        if missing:
            raise UserInputError(f"{args.runs}: no run {', '.join(missing)} (--order)")
        return names
    return sorted(
        (n for n in os.listdir(args.runs) if os.path.isdir(os.path.join(args.runs, n))),
        key=lambda n: (PAPER_ORDER.index(n) if n in PAPER_ORDER else len(PAPER_ORDER), n),
    )


def forgetting(args, rows):
    """RUN's MLM perplexity / BASE's, or None when either has none."""
    if not args.forgetting:
        return None
    run, _, base = args.forgetting.partition("/")
    for name in (run, base):
        if name not in rows:
            raise UserInputError(f"--forgetting {args.forgetting}: no results for {name!r} under {args.runs}")
    if rows[run]["mlm_ppl"] is None or rows[base]["mlm_ppl"] is None:
        return None
    return rows[run]["mlm_ppl"] / rows[base]["mlm_ppl"]


def read_seconds(path):
    if not path:
        return None
    try:
        with open(path, encoding="utf-8") as f:
            seconds = json.load(f)
    except (OSError, ValueError) as error:
        raise UserInputError(f"{path}: not a JSON file of durations ({error})") from None
    if not isinstance(seconds, dict) or not all(isinstance(v, (int, float)) for v in seconds.values()):
        raise UserInputError(f"{path}: expected an object of named numbers of seconds")
    return seconds


@command("cxlm-summarize")
def main(argv=None):
    args = parse_args(argv)
    if not os.path.isdir(args.runs):
        raise UserInputError(f"{args.runs} does not exist")
    seconds = read_seconds(args.seconds)
    tables = {name: columns(os.path.join(args.runs, name), args.per_language) for name in run_names(args)}
    tables = {name: found for name, found in tables.items() if found}
    if not tables:
        raise UserInputError(f"no results under {args.runs} (see cxlm-summarize --help for the files it reads)")
    rows = {name: row(os.path.join(args.runs, name)) for name in tables}
    forgot = forgetting(args, rows)
    header = list(dict.fromkeys(key for found in tables.values() for key in found))
    lines = ["| run | " + " | ".join(header) + " |", "|---|" + "---|" * len(header)]
    for name, found in tables.items():
        lines.append(f"| {name} | " + " | ".join(f"{found[k]:.1f}" if k in found else "" for k in header) + " |")
    if forgot is not None:
        run, _, base = args.forgetting.partition("/")
        lines += ["", f"forgetting: {run}'s MLM perplexity / {base}'s = {forgot:.3f}"]
    table = "\n".join(lines)
    print(table)
    write_json(os.path.join(args.runs, "summary.json"), {"rows": rows, "forgetting": forgot, "seconds": seconds})
    write_lines(os.path.join(args.runs, "summary.md"), lines)


if __name__ == "__main__":
    main()
