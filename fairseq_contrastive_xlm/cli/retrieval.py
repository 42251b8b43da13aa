"""cxlm-retrieval: cross-lingual sentence retrieval accuracy of a checkpoint (XTREME's Tatoeba task, LASER's protocol).

    cxlm-retrieval --checkpoint checkpoints/checkpoint_best.pt --data data-bin --tatoeba data/tatoeba --json t.json
    cxlm-retrieval --checkpoint checkpoints/checkpoint_best.pt --data data-bin --pairs raw/heldout --json heldout.json
    cxlm-retrieval --checkpoint checkpoints/checkpoint_best.pt --data data-bin --src test.de --tgt test.en \\
        --src-lang de --tgt-lang en --pooling max --layer 8
    cxlm-retrieval --baseline char-ngram --pairs raw/heldout --json char_ngram/heldout.json   # no model at all
    cxlm-retrieval --checkpoint checkpoints --data data-bin --pairs raw/heldout --json 'heldout_{updates}.json'

Embeds both sides (pooling and layer as given, default: the model's NT-Xent settings; --projection uses the
projection head's output instead), finds each sentence's nearest neighbour on the other side by cosine
similarity and by ratio margin (k=4), and prints top-1 accuracy in both directions; --json saves it.
--baseline char-ngram scores the same pairs with character-trigram TF-IDF vectors instead of a model: the
reference row that says how far a matcher of spellings alone gets.
A checkpoint directory scores every checkpoint fairseq saved there (per update interval or epoch, else best and last)
in one process, the accuracy along the run: --json then names one file per checkpoint through {updates} (of
checkpoint_<epoch>_<updates>.pt) or {name} (the file's name without .pt).
"""

import argparse
import os

import numpy as np

from ..checkpoints import candidates, updates_in_name
from ..errors import UserInputError
from ..evaluation.retrieval import accuracy_of_similarity, char_ngram_similarity, retrieval_accuracy
from . import command, write_json
from .inputs import check_embedder_options, check_pair_options, embedder_from, embedder_options, pair_options, pair_sets


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="cxlm-retrieval", description=__doc__.split("\n\n")[0])
    embedder_options(parser)
    pair_options(parser, "default: all present")
    parser.add_argument(
        "--baseline",
        choices=["char-ngram"],
        help="score with character-trigram TF-IDF instead of a model (no --checkpoint/--data or --st-model)",
    )
    parser.add_argument("--k", type=int, default=4, help="neighbours for the margin (default 4)")
    parser.add_argument(
        "--json", help="write the results here (for a checkpoint directory: a name with {updates} or {name})"
    )
    args = parser.parse_args(argv)
    check_pair_options(parser, args)
    check_embedder_options(parser, args, baseline=True)
    if (
        args.checkpoint
        and os.path.isdir(args.checkpoint)
        and args.json
        and not ("{updates}" in args.json or "{name}" in args.json)
    ):
        parser.error(
            "--checkpoint is a directory: give --json a name with {updates} or {name}, one file per checkpoint"
        )
    return args


def score(embedder, source, target, source_lang, target_lang, args):
    if embedder is None:  # --baseline char-ngram
        return {**accuracy_of_similarity(char_ngram_similarity(source, target), args.k), "pairs": len(source)}
    x = embedder.embed(source, source_lang, args.batch_size, progress=len(source) > 2000)
    y = embedder.embed(target, target_lang, args.batch_size, progress=len(target) > 2000)
    return {**retrieval_accuracy(x, y, args.k), "pairs": len(source)}


def average(results, key_a, key_b):
    return float(np.mean([r[key_a][key_b] for r in results.values()]))


def report_of(embedder, jobs, directions, args) -> dict:
    """Score every pair set with one embedder (None: the baseline), print the table and return the report."""
    results = {}
    for name, (source, target, source_lang, target_lang) in jobs.items():
        scores = score(embedder, source, target, source_lang, target_lang, args)
        results[name] = {
            method: {f"{directions[0]}_acc": v["src2tgt_acc"], f"{directions[1]}_acc": v["tgt2src_acc"]}
            for method, v in scores.items()
            if method != "pairs"
        } | {"pairs": scores["pairs"]}
    summary = {
        method: {f"{d}_acc": average(results, method, f"{d}_acc") for d in directions}
        for method in ("cosine", "margin")
    }
    print(
        f"{'':<8}{'pairs':>6}  {'cosine ' + directions[0]:>14}{directions[1]:>8}"
        f"  {'margin ' + directions[0]:>14}{directions[1]:>8}"
    )
    for name, r in list(results.items()) + [
        ("average", {**summary, "pairs": sum(r["pairs"] for r in results.values())})
    ]:
        c, m = r["cosine"], r["margin"]
        print(
            f"{name:<8}{r['pairs']:>6}  {c[f'{directions[0]}_acc']:>14.1f}{c[f'{directions[1]}_acc']:>8.1f}"
            f"  {m[f'{directions[0]}_acc']:>14.1f}{m[f'{directions[1]}_acc']:>8.1f}"
        )
    if embedder is None:
        return {"baseline": args.baseline, "results": results, "average": summary}
    embedder.report_truncated("cxlm-retrieval")
    return {**embedder.describe(), "results": results, "average": summary}


def json_path(pattern: str, checkpoint: str) -> str:
    """--json for one checkpoint of a directory: {name} and {updates} filled in."""
    name = os.path.basename(checkpoint)[: -len(".pt")]
    updates = updates_in_name(checkpoint)
    if updates is None and "{updates}" in pattern:
        raise UserInputError(f"{checkpoint} has no number of updates in its name: use {{name}} in --json instead")
    return pattern.replace("{name}", name).replace("{updates}", str(updates))  # other braces stay as written


@command("cxlm-retrieval")
def main(argv=None):
    args = parse_args(argv)
    jobs = pair_sets(args)
    directions = ("src2tgt", "tgt2src") if args.src else ("xx2en", "en2xx")
    if args.checkpoint and os.path.isdir(args.checkpoint):  # every checkpoint of a run, in one process
        checkpoints = candidates(args.checkpoint)
        outputs = [json_path(args.json, path) if args.json else None for path in checkpoints]  # all named first
    else:
        checkpoints, outputs = [args.checkpoint], [args.json]
    for checkpoint, output in zip(checkpoints, outputs):
        if len(checkpoints) > 1:
            print(f"== {checkpoint}")
        args.checkpoint = checkpoint
        report = report_of(None if args.baseline else embedder_from(args), jobs, directions, args)
        if output:
            write_json(output, report)
            print(f"wrote {output}")


if __name__ == "__main__":
    main()
