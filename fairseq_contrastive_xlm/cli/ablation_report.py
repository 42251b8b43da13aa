"""cxlm-ablation-report: the ablation study's table and curves from its run directories.

    cxlm-ablation-report --runs runs/ablation

Reads RUNS/<variant>/seed<k>/ (examples/ablation/run.sh writes them) and writes RUNS/ablation.md (held-out
gettext retrieval, Tatoeba, MLM/TLM perplexity, validation NT-Xent accuracy and training time: the mean over
seeds ± half their spread, best held-out retrieval first), RUNS/ablation.json and RUNS/retrieval_curves.png
(held-out retrieval against updates, one line per variant).
"""

import argparse
import os

from ..atomic import atomic_path
from ..errors import UserInputError
from ..evaluation import ablation
from . import command, write_json


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="cxlm-ablation-report", description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", required=True, help="the study's directory (one subdirectory per variant)")
    return parser.parse_args(argv)


@command("cxlm-ablation-report")
def main(argv=None):
    args = parse_args(argv)
    if not os.path.isdir(args.runs):
        raise UserInputError(f"{args.runs} does not exist")
    collected = ablation.collect(args.runs)
    if not collected:
        raise UserInputError(f"{args.runs} holds no finished run (<variant>/seed<k>/heldout.json)")
    rows = ablation.table(collected)
    text = ablation.markdown(rows)
    with atomic_path(os.path.join(args.runs, "ablation.md")) as partial, open(partial, "w", encoding="utf-8") as f:
        f.write(text + "\n")
    write_json(os.path.join(args.runs, "ablation.json"), {"rows": rows, "curves": ablation.curves(collected)})
    picture = ablation.plot_curves(collected, os.path.join(args.runs, "retrieval_curves.png"))
    print(text)
    print(f"wrote {os.path.join(args.runs, 'ablation.md')}, ablation.json, {picture}")


if __name__ == "__main__":
    main()
