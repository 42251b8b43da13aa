"""cxlm-download: the paper's corpora, resumable and verified.

    cxlm-download wikipedia --langs en,de --out raw/wiki        # dumps (MD5-checked) -> wiki.<lang>.txt
    cxlm-download opus --langs de,fr --out raw/opus             # en-X from MultiUN/EUbookshop/TED2013/OpenSubtitles
    cxlm-download tatoeba --langs de,fr --out data/tatoeba      # LASER's Tatoeba v1 test pairs
    cxlm-download xnli --out data/xnli                          # XNLI-1.0 and XNLI-MT-1.0
    cxlm-download bucc --langs de,fr,ru,zh --out data/bucc2018  # BUCC 2018 bitext mining

Run a command again after an interruption: finished files are kept, a partial download continues.
Each writes OUT/cxlm-prepare.args where the result is input to cxlm-prepare.
"""

import argparse
import logging
import os
import zipfile

from ..atomic import atomic_path, write_lines
from ..errors import UserInputError
from ..languages import ISO_639_1, XNLI_LANGUAGES, select_langs
from ..prepare import sources, wikipedia
from ..prepare.download import DownloadError, fetch, untar, unzip
from . import command

logger = logging.getLogger("cxlm-download")


def languages(text, allowed, option="--langs"):
    return select_langs(text, option, sorted(allowed), default=())


def write_args(out, lines):
    write_lines(os.path.join(out, "cxlm-prepare.args"), lines)


def get_wikipedia(args):
    langs = languages(args.langs, ISO_639_1)
    lines = []
    for lang in langs:
        sums_path = fetch(
            sources.wikipedia_md5sums(args.base_url, lang, args.date),
            os.path.join(args.out, f"{lang}wiki-{args.date}-md5sums.txt"),
        )
        name = os.path.basename(sources.wikipedia_dump(args.base_url, lang, args.date))
        with open(sums_path, encoding="utf-8") as f:
            md5 = {n: digest for digest, n in (line.split() for line in f if line.strip())}.get(name)
        if md5 is None:
            raise DownloadError(f"{sums_path} lists no checksum for {name}")
        dump = fetch(sources.wikipedia_dump(args.base_url, lang, args.date), os.path.join(args.out, name), md5=md5)
        text = os.path.join(args.out, f"wiki.{lang}.txt")
        if not os.path.exists(text):
            with atomic_path(text, suffix=".part") as part, open(part, "w", encoding="utf-8") as out:
                count = wikipedia.extract(dump, out, min_chars=args.min_chars, max_articles=args.max_articles)
            logger.info("%s: %d articles -> %s", lang, count, text)
        lines.append(f"--mono {lang}:{text}")
    write_args(args.out, lines)


def get_opus(args):
    langs = languages(args.langs, set(sources.OPUS_DEFAULTS))
    lines = []
    for lang in langs:
        corpus, version = (args.corpus, args.version) if args.corpus else sources.OPUS_DEFAULTS[lang]
        url = sources.opus_moses_zip(args.base_url, corpus, version, "en", lang)
        archive = fetch(
            url, os.path.join(args.out, f"{corpus}-{version}.{'-'.join(sources.opus_pair('en', lang))}.txt.zip")
        )
        prefix = os.path.join(args.out, f"en-{lang}")
        members = {sources.opus_member(corpus, "en", lang, side): f"{prefix}.{side}" for side in ("en", lang)}
        if not all(os.path.exists(path) for path in members.values()):
            staging = os.path.join(args.out, f".unzip-en-{lang}")
            try:
                unzip(archive, staging, members=set(members))
            except zipfile.BadZipFile:
                raise DownloadError(f"{archive} is not a readable zip archive; delete it and run again") from None
            for member, path in members.items():
                if not os.path.exists(os.path.join(staging, member)):
                    raise DownloadError(f"{archive} has no {member}")
                os.replace(os.path.join(staging, member), path)
            os.rmdir(staging)
        logger.info("en-%s: %s %s -> %s.{en,%s}", lang, corpus, version, prefix, lang)
        lines.append(f"--para en-{lang}:{prefix}.en,{prefix}.{lang}")
    write_args(args.out, lines)


def get_tatoeba(args):
    for lang in languages(args.langs, set(sources.TATOEBA_CODES)):
        for url in sources.tatoeba_files(args.base_url, lang):
            fetch(url, os.path.join(args.out, url.rsplit("/", 1)[1]))
    logger.info("Tatoeba pairs in %s", args.out)


def get_xlm15(args):
    for name in sources.XLM15_FILES:
        fetch(f"{args.base_url}/{name}", os.path.join(args.out, name))
    model, codes = (os.path.join(args.out, name) for name in sources.XLM15_FILES[:2])
    logger.info("XLM-15 in %s; next: cxlm-import xlm %s --codes %s --out xlm15", args.out, model, codes)


def get_xnli(args):
    for name in sources.XNLI_ARCHIVES:
        archive = fetch(f"{args.base_url}/{name}", os.path.join(args.out, name))
        folder = os.path.join(args.out, name[: -len(".zip")])
        if not os.path.isdir(folder):
            unzip(archive, args.out)
        logger.info("%s -> %s", name, folder)


def get_bucc(args):
    for lang in languages(args.langs, set(sources.BUCC_LANGUAGES)):
        for split in sources.BUCC_SPLITS:
            name = sources.bucc_archive(lang, split)
            archive = fetch(f"{args.base_url}/{name}", os.path.join(args.out, "archives", name))
            done = os.path.join(args.out, "archives", name + ".extracted")
            if not os.path.exists(done):
                untar(archive, args.out)
                open(done, "w").close()
            logger.info("%s -> %s", name, args.out)
    logger.info("next: cxlm-mine --bucc %s --lang %s --checkpoint CKPT --data DATA", args.out, args.langs.split(",")[0])


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog="cxlm-download", description="Download the paper's corpora (resumable, verified)."
    )
    commands = parser.add_subparsers(dest="source", required=True)

    wiki = commands.add_parser("wikipedia", help="Wikipedia dumps, extracted to one paragraph per line")
    wiki.add_argument(
        "--langs", default=",".join(XNLI_LANGUAGES), help="comma-separated languages (default: the 15 XNLI ones)"
    )
    wiki.add_argument("--date", default="latest", help="dump date, e.g. 20240601 (default latest)")
    wiki.add_argument("--min-chars", type=int, default=30, help="drop paragraphs shorter than this (default 30)")
    wiki.add_argument("--max-articles", type=int, default=0, help="stop after this many articles per language (0: all)")
    wiki.add_argument(
        "--base-url", default=sources.WIKIPEDIA_BASE, help=f"dump server (default {sources.WIKIPEDIA_BASE})"
    )
    wiki.set_defaults(run=get_wikipedia)

    opus = commands.add_parser("opus", help="en-X parallel text from OPUS (moses format)")
    opus.add_argument(
        "--langs", default=",".join(sources.OPUS_DEFAULTS), help="the X of en-X (default: the 14 XNLI ones)"
    )
    opus.add_argument("--corpus", help="one OPUS corpus for every pair (default: the paper's choice per language)")
    opus.add_argument("--version", help="its version, with --corpus (e.g. v1, v2018)")
    opus.add_argument("--base-url", default=sources.OPUS_BASE, help=f"OPUS storage (default {sources.OPUS_BASE})")
    opus.set_defaults(run=get_opus)

    tatoeba = commands.add_parser("tatoeba", help="LASER's Tatoeba v1 test pairs")
    tatoeba.add_argument(
        "--langs", default=",".join(sources.TATOEBA_CODES), help="comma-separated languages (default: all 14)"
    )
    tatoeba.add_argument(
        "--base-url", default=sources.TATOEBA_BASE, help=f"where the files are (default {sources.TATOEBA_BASE})"
    )
    tatoeba.set_defaults(run=get_tatoeba)

    xnli = commands.add_parser(
        "xnli", help="XNLI-1.0 (dev/test, 15 languages) and XNLI-MT-1.0 (machine-translated train)"
    )
    xnli.add_argument(
        "--base-url", default=sources.XNLI_BASE, help=f"where the archives are (default {sources.XNLI_BASE})"
    )
    xnli.set_defaults(run=get_xnli)

    bucc = commands.add_parser("bucc", help="BUCC 2018 bitext mining: sample, training (with gold) and test splits")
    bucc.add_argument(
        "--langs", default=",".join(sources.BUCC_LANGUAGES), help="comma-separated languages (default de,fr,ru,zh)"
    )
    bucc.add_argument(
        "--base-url", default=sources.BUCC_BASE, help=f"where the archives are (default {sources.BUCC_BASE})"
    )
    bucc.set_defaults(run=get_bucc)

    xlm15 = commands.add_parser("xlm15", help="XLM-15 (MLM+TLM, 15 XNLI languages): checkpoint, BPE codes, vocabulary")
    xlm15.add_argument("--base-url", default=sources.XLM_BASE, help=f"where the files are (default {sources.XLM_BASE})")
    xlm15.set_defaults(run=get_xlm15)

    for sub in (wiki, opus, tatoeba, xnli, bucc, xlm15):
        sub.add_argument("--out", required=True, help="output directory")
    args = parser.parse_args(argv)
    if getattr(args, "corpus", None) and not args.version:
        parser.error("--corpus needs --version")
    return args


@command("cxlm-download")
def main(argv=None):
    args = parse_args(argv)
    if os.path.exists(args.out) and not os.path.isdir(args.out):
        raise UserInputError(f"--out {args.out} is not a directory")
    os.makedirs(args.out, exist_ok=True)
    args.base_url = args.base_url.rstrip("/")
    args.run(args)


if __name__ == "__main__":
    main()
