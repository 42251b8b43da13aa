"""cxlm-mine: find the translations hidden in two unaligned text collections (bitext mining), as LASER does.

    cxlm-mine --src news.de --tgt news.en --checkpoint ckpt.pt --data data-bin --src-lang de --out mined.tsv
    cxlm-mine --src news.de --tgt news.en --src-emb news.de.npy --tgt-emb news.en.npy --threshold 1.1 --out mined.tsv
    cxlm-mine --src s.txt --tgt t.txt --checkpoint ckpt.pt --data data-bin --gold gold.tsv --tune --out mined.tsv
    cxlm-mine --bucc data/bucc2018 --lang de --checkpoint ckpt.pt --data data-bin --json bucc_de.json
    cxlm-mine --pairs runs/demo/raw/heldout --hidden 300 --checkpoint ckpt.pt --data data-bin --json mining.json
    cxlm-mine --pairs runs/demo/raw/heldout --hidden 300 --st-model my-export --json mining.json
    cxlm-mine --pairs runs/demo/raw/heldout --hidden 300 --baseline char-ngram --json mining.json

--st-model embeds with any sentence-transformers folder (cxlm-export-hf's, LaBSE, ...); --baseline char-ngram
scores with character-trigram TF-IDF vectors (exact neighbours), the lexical reference row of a mining table.
Sentences are embedded once per distinct sentence (duplicates merged), every sentence of each side gets its k = 4
nearest neighbours on the other (faiss), and candidates are scored by ratio margin and chosen by --strategy
(evaluation/mining.py). The output TSV holds score, source sentence and target sentence, best first: every
candidate, or those scoring at least --threshold, or at least the threshold that maximises F1 on --gold (--tune,
reported). --gold: a TSV of 1-based line numbers, source line TAB target line, of the true translation pairs.

--bucc DIR --lang L: the BUCC 2018 task (cxlm-download bucc): the threshold is tuned on the training split's gold,
precision, recall and F1 are reported for it and for the sample split, and --out receives the test split's
mined id pairs (foreign id TAB English id), the format BUCC's scorer reads.

--pairs DIR (en-<lang>.en / en-<lang>.<lang> files, e.g. held-out pairs): per language, a mining set in which the
first --hidden pairs are hidden among the other pairs' sentences, each of those kept on one side only; mined, the
threshold tuned on the hidden pairs, precision, recall and F1 reported (make demo compares models with it).
"""

import argparse

from ..atomic import write_lines
from ..evaluation import mining
from ..evaluation import mining_runs as runs
from . import command, write_json
from .inputs import check_embedder_options, embedder_from, embedder_options


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="cxlm-mine", description=__doc__.split("\n\n")[0])
    embedder_options(parser)
    parser.add_argument(
        "--baseline", choices=["char-ngram"], help="mine with character-trigram TF-IDF instead of a model"
    )
    parser.add_argument("--src", help="source sentences, one per line")
    parser.add_argument("--tgt", help="target sentences, one per line")
    parser.add_argument("--src-lang", default="xx", help="language of --src (for language embeddings)")
    parser.add_argument("--tgt-lang", default="en", help="language of --tgt (default en)")
    parser.add_argument("--src-emb", help="embeddings of --src (cxlm-embed's .npy) instead of a checkpoint")
    parser.add_argument("--tgt-emb", help="embeddings of --tgt")
    parser.add_argument("--bucc", help="a BUCC 2018 directory (cxlm-download bucc); with --lang")
    parser.add_argument("--lang", help="with --bucc: the foreign language (de, fr, ru, zh)")
    parser.add_argument("--pairs", help="a directory of en-<lang>.en / en-<lang>.<lang> pairs to hide and find")
    parser.add_argument("--hidden", type=int, default=300, help="with --pairs: translations hidden (default 300)")
    parser.add_argument("-k", "--k", type=int, default=4, help="neighbours of the margin (default 4)")
    parser.add_argument("--strategy", choices=mining.STRATEGIES, default="max", help="default max")
    parser.add_argument(
        "--index",
        choices=["auto", "flat", "ivf"],
        default="auto",
        help=f"faiss index (auto: ivf above {mining.IVF_ABOVE} vectors, else exact)",
    )
    parser.add_argument("--threshold", type=float, help="keep pairs whose margin is at least this")
    parser.add_argument("--gold", help="the true pairs: 1-based line numbers, source TAB target")
    parser.add_argument("--tune", action="store_true", help="with --gold: keep at the threshold of best F1")
    parser.add_argument("--out", help="the mined pairs (TSV); with --bucc, the test split's id pairs")
    parser.add_argument("--json", help="write the threshold and precision/recall/F1 here")
    args = parser.parse_args(argv)
    scorer = check_embedder_options(parser, args, baseline=True, required=False) or bool(args.baseline)
    if args.bucc or args.pairs:
        if not scorer or (args.bucc and not args.lang):
            parser.error(
                "--bucc needs --lang; --bucc and --pairs need --checkpoint and --data, --st-model or --baseline"
            )
    else:
        if not (args.src and args.tgt and args.out):
            parser.error("give --src, --tgt and --out (or --bucc DIR --lang L)")
        if scorer == bool(args.src_emb or args.tgt_emb) or bool(args.src_emb) != bool(args.tgt_emb):
            parser.error(
                "give either --checkpoint and --data (or --st-model, or --baseline), or --src-emb and --tgt-emb"
            )
        if args.tune and not args.gold:
            parser.error("--tune needs --gold")
        if args.tune and args.threshold is not None:
            parser.error("give --threshold or --tune, not both")
    return args


def print_scores(name, threshold, scores):
    kept = f"threshold {threshold:.4f}" if threshold is not None else "every candidate"
    print(
        f"{name}: {kept}: precision {scores['precision']:.1f}, recall {scores['recall']:.1f}, "
        f"F1 {scores['f1']:.1f} ({scores['found']} gold pairs found)"
    )


def mine_files(args, settings):
    source, target = runs.read_lines(args.src), runs.read_lines(args.tgt)
    gold = runs.read_gold(args.gold, source, target) if args.gold else None
    distinct_source, source_rows = mining.unique_sentences(source)
    distinct_target, target_rows = mining.unique_sentences(target)
    if args.src_emb:
        x = runs.load_embeddings(args.src_emb, len(source), args.src)[runs.first_rows(source_rows)]
        y = runs.load_embeddings(args.tgt_emb, len(target), args.tgt)[runs.first_rows(target_rows)]
        scores, pairs = runs.mine_sentences(distinct_source, distinct_target, x, y, settings)
    else:
        embedder = scorer_from(args)
        scores, pairs = runs.mine_collections(
            embedder, distinct_source, distinct_target, args.src_lang, args.tgt_lang, settings
        )
        report_truncated(embedder)
    threshold, measured = runs.threshold_and_scores(scores, pairs, gold, args.threshold, args.tune)
    kept = [(s, p) for s, p in zip(scores, pairs) if threshold is None or s >= threshold]
    write_lines(args.out, (f"{s:.6f}\t{a}\t{b}" for s, (a, b) in kept))
    print(
        f"{len(source)} source lines ({len(distinct_source)} distinct), {len(target)} target lines "
        f"({len(distinct_target)} distinct): {len(pairs)} candidates, {len(kept)} written to {args.out}"
    )
    report = {"candidates": len(pairs), "written": len(kept), "threshold": threshold, "strategy": args.strategy}
    if measured is not None:
        print_scores("gold" + (" (threshold tuned on it)" if args.tune else ""), threshold, measured)
        report["scores"] = measured
    return report


def scorer_from(args):
    """The embedder, or None for --baseline char-ngram."""
    return None if args.baseline else embedder_from(args)


def report_truncated(embedder):
    if embedder is not None:
        embedder.report_truncated("cxlm-mine")


def mine_bucc(args, settings):
    embedder = scorer_from(args)
    report, lines = runs.mine_bucc(embedder, args.bucc, args.lang, settings, test=bool(args.out))
    print_scores(f"{args.lang} training (threshold tuned on it)", report["threshold"], report["training"])
    if "sample" in report:
        print_scores(f"{args.lang} sample", report["threshold"], report["sample"])
    if "test_pairs" in report:
        write_lines(args.out, lines)
        print(f"{args.lang} test: {len(lines)} id pairs written to {args.out}")
    report_truncated(embedder)
    return report


def mine_hidden(args, settings):
    embedder = scorer_from(args)
    results = runs.mine_hidden(embedder, args.pairs, args.hidden, settings)
    for lang, measured in results.items():
        if lang != "average":
            where = f"{args.hidden} translations among {measured['foreign']} x {measured['english']}"
            print_scores(f"{lang}: {where}", measured["threshold"], measured)
    average = results["average"]
    print(f"average: precision {average['precision']:.1f}, recall {average['recall']:.1f}, F1 {average['f1']:.1f}")
    report_truncated(embedder)
    return {"hidden": args.hidden, "strategy": args.strategy, "results": results}


@command("cxlm-mine")
def main(argv=None):
    args = parse_args(argv)
    settings = runs.MiningSettings(args.k, args.strategy, args.index, args.batch_size)
    mode = mine_bucc if args.bucc else mine_hidden if args.pairs else mine_files
    report = mode(args, settings)
    if args.json:
        write_json(args.json, report)
        if mode is not mine_files:
            print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
