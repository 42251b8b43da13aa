"""cxlm-retrieval: cross-lingual sentence retrieval accuracy of a checkpoint (XTREME's Tatoeba task, LASER's protocol).

    cxlm-retrieval --checkpoint checkpoints/checkpoint_best.pt --data data-bin --tatoeba data/tatoeba --json tatoeba.json
    cxlm-retrieval --checkpoint checkpoints/checkpoint_best.pt --data data-bin --pairs raw/heldout --json heldout.json
    cxlm-retrieval --checkpoint checkpoints/checkpoint_best.pt --data data-bin --src test.de --tgt test.en \\
        --src-lang de --tgt-lang en --pooling max --layer 8

Embeds both sides (pooling and layer as given, default: the model's NT-Xent settings; --projection uses the
projection head's output instead), finds each sentence's nearest neighbour on the other side by cosine
similarity and by ratio margin (k=4), and prints top-1 accuracy in both directions; --json saves it.
"""

import argparse
import os

import numpy as np

from ..errors import UserInputError
from ..evaluation import tatoeba
from ..evaluation.embedding import SentenceEmbedder
from ..evaluation.retrieval import retrieval_accuracy
from . import command, write_json


def embedder_options(parser):
    parser.add_argument("--checkpoint", required=True, help="a contrastive_xlm checkpoint")
    parser.add_argument("--data", required=True, help="its data directory (spm.model and the dictionary)")
    parser.add_argument("--pooling", choices=["first", "max", "mean"], help="default: the model's --ntxent-pooling")
    parser.add_argument("--layer", type=int, help="0 = embeddings, 1..L, -1 = last (default: the model's --ntxent-layer)")
    parser.add_argument("--projection", action="store_true", help="use the NT-Xent projection head's output")
    parser.add_argument("--batch-size", type=int, default=64, help="sentences per batch (default 64)")
    parser.add_argument("--cpu", action="store_true", help="use the CPU even if a GPU is present")


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="cxlm-retrieval", description=__doc__.split("\n\n")[0])
    embedder_options(parser)
    parser.add_argument("--src", help="source sentences, one per line")
    parser.add_argument("--tgt", help="their translations, line-aligned")
    parser.add_argument("--src-lang", default="xx", help="language of --src (for language embeddings)")
    parser.add_argument("--tgt-lang", default="en", help="language of --tgt (default en)")
    parser.add_argument("--tatoeba", help="a LASER Tatoeba v1 directory instead of --src/--tgt: every XNLI language in it")
    parser.add_argument("--pairs", help="a directory of en-<lang>.en / en-<lang>.<lang> files instead (e.g. held-out pairs)")
    parser.add_argument("--langs", help="with --tatoeba: comma-separated languages (default: all present)")
    parser.add_argument("--k", type=int, default=4, help="neighbours for the margin (default 4)")
    parser.add_argument("--json", help="write the results here")
    args = parser.parse_args(argv)
    if sum(map(bool, (args.tatoeba, args.pairs, args.src or args.tgt))) != 1 or bool(args.src) != bool(args.tgt):
        parser.error("give one of: --src and --tgt, --tatoeba, --pairs")
    return args


def embedder_from(args) -> SentenceEmbedder:
    return SentenceEmbedder(args.checkpoint, args.data, args.pooling, args.layer, args.projection, args.cpu)


def score(embedder, source, target, source_lang, target_lang, args):
    x = embedder.embed(source, source_lang, args.batch_size, progress=len(source) > 2000)
    y = embedder.embed(target, target_lang, args.batch_size, progress=len(target) > 2000)
    return {**retrieval_accuracy(x, y, args.k), "pairs": len(source)}


def average(results, key_a, key_b):
    return float(np.mean([r[key_a][key_b] for r in results.values()]))


@command("cxlm-retrieval")
def main(argv=None):
    args = parse_args(argv)
    if args.tatoeba:
        present = tatoeba.available(args.tatoeba)
        langs = [x.strip() for x in args.langs.split(",")] if args.langs else present
        missing = [lang for lang in langs if lang not in present]
        if missing or not langs:
            raise UserInputError(f"{args.tatoeba} has no Tatoeba files for {', '.join(missing) or 'any XNLI language'}")
        jobs = {lang: (*tatoeba.pairs(args.tatoeba, lang), lang, "en") for lang in langs}
        directions = ("xx2en", "en2xx")
    elif args.pairs:
        jobs = {lang: (foreign, english, lang, "en") for lang, (foreign, english) in tatoeba.en_x_directory(args.pairs).items()}
        directions = ("xx2en", "en2xx")
    else:
        jobs = {f"{args.src_lang}-{args.tgt_lang}": (*tatoeba.read_aligned(args.src, args.tgt), args.src_lang, args.tgt_lang)}
        directions = ("src2tgt", "tgt2src")

    embedder = embedder_from(args)
    results = {}
    for name, (source, target, source_lang, target_lang) in jobs.items():
        scores = score(embedder, source, target, source_lang, target_lang, args)
        results[name] = {
            method: {f"{directions[0]}_acc": v["src2tgt_acc"], f"{directions[1]}_acc": v["tgt2src_acc"]}
            for method, v in scores.items() if method != "pairs"
        } | {"pairs": scores["pairs"]}
    summary = {
        method: {f"{d}_acc": average(results, method, f"{d}_acc") for d in directions} for method in ("cosine", "margin")
    }
    report = {
        "checkpoint": os.path.abspath(args.checkpoint),
        "pooling": args.pooling or str(embedder.model.args.ntxent_pooling),
        "layer": args.layer if args.layer is not None else embedder.model.args.ntxent_layer,
        "projection": args.projection,
        "results": results,
        "average": summary,
    }
    print(f"{'':<8}{'pairs':>6}  {'cosine ' + directions[0]:>14}{directions[1]:>8}  {'margin ' + directions[0]:>14}{directions[1]:>8}")
    for name, r in list(results.items()) + [("average", {**summary, "pairs": sum(r["pairs"] for r in results.values())})]:
        c, m = r["cosine"], r["margin"]
        print(f"{name:<8}{r['pairs']:>6}  {c[f'{directions[0]}_acc']:>14.1f}{c[f'{directions[1]}_acc']:>8.1f}"
              f"  {m[f'{directions[0]}_acc']:>14.1f}{m[f'{directions[1]}_acc']:>8.1f}")
    if args.json:
        write_json(args.json, report)
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
