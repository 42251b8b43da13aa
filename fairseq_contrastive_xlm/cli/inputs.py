"""Options that several commands share: the checkpoint to embed with, and the sentence pairs to embed
(a Tatoeba directory, a directory of held-out pairs, or two line-aligned files)."""

import argparse
from typing import Dict, List, NamedTuple

from ..errors import UserInputError
from ..evaluation import tatoeba
from ..evaluation.embedding import SentenceEmbedder, SentenceTransformerEmbedder
from ..languages import select_langs
from ..modules import POOLINGS


def embedder_options(parser):
    parser.add_argument("--checkpoint", help="a contrastive_xlm checkpoint (with --data)")
    parser.add_argument("--data", help="its data directory (spm.model and the dictionary)")
    parser.add_argument(
        "--st-model",
        help="instead of --checkpoint/--data: any sentence-transformers folder (cxlm-export-hf's, LaBSE, ...)",
    )
    parser.add_argument("--pooling", choices=POOLINGS, help="default: the model's --ntxent-pooling")
    parser.add_argument(
        "--layer", type=int, help="0 = embeddings, 1..L, -1 = last (default: the model's --ntxent-layer)"
    )
    parser.add_argument("--projection", action="store_true", help="use the NT-Xent projection head's output")
    lowercase_option(parser)
    parser.add_argument("--batch-size", type=int, default=64, help="sentences per batch (default 64)")
    parser.add_argument("--cpu", action="store_true", help="use the CPU even if a GPU is present")


def lowercase_option(parser):
    parser.add_argument(
        "--lowercase",
        action=argparse.BooleanOptionalAction,
        help="for a data directory with XLM's codes: lowercase and strip accents or not (default: as recorded there)",
    )


def check_embedder_options(parser, args, baseline: bool = False, required: bool = True) -> bool:
    """At most one source of embeddings (exactly one if required): --checkpoint and --data, --st-model, or
    (where offered) --baseline. Returns whether it is a model (not the baseline, not none)."""
    given = [bool(args.checkpoint or args.data), bool(args.st_model), bool(getattr(args, "baseline", None))]
    half = (args.checkpoint or args.data) and not (args.checkpoint and args.data)
    if sum(given) > 1 or half or (required and not any(given)):
        parser.error(f"give --checkpoint and --data, or --st-model{', or --baseline char-ngram' if baseline else ''}")
    if args.st_model and (args.pooling or args.layer is not None or args.projection):
        parser.error("--pooling, --layer and --projection are the checkpoint's: a --st-model embeds as it was saved")
    return given[0] or given[1]


def embedder_from(args):
    """The embedder the options name: a checkpoint (SentenceEmbedder) or a sentence-transformers folder."""
    if args.st_model:
        return SentenceTransformerEmbedder(args.st_model, args.cpu)
    return SentenceEmbedder(
        args.checkpoint, args.data, args.pooling, args.layer, args.projection, args.cpu, args.lowercase
    )


class PairSet(NamedTuple):
    source: List[str]
    target: List[str]
    source_lang: str
    target_lang: str


def pair_options(parser, langs_help: str):
    parser.add_argument("--tatoeba", help="a LASER Tatoeba v1 directory: the XNLI languages in it")
    parser.add_argument("--langs", help=f"with --tatoeba: comma-separated languages ({langs_help})")
    parser.add_argument("--pairs", help="a directory of en-<lang>.en / en-<lang>.<lang> files (e.g. held-out pairs)")
    parser.add_argument("--src", help="source sentences, one per line")
    parser.add_argument("--tgt", help="their translations, line-aligned")
    parser.add_argument("--src-lang", default="xx", help="language of --src (for language embeddings)")
    parser.add_argument("--tgt-lang", default="en", help="language of --tgt (default en)")


def check_pair_options(parser, args):
    if sum(map(bool, (args.tatoeba, args.pairs, args.src or args.tgt))) != 1 or bool(args.src) != bool(args.tgt):
        parser.error("give one of: --tatoeba, --pairs, --src and --tgt")


def pair_sets(args, default_langs=None) -> Dict[str, PairSet]:
    """name -> the pairs to embed: a language of --tatoeba or --pairs (against English), or SRC-TGT.
    default_langs: the Tatoeba languages taken without --langs, where present (None: all present)."""
    if args.tatoeba:
        present = tatoeba.available(args.tatoeba)
        default = None if default_langs is None else [lang for lang in default_langs if lang in present]
        langs = select_langs(args.langs, "--langs", present, default)
        return {lang: PairSet(*tatoeba.pairs(args.tatoeba, lang), lang, "en") for lang in langs}
    if args.pairs:
        return {
            lang: PairSet(foreign, english, lang, "en")
            for lang, (foreign, english) in tatoeba.en_x_directory(args.pairs).items()
        }
    source, target = tatoeba.read_aligned(args.src, args.tgt)
    return {f"{args.src_lang}-{args.tgt_lang}": PairSet(source, target, args.src_lang, args.tgt_lang)}


def parse_numbers(text: str, option: str, kind=float) -> list:
    """'1e-5,3e-5' -> [1e-05, 3e-05]: a comma list of numbers for grid and benchmark options."""
    try:
        return [kind(part) for part in (p.strip() for p in (text or "").split(",")) if part]
    except ValueError:
        raise UserInputError(f"{option}: {text!r} is not a comma-separated list of {kind.__name__} values") from None
