"""cxlm-prepare: raw monolingual and parallel text -> the data directory of cross_lingual_lm_contrastive.

    cxlm-prepare --mono en:wiki.en --mono de:wiki.de --para en-de:opus.en,opus.de \\
        --vocab-size 32000 --out data-bin

    cxlm-prepare ... --parts 64 --executor slurm --out data-bin      # in parts, one SLURM job each
    cxlm-prepare --verify data-bin                                    # a copy against its manifest

The pipeline (prepare/pipeline.py) cleans, splits, trains or reuses SentencePiece, encodes to ids, filters pairs
by length ratio, writes fairseq-preprocess's binaries and manifest.json; the output appears whole or not at all.
Inputs may be gzip, xz, bzip2 or zstd archives. This command parses --mono/--para and the options (one flag per
PrepareOptions field).
"""

import argparse
import dataclasses
import os
import typing

from ..errors import UserInputError
from ..prepare.pipeline import Corpus, PrepareOptions, prepare
from ..prepare.verify import verify
from . import command


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog="cxlm-prepare",
        description="Raw text -> the binarized data directory of the cross_lingual_lm_contrastive task.",
    )
    parser.add_argument(
        "--mono",
        action="append",
        default=[],
        metavar="LANG:PATH",
        help="monolingual text of LANG, one sentence or paragraph per line (repeatable)",
    )
    parser.add_argument(
        "--para",
        action="append",
        default=[],
        metavar="SRC-TGT:SRC_PATH,TGT_PATH",
        help="line-aligned translations (repeatable)",
    )
    parser.add_argument("--out", help="the data directory to write")
    parser.add_argument(
        "--verify",
        metavar="DIR",
        help="check a data directory against its manifest.json (each file's size and SHA-256, every .idx against its "
        ".bin), e.g. after copying it; nothing is written",
    )
    defaults = PrepareOptions()
    for option in dataclasses.fields(PrepareOptions):
        default = getattr(defaults, option.name)
        kind = next((t for t in typing.get_args(option.type) if t is not type(None)), option.type)  # Optional[X]
        shown = "" if default is None or "(default" in option.metadata["help"] else " (default %(default)s)"
        if kind is bool:  # --lowercase / --no-lowercase
            name = "--" + option.name.replace("_", "-")
            parser.add_argument(
                name, action=argparse.BooleanOptionalAction, default=default, help=option.metadata["help"]
            )
            continue
        parser.add_argument(
            "--" + option.name.replace("_", "-"),
            type=kind,
            default=default,
            choices=option.metadata.get("choices"),
            help=option.metadata["help"] + shown,
        )
    parser.add_argument("--force", action="store_true", help="replace --out if it exists")
    args = parser.parse_args(argv)
    if not (args.out or args.verify):
        parser.error("give --out DIR (or --verify DIR to check one)")
    return args


def corpora_from(args):
    """The --mono and --para specs as corpora."""
    corpora = []
    for spec in args.mono:
        lang, sep, path = spec.partition(":")
        if not sep or not lang or not path:
            raise UserInputError(f"--mono {spec!r}: expected LANG:PATH, e.g. en:wiki.en.txt")
        corpora.append(Corpus((lang,), (path,)))
    for spec in args.para:
        pair, sep, paths = spec.partition(":")
        langs, files = pair.split("-"), paths.split(",")
        if not sep or len(langs) != 2 or not all(langs) or len(files) != 2 or not all(files):
            hint = " (a tag such as zh-Hans is written zh_Hans)" if len(langs) > 2 else ""
            raise UserInputError(
                f"--para {spec!r}: expected SRC-TGT:SRC_PATH,TGT_PATH, e.g. en-de:opus.en,opus.de{hint}"
            )
        if langs[0] == langs[1]:
            raise UserInputError(f"--para {spec!r}: a pair needs two different languages")
        corpora.append(Corpus(tuple(langs), tuple(files)))
    return corpora


@command("cxlm-prepare")
def main(argv=None):
    args = parse_args(argv)
    if args.verify:
        files, size = verify(args.verify)
        print(f"{args.verify}: {files} files, {size / 1e6:.1f} MB, as manifest.json records them")
        return
    options = PrepareOptions(**{f.name: getattr(args, f.name) for f in dataclasses.fields(PrepareOptions)})
    prepare(corpora_from(args), args.out, options, force=args.force)
    if options.shards > 1:
        shards = os.pathsep.join(os.path.join(args.out, f"shard{i}") for i in range(options.shards))
        print(f"{options.shards} shards: train with --data {shards}")


if __name__ == "__main__":
    main()
