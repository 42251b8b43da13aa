"""cxlm-xnli-eval: a fine-tuned checkpoint (or a directory of them) in, zero-shot XNLI accuracy out.

    cxlm-xnli-eval --checkpoint finetune/checkpoint_best.pt --data xnli-bin --out results/xnli
    cxlm-xnli-eval --checkpoint finetune/ --data xnli-bin --out results/xnli   # selects by average dev accuracy

Prints dev and test accuracy for every language and their average, and writes OUT/results.json,
OUT/confusion_test.png (one matrix per language), OUT/confusion_test_all.png (all languages together)
and, for a directory with end-of-epoch checkpoints, OUT/accuracy_per_epoch.png (dev accuracy per language).
"""

import argparse
import os

from ..checkpoints import candidates, epoch_checkpoints, load, recorded_options
from ..evaluation import plots
from ..languages import select_langs
from ..xnli.evaluate import accuracies, dev_scores, evaluate, select_best
from ..xnli.finetune import check_positions
from ..xnli.formats import LABELS
from ..xnli.prepare import read_summary
from . import command, write_json


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="cxlm-xnli-eval", description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", required=True, help="a fine-tuned checkpoint, or a directory of them")
    parser.add_argument("--data", required=True, help="the directory written by cxlm-xnli-prepare")
    parser.add_argument("--out", required=True, help="where results.json and the plots go")
    parser.add_argument("--langs", help="comma-separated languages (default: all in DATA/xnli.json)")
    parser.add_argument("--batch-size", type=int, default=64, help="sentences per batch (default 64)")
    parser.add_argument("--cpu", action="store_true", help="evaluate on the CPU even if a GPU is present")
    return parser.parse_args(argv)


def table(langs, rows):
    """Plain-text table: one row per (name, scores), one column per language, then the average."""
    header = f"{'':<12}" + "".join(f"{lang:>6}" for lang in langs) + f"{'avg':>7}"
    lines = [header]
    for name, scores in rows:
        lines.append(f"{name:<12}" + "".join(f"{scores[lang]:>6.1f}" for lang in langs) + f"{scores['avg']:>7.1f}")
    return "\n".join(lines)


@command("cxlm-xnli-eval")
def main(argv=None):
    args = parse_args(argv)
    prepared = read_summary(args.data)
    langs = select_langs(args.langs, "--langs", prepared["languages"])

    paths = candidates(args.checkpoint) if os.path.isdir(args.checkpoint) else [args.checkpoint]
    for path in paths:  # every checkpoint, before any work
        check_positions(args.data, prepared, recorded_options(path).get("max_positions"), path)
    if os.path.isdir(args.checkpoint):
        dev = dev_scores(paths, args.data, langs, args.batch_size, args.cpu)
        best = select_best(dev)
    else:
        paths, dev, best = [args.checkpoint], {}, args.checkpoint

    model, task, _ = load(best, data=args.data, cpu=args.cpu)
    confusions = evaluate(model, task, langs, ["dev", "test"], args.batch_size)
    scores = {split: accuracies(confusions[split]) for split in ("dev", "test")}

    os.makedirs(args.out, exist_ok=True)
    written = [
        plots.confusion_matrices(
            confusions["test"],
            LABELS,
            os.path.join(args.out, "confusion_test.png"),
            f"XNLI test, {os.path.basename(best)}",
        ),
        plots.confusion_matrix(
            sum(confusions["test"].values()),
            LABELS,
            os.path.join(args.out, "confusion_test_all.png"),
            "XNLI test, all languages",
        ),
    ]
    epochs = (
        [(epoch, path) for epoch, path in epoch_checkpoints(args.checkpoint)] if os.path.isdir(args.checkpoint) else []
    )
    if epochs:
        curves = {key: [dev[path][key] for _, path in epochs] for key in [*langs, "avg"]}
        written.append(
            plots.accuracy_per_epoch(
                [e for e, _ in epochs],
                curves,
                os.path.join(args.out, "accuracy_per_epoch.png"),
                "XNLI dev accuracy per epoch",
            )
        )
    results = {
        "checkpoint": os.path.abspath(best),
        "selected_by": "average dev accuracy" if len(paths) > 1 else "given",
        "languages": langs,
        "labels": list(LABELS),
        "dev": scores["dev"],
        "test": scores["test"],
        "dev_per_checkpoint": {os.path.basename(p): s for p, s in dev.items()},
        "confusion": {split: {lang: m.tolist() for lang, m in confusions[split].items()} for split in ("dev", "test")},
    }
    write_json(os.path.join(args.out, "results.json"), results)

    if len(dev) > 1:
        print("dev accuracy of each checkpoint:")
        print(table(langs, [(os.path.basename(p), s) for p, s in dev.items()]) + "\n")
    print(f"checkpoint: {best}" + (" (best average dev accuracy)" if len(paths) > 1 else ""))
    print(table(langs, [("dev", scores["dev"]), ("test", scores["test"])]))
    print("wrote " + ", ".join([os.path.join(args.out, "results.json"), *written]))


if __name__ == "__main__":
    main()
