"""cxlm-mine: find the translations hidden in two unaligned text collections (bitext mining), as LASER does.

    cxlm-mine --src news.de --tgt news.en --checkpoint ckpt.pt --data data-bin --src-lang de --out mined.tsv
    cxlm-mine --src news.de --tgt news.en --src-emb news.de.npy --tgt-emb news.en.npy --threshold 1.1 --out mined.tsv
    cxlm-mine --src s.txt --tgt t.txt --checkpoint ckpt.pt --data data-bin --gold gold.tsv --tune --out mined.tsv
    cxlm-mine --bucc data/bucc2018 --lang de --checkpoint ckpt.pt --data data-bin --json bucc_de.json
    cxlm-mine --pairs runs/demo/raw/heldout --hidden 300 --checkpoint ckpt.pt --data data-bin --json mining.json

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
import os
from typing import Dict, List, Optional, Set, Tuple

import numpy as np

from ..atomic import atomic_path
from ..errors import UserInputError
from ..evaluation import bucc, mining, tatoeba
from ..evaluation.embedding import text_lines
from . import command, write_json
from .inputs import embedder_from, embedder_options


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="cxlm-mine", description=__doc__.split("\n\n")[0])
    embedder_options(parser, required=False)
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
    model = bool(args.checkpoint and args.data)
    if args.bucc or args.pairs:
        if not model or (args.bucc and not args.lang):
            parser.error("--bucc needs --lang, --checkpoint and --data; --pairs needs --checkpoint and --data")
    else:
        if not (args.src and args.tgt and args.out):
            parser.error("give --src, --tgt and --out (or --bucc DIR --lang L)")
        if model == bool(args.src_emb or args.tgt_emb) or bool(args.src_emb) != bool(args.tgt_emb):
            parser.error("give either --checkpoint and --data, or --src-emb and --tgt-emb")
        if args.tune and not args.gold:
            parser.error("--tune needs --gold")
        if args.tune and args.threshold is not None:
            parser.error("give --threshold or --tune, not both")
    return args


def read_lines(path: str) -> List[str]:
    lines = list(text_lines(path))
    if not lines:
        raise UserInputError(f"{path} is empty: nothing to mine")
    return lines


def load_embeddings(path: str, lines: int, text: str) -> np.ndarray:
    if not os.path.isfile(path):
        raise UserInputError(f"{path} does not exist")
    try:
        vectors = np.load(path, mmap_mode="r", allow_pickle=False)
    except ValueError as err:
        raise UserInputError(f"{path} is not a NumPy .npy file ({err})") from None
    if vectors.ndim != 2 or vectors.dtype not in (np.float16, np.float32):
        raise UserInputError(
            f"{path} holds a {vectors.dtype} array of shape {vectors.shape}: expected lines x dimensions, "
            "float16 or float32 (cxlm-embed writes them)"
        )
    if len(vectors) != lines:
        raise UserInputError(f"{path} has {len(vectors)} rows but {text} has {lines} lines: one row a line")
    return vectors


def first_rows(line_rows: np.ndarray) -> np.ndarray:
    """For each distinct sentence (numbered in first-seen order), the first line holding it."""
    _, first = np.unique(line_rows, return_index=True)
    return first


def read_gold(path: str, source: List[str], target: List[str]) -> Set[Tuple[str, str]]:
    gold = set()
    for number, line in enumerate(text_lines(path), 1):
        fields = line.split("\t")
        if len(fields) != 2 or not all(f.strip().isdigit() for f in fields):
            raise UserInputError(f"{path}: line {number} is not 'source line<TAB>target line' (1-based numbers)")
        i, j = int(fields[0]), int(fields[1])
        if not (1 <= i <= len(source) and 1 <= j <= len(target)):
            raise UserInputError(
                f"{path}: line {number} names lines {i} and {j}, beyond the {len(source)} source and "
                f"{len(target)} target lines"
            )
        gold.add((source[i - 1], target[j - 1]))
    if not gold:
        raise UserInputError(f"{path} is empty: no gold pairs")
    return gold


def mine_sentences(
    source: List[str], target: List[str], source_vectors, target_vectors, args
) -> Tuple[np.ndarray, List[Tuple[str, str]]]:
    """(margin scores best first, the (source, target) sentence pairs they score) of distinct sentences."""
    if source_vectors.shape[1] != target_vectors.shape[1]:
        raise UserInputError(
            f"the source embeddings are {source_vectors.shape[1]} wide and the target's "
            f"{target_vectors.shape[1]}: they must come from one model"
        )
    found = mining.margin_candidates(source_vectors, target_vectors, args.k, args.strategy, args.index)
    return found.scores, [(source[i], target[j]) for i, j in zip(found.source, found.target)]


def threshold_and_scores(args, scores, pairs, gold) -> Tuple[Optional[float], Optional[Dict]]:
    if args.tune:
        return mining.tune_threshold(scores, pairs, gold)
    threshold = args.threshold
    if gold is None:
        return threshold, None
    kept = {p for s, p in zip(scores, pairs) if threshold is None or s >= threshold}
    return threshold, mining.precision_recall_f1(kept, gold)


def write_lines(path: str, lines):
    """All or nothing: under PATH.partial, then renamed."""
    with atomic_path(path) as partial, open(partial, "w", encoding="utf-8") as f:
        for line in lines:
            f.write(line + "\n")


def print_scores(name, threshold, scores):
    kept = f"threshold {threshold:.4f}" if threshold is not None else "every candidate"
    print(
        f"{name}: {kept}: precision {scores['precision']:.1f}, recall {scores['recall']:.1f}, "
        f"F1 {scores['f1']:.1f} ({scores['found']} gold pairs found)"
    )


def mine_files(args):
    source, target = read_lines(args.src), read_lines(args.tgt)
    gold = read_gold(args.gold, source, target) if args.gold else None
    distinct_source, source_rows = mining.unique_sentences(source)
    distinct_target, target_rows = mining.unique_sentences(target)
    if args.src_emb:
        x = load_embeddings(args.src_emb, len(source), args.src)[first_rows(source_rows)]
        y = load_embeddings(args.tgt_emb, len(target), args.tgt)[first_rows(target_rows)]
    else:
        embedder = embedder_from(args)
        x = embedder.embed(distinct_source, args.src_lang, args.batch_size, progress=len(source) > 2000)
        y = embedder.embed(distinct_target, args.tgt_lang, args.batch_size, progress=len(target) > 2000)
        embedder.report_truncated("cxlm-mine")
    scores, pairs = mine_sentences(distinct_source, distinct_target, x, y, args)
    threshold, measured = threshold_and_scores(args, scores, pairs, gold)
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
    if args.json:
        write_json(args.json, report)


def mine_bucc_split(embedder, split: bucc.Split, lang: str, args):
    foreign, english = sorted(set(split.foreign.values())), sorted(set(split.english.values()))
    x = embedder.embed(foreign, lang, args.batch_size, progress=True)
    y = embedder.embed(english, "en", args.batch_size, progress=True)
    scores, pairs = mine_sentences(foreign, english, x, y, args)
    gold = None
    if split.gold is not None:
        gold = {(split.foreign[f], split.english[e]) for f, e in split.gold}
    return scores, pairs, gold


def mine_bucc(args):
    splits = bucc.available_splits(args.bucc, args.lang)
    training = bucc.read_split(args.bucc, args.lang, "training")
    if training.gold is None:
        raise UserInputError(f"no {args.lang}-en.training.gold below {args.bucc}: the threshold is tuned on it")
    embedder = embedder_from(args)
    scores, pairs, gold = mine_bucc_split(embedder, training, args.lang, args)
    threshold, measured = mining.tune_threshold(scores, pairs, gold)
    print_scores(f"{args.lang} training (threshold tuned on it)", threshold, measured)
    report = {"lang": args.lang, "strategy": args.strategy, "k": args.k, "threshold": threshold}
    report["training"] = measured
    if "sample" in splits:
        scores, pairs, gold = mine_bucc_split(
            embedder, bucc.read_split(args.bucc, args.lang, "sample"), args.lang, args
        )
        if gold is not None:
            report["sample"] = mining.precision_recall_f1({p for s, p in zip(scores, pairs) if s >= threshold}, gold)
            print_scores(f"{args.lang} sample", threshold, report["sample"])
    if "test" in splits and args.out:
        test = bucc.read_split(args.bucc, args.lang, "test")
        scores, pairs, _ = mine_bucc_split(embedder, test, args.lang, args)
        ids_of = {}
        for side, sentences in (("f", test.foreign), ("e", test.english)):
            for sentence_id, sentence in sentences.items():
                ids_of.setdefault((side, sentence), []).append(sentence_id)
        lines = [
            f"{f}\t{e}"
            for s, (a, b) in zip(scores, pairs)
            if s >= threshold
            for f in ids_of[("f", a)]
            for e in ids_of[("e", b)]
        ]
        write_lines(args.out, lines)
        report["test_pairs"] = len(lines)
        print(f"{args.lang} test: {len(lines)} id pairs written to {args.out}")
    embedder.report_truncated("cxlm-mine")
    if args.json:
        write_json(args.json, report)
        print(f"wrote {args.json}")


def mine_hidden(args):
    embedder = embedder_from(args)
    report = {}
    for lang, (foreign, english) in tatoeba.en_x_directory(args.pairs).items():
        if len(foreign) < 2 * args.hidden:
            raise UserInputError(
                f"{args.pairs}: en-{lang} has {len(foreign)} pairs, fewer than 2 x --hidden {args.hidden}"
            )
        found = mining.hide_translations(foreign, english, args.hidden)
        x = embedder.embed(found.foreign, lang, args.batch_size)
        y = embedder.embed(found.english, "en", args.batch_size)
        scores, pairs = mine_sentences(found.foreign, found.english, x, y, args)
        gold = {(found.foreign[i], found.english[j]) for i, j in found.gold}
        threshold, measured = mining.tune_threshold(scores, pairs, gold)
        report[lang] = {
            **measured,
            "threshold": threshold,
            "foreign": len(found.foreign),
            "english": len(found.english),
        }
        print_scores(
            f"{lang}: {args.hidden} translations among {len(found.foreign)} x {len(found.english)}", threshold, measured
        )
    report["average"] = {
        key: float(np.mean([r[key] for r in report.values()])) for key in ("precision", "recall", "f1")
    }
    print(
        f"average: precision {report['average']['precision']:.1f}, recall {report['average']['recall']:.1f}, "
        f"F1 {report['average']['f1']:.1f}"
    )
    embedder.report_truncated("cxlm-mine")
    if args.json:
        write_json(args.json, {"hidden": args.hidden, "strategy": args.strategy, "results": report})
        print(f"wrote {args.json}")


@command("cxlm-mine")
def main(argv=None):
    args = parse_args(argv)
    if args.bucc:
        mine_bucc(args)
    elif args.pairs:
        mine_hidden(args)
    else:
        mine_files(args)


if __name__ == "__main__":
    main()
