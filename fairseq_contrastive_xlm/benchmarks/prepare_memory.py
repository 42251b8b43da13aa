"""cxlm-prepare at two corpus sizes: its peak memory (resident set) and throughput, each size in a fresh process,
on synthetic unique lines made from the gettext catalogs (real text in several scripts, every line distinct, so
that the de-duplication holds all of them).

    python -m fairseq_contrastive_xlm.benchmarks.prepare_memory --sizes-mb 60 600 --work /tmp/prep --json prep.json

Prints, per size, lines, seconds, lines per second per worker and peak RSS; then the ratio of the peaks, which
must stay at most 1.5 for a corpus 10x larger (a data path that holds the corpus grows about 10x)."""

import argparse
import json
import os
import shutil
import subprocess
import sys

from ..atomic import write_json
from ..prepare.gettext_corpus import gettext_pairs

LANGS = ("de", "fr", "ru", "el", "zh_CN")  # Latin, Cyrillic, Greek and Han scripts


def write_corpus(path: str, megabytes: float) -> int:
    """Unique lines of gettext text, about `megabytes` MB: two messages and a line number each. Returns lines."""
    messages = [text for lang in LANGS for pair in gettext_pairs(lang) for text in pair if 10 <= len(text) <= 200]
    if not messages:
        raise SystemExit("no gettext catalogs under /usr/share/locale: nothing to make the corpus from")
    target, written, lines = megabytes * 1e6, 0, 0
    step = 7919  # a prime: the pairs of messages cycle through many combinations before repeating
    with open(path, "w", encoding="utf-8") as f:
        while written < target:
            first, second = messages[lines % len(messages)], messages[(lines * step) % len(messages)]
            line = f"{first} {second} {lines}\n"
            f.write(line)
            written += len(line.encode("utf-8"))
            lines += 1
    return lines


def measure(corpus: str, out: str, workers: int, vocab_size: int, spm_sentences: int) -> dict:
    """cxlm-prepare's seconds and peak resident set (measure_command)."""
    argv = [
        *("-m", "fairseq_contrastive_xlm.cli.prepare", "--mono", f"xx:{corpus}", "--out", out),
        *("--vocab-size", str(vocab_size), "--spm-sentences", str(spm_sentences), "--workers", str(workers)),
        *("--valid-size", "1000", "--test-size", "1000", "--force"),
    ]
    return measure_command(argv)


def measure_command(argv: list) -> dict:
    """`python ARGV` in a child of a fresh measuring process: its seconds, and the peak resident set of it and of
    its workers (the largest of them, as getrusage reports children; a fresh process, because that maximum is
    over every child a process ever had)."""
    code = (
        "import json, resource, subprocess, sys, time; began = time.perf_counter(); "
        f"subprocess.run([sys.executable, *{argv!r}], check=True, stdout=subprocess.DEVNULL, "
        "stderr=subprocess.DEVNULL); "
        "print(json.dumps({'seconds': time.perf_counter() - began, "
        "'peak_rss_mb': resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}))"
    )
    return json.loads(subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes-mb", type=float, nargs=2, default=[60, 600], help="the two corpus sizes (MB)")
    parser.add_argument("--work", required=True, help="a scratch directory (the corpora and outputs; removed)")
    parser.add_argument("--workers", type=int, default=2, help="cxlm-prepare --workers (default 2)")
    parser.add_argument("--vocab-size", type=int, default=4000, help="default 4000")
    parser.add_argument("--spm-sentences", type=int, default=100_000, help="SentencePiece sample (default 100000)")
    parser.add_argument("--json", help="write the numbers here")
    args = parser.parse_args(argv)
    os.makedirs(args.work, exist_ok=True)
    runs = []
    try:
        for megabytes in args.sizes_mb:
            corpus = os.path.join(args.work, f"corpus_{megabytes:g}mb.txt")
            lines = write_corpus(corpus, megabytes)
            measured = measure(
                corpus, os.path.join(args.work, "out"), args.workers, args.vocab_size, args.spm_sentences
            )
            run = {"megabytes": megabytes, "lines": lines, **measured}
            run["lines_per_second_per_worker"] = lines / measured["seconds"] / args.workers
            runs.append(run)
            rate, peak = run["lines_per_second_per_worker"], measured["peak_rss_mb"]
            print(f"{megabytes:g} MB, {lines} lines: {measured['seconds']:.1f} s, ", end="")
            print(f"{rate:.0f} lines/s per worker, peak RSS {peak:.0f} MB", flush=True)
            os.remove(corpus)
    finally:
        shutil.rmtree(os.path.join(args.work, "out"), ignore_errors=True)
    small, large = runs
    report = {
        "runs": runs,
        "size_ratio": large["lines"] / small["lines"],
        "peak_rss_ratio": large["peak_rss_mb"] / small["peak_rss_mb"],
    }
    print(f"peak RSS ratio {report['peak_rss_ratio']:.2f} for {report['size_ratio']:.1f}x the lines (target <= 1.5)")
    if args.json:
        write_json(args.json, report)
    return report


if __name__ == "__main__":
    main()
