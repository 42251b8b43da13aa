"""cxlm-xnli-grid: the paper's fine-tuning grid (learning rate x optimizer x batch size), picked by the
average zero-shot dev accuracy over the XNLI languages.

    cxlm-xnli-grid --data xnli-bin --pretrained checkpoints/checkpoint_best.pt --out grid \\
        --lr 5e-6,1e-5,2e-5 --optimizer adam,sgd --batch-size 16,32 --max-epoch 3

Each run is fairseq-train with the stock sentence_prediction task (OUT/<run>/train.log, its checkpoints in
OUT/<run>/checkpoints); every end-of-epoch checkpoint is scored on the dev sets of all languages.
OUT/grid.json and OUT/grid.tsv hold the table; a finished run is not repeated when the command is run
again. Options after -- go to every fairseq-train (e.g. -- --fp16 --update-freq 2).
"""

import argparse
import itertools
import json
import logging
import os
import subprocess
import sys

from ..checkpoints import candidates
from ..errors import UserInputError
from ..languages import select_langs
from ..xnli import finetune
from ..xnli.evaluate import dev_scores, select_best
from ..xnli.prepare import read_summary
from . import command, write_json
from .inputs import parse_numbers

logger = logging.getLogger("cxlm-xnli-grid")


def parse_args(argv):
    argv = list(sys.argv[1:] if argv is None else argv)
    extra = argv[argv.index("--") + 1 :] if "--" in argv else []
    argv = argv[: argv.index("--")] if "--" in argv else argv
    parser = argparse.ArgumentParser(prog="cxlm-xnli-grid", description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", required=True, help="the directory written by cxlm-xnli-prepare")
    parser.add_argument("--pretrained", required=True, help="the pretrained contrastive_xlm checkpoint")
    parser.add_argument("--out", required=True, help="where the runs and the table go")
    parser.add_argument("--lr", default="5e-6,1e-5,2e-5", help="comma-separated learning rates")
    parser.add_argument("--optimizer", default="adam,sgd", help="comma-separated: adam, sgd")
    parser.add_argument("--batch-size", default="16,32", help="comma-separated batch sizes")
    parser.add_argument("--max-epoch", type=int, default=3, help="epochs per run (default 3)")
    parser.add_argument("--langs", help="comma-separated languages scored for selection (default: all)")
    parser.add_argument("--cpu", action="store_true", help="train and evaluate on the CPU")
    args = parser.parse_args(argv)
    args.extra = extra + (["--cpu"] if args.cpu else [])
    args.grid = list(
        itertools.product(
            parse_numbers(args.lr, "--lr", float),
            [x.strip() for x in args.optimizer.split(",")],
            parse_numbers(args.batch_size, "--batch-size", int),
        )
    )
    return args


def run_name(lr, optimizer, batch_size):
    return f"lr{lr:g}_{optimizer}_bs{batch_size}"


def write_table(out, rows):
    write_json(os.path.join(out, "grid.json"), rows)
    with open(os.path.join(out, "grid.tsv"), "w", encoding="utf-8") as f:
        f.write("run\tlr\toptimizer\tbatch_size\tbest_checkpoint\tdev_avg\n")
        for name, row in rows["runs"].items():
            f.write(
                f"{name}\t{row['lr']}\t{row['optimizer']}\t{row['batch_size']}\t{row['best_checkpoint']}\t{row['dev_avg']:.2f}\n"
            )


@command("cxlm-xnli-grid")
def main(argv=None):
    args = parse_args(argv)
    langs = select_langs(args.langs, "--langs", read_summary(args.data)["languages"])
    os.makedirs(args.out, exist_ok=True)
    table_path = os.path.join(args.out, "grid.json")
    rows = {"runs": {}}
    if os.path.exists(table_path):
        with open(table_path, encoding="utf-8") as f:
            rows = json.load(f)
    for number, (lr, optimizer, batch_size) in enumerate(args.grid, start=1):
        name = run_name(lr, optimizer, batch_size)
        if name in rows["runs"]:
            logger.info(
                "[%d/%d] %s: done before (dev avg %.2f)", number, len(args.grid), name, rows["runs"][name]["dev_avg"]
            )
            continue
        save_dir = os.path.join(args.out, name, "checkpoints")
        argv = finetune.command(
            args.data, args.pretrained, save_dir, lr, optimizer, batch_size, args.max_epoch, args.extra
        )
        logger.info(
            "[%d/%d] %s: fine-tuning (log: %s)", number, len(args.grid), name, os.path.join(args.out, name, "train.log")
        )
        os.makedirs(os.path.join(args.out, name), exist_ok=True)
        with open(os.path.join(args.out, name, "train.log"), "w", encoding="utf-8") as log:
            tool = os.path.join(os.path.dirname(sys.executable), argv[0])
            finished = subprocess.run([tool, *argv[1:]], stdout=log, stderr=subprocess.STDOUT)
        if finished.returncode != 0:
            raise UserInputError(f"run {name} failed; see {os.path.join(args.out, name, 'train.log')}")
        scores = dev_scores(candidates(save_dir), args.data, langs, cpu=args.cpu)
        best = select_best(scores)
        rows["runs"][name] = {
            "lr": lr,
            "optimizer": optimizer,
            "batch_size": batch_size,
            "best_checkpoint": best,
            "dev_avg": scores[best]["avg"],
            "dev": scores[best],
        }
        write_table(args.out, rows)
    best_run = max(rows["runs"], key=lambda n: rows["runs"][n]["dev_avg"])
    rows["best"] = {"run": best_run, **rows["runs"][best_run]}
    write_table(args.out, rows)
    print(f"{'run':<28}{'dev avg':>8}")
    for name, row in sorted(rows["runs"].items(), key=lambda item: -item[1]["dev_avg"]):
        print(f"{name:<28}{row['dev_avg']:>8.2f}")
    print(f"best: {best_run} -> {rows['best']['best_checkpoint']}")
    print(
        f"next: cxlm-xnli-eval --checkpoint {rows['best']['best_checkpoint']} --data {args.data} "
        f"--out {os.path.join(args.out, 'best')}"
    )


if __name__ == "__main__":
    main()
