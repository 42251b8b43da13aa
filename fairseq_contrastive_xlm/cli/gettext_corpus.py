"""cxlm-gettext-corpus: an offline en-X parallel corpus from the gettext catalogs on this machine.

    cxlm-gettext-corpus --langs de,fr,ru --out raw
    cxlm-prepare $(cat raw/cxlm-prepare.args) --vocab-size 8000 --out data-bin

Writes OUT/en-<lang>.en and OUT/en-<lang>.<lang> (line-aligned) for each language, OUT/corpus.json
(pairs per language) and OUT/cxlm-prepare.args: the --para (and --mono) arguments for cxlm-prepare.
With --heldout N the last N pairs of each language go to OUT/heldout/en-<lang>.{en,<lang>} instead, for
retrieval tests, and appear in no training file (monolingual ones included).
"""

import argparse
import logging
import os

from ..atomic import write_json, write_lines
from ..errors import UserInputError
from ..languages import select_langs
from ..prepare.gettext_corpus import LOCALE_DIR, XNLI_LOCALES, gettext_pairs, shuffled
from . import command

logger = logging.getLogger("cxlm-gettext-corpus")


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="cxlm-gettext-corpus", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, help="directory for the text files")
    parser.add_argument(
        "--langs",
        default=",".join(XNLI_LOCALES),
        help="comma-separated XNLI languages (default: the 14 non-English ones)",
    )
    parser.add_argument(
        "--min-pairs",
        type=int,
        default=100,
        help="skip a language with fewer pairs than this on the machine (default 100)",
    )
    parser.add_argument("--max-pairs", type=int, default=0, help="keep at most this many pairs per language (0: all)")
    parser.add_argument(
        "--mono",
        action="store_true",
        help="also write each side as monolingual text (OUT/mono.<lang>) and list it for cxlm-prepare",
    )
    parser.add_argument(
        "--heldout",
        type=int,
        default=0,
        help="pairs per language kept out of every training file, in OUT/heldout/ (default 0)",
    )
    parser.add_argument("--locale-dir", default=LOCALE_DIR, help=f"where the catalogs are (default {LOCALE_DIR})")
    parser.add_argument("--seed", type=int, default=1, help="order of the pairs (default 1)")
    return parser.parse_args(argv)


@command("cxlm-gettext-corpus")
def main(argv=None):
    args = parse_args(argv)
    langs = select_langs(args.langs, "--langs", list(XNLI_LOCALES), default=())
    if not os.path.isdir(args.locale_dir):
        raise UserInputError(f"--locale-dir {args.locale_dir} does not exist")
    os.makedirs(args.out, exist_ok=True)
    counts, prepare_args, english = {}, [], []
    for lang in langs:
        pairs = shuffled(gettext_pairs(lang, args.locale_dir), args.seed)
        if args.max_pairs:
            pairs = pairs[: args.max_pairs]
        if len(pairs) < args.min_pairs + args.heldout:
            logger.warning(
                "%s: only %d pairs in %s, skipped (--min-pairs %d, --heldout %d)",
                lang,
                len(pairs),
                args.locale_dir,
                args.min_pairs,
                args.heldout,
            )
            continue
        if args.heldout:
            pairs, heldout = pairs[: -args.heldout], pairs[-args.heldout :]
            os.makedirs(os.path.join(args.out, "heldout"), exist_ok=True)
            held = os.path.join(args.out, "heldout", f"en-{lang}")
            write_lines(f"{held}.en", (p[0] for p in heldout))
            write_lines(f"{held}.{lang}", (p[1] for p in heldout))
        prefix = os.path.join(args.out, f"en-{lang}")
        write_lines(f"{prefix}.en", (p[0] for p in pairs))
        write_lines(f"{prefix}.{lang}", (p[1] for p in pairs))
        prepare_args.append(f"--para en-{lang}:{prefix}.en,{prefix}.{lang}")
        if args.mono:
            write_lines(os.path.join(args.out, f"mono.{lang}"), (p[1] for p in pairs))
            prepare_args.append(f"--mono {lang}:{os.path.join(args.out, f'mono.{lang}')}")
            english.extend(p[0] for p in pairs)
        counts[lang] = len(pairs)
        logger.info("%s: %d pairs", lang, len(pairs))
    if not counts:
        raise UserInputError(
            f"no language of {', '.join(langs)} has {args.min_pairs} or more pairs in {args.locale_dir}"
        )
    if args.mono:
        path = os.path.join(args.out, "mono.en")
        write_lines(path, dict.fromkeys(english))  # each English message once, in first-seen order
        prepare_args.append(f"--mono en:{path}")
    write_json(
        os.path.join(args.out, "corpus.json"),
        {"source": args.locale_dir, "pairs": counts, "heldout_per_language": args.heldout},
    )
    write_lines(os.path.join(args.out, "cxlm-prepare.args"), prepare_args)
    print(" ".join(prepare_args))


if __name__ == "__main__":
    main()
