"""cxlm-prepare against its tokenizer, in one run on the same lines (cxlm-bench --prepare CORPUS):

- SentencePiece's own speed: encode(batch, out_type=int) of every line, one thread and every core; only the
  encode calls are timed (reading and decoding the file is not);
- cxlm-prepare end to end with that model and dictionary (--spm-model --dict), one worker, then two, each in a
  fresh process that measures its peak resident set (and its workers': the largest of them);
- their ratio: our lines/s per worker over SentencePiece's single-threaded lines/s; and 2-worker scaling.

Without --spm-model and --dict, a model of --vocab-size pieces is trained first on the corpus's first lines
(not timed). CORPUS is any text cxlm-prepare reads (plain or compressed), taken as one language's text.
"""

import itertools
import os
import shutil
import subprocess
import sys
import time

import sentencepiece as spm

from ..text_files import binary_lines, count_lines
from .prepare_memory import measure_command

BATCH = 16384


def sentencepiece_speed(corpus: str, model: str, threads: int) -> float:
    """Lines/s of SentencePiece's encode to ids over every line of the corpus."""
    processor = spm.SentencePieceProcessor(model_file=model)
    lines, seconds = 0, 0.0
    reader = binary_lines(corpus)
    while batch := [raw.decode("utf-8", "replace").rstrip("\r\n") for raw in itertools.islice(reader, BATCH)]:
        began = time.perf_counter()
        processor.encode(batch, out_type=int, num_threads=threads)
        seconds += time.perf_counter() - began
        lines += len(batch)
    return lines / seconds


def prepare_argv(corpus: str, out: str, model: str, dictionary: str, workers: int) -> list:
    return [
        *("-m", "fairseq_contrastive_xlm.cli.prepare", "--mono", f"xx:{corpus}", "--out", out, "--force"),
        *("--spm-model", model, "--dict", dictionary, "--workers", str(workers)),
    ]


def vocabulary_of(corpus: str, work: str, vocab_size: int, lines: int = 200_000):
    """A SentencePiece model and its dictionary, trained by cxlm-prepare on the corpus's first lines."""
    head = os.path.join(work, "head.txt")
    with open(head, "wb") as out:
        out.writelines(itertools.islice(binary_lines(corpus), lines))
    vocabulary = os.path.join(work, "vocabulary")
    argv = ["-m", "fairseq_contrastive_xlm.cli.prepare", "--mono", f"xx:{head}", "--out", vocabulary]
    subprocess.run([sys.executable, *argv, "--vocab-size", str(vocab_size)], check=True, capture_output=True)
    return os.path.join(vocabulary, "spm.model"), os.path.join(vocabulary, "dict.txt")


def compare(corpus: str, work: str, model: str = None, dictionary: str = None, vocab_size: int = 8000) -> dict:
    os.makedirs(work, exist_ok=True)
    try:
        if not (model and dictionary):
            print(f"training a {vocab_size}-piece SentencePiece model on the first lines of {corpus} (not timed)")
            model, dictionary = vocabulary_of(corpus, work, vocab_size)
        lines = count_lines(corpus)
        cores = os.cpu_count() or 1
        print(f"{corpus}: {lines} lines")
        single = sentencepiece_speed(corpus, model, 1)
        print(f"SentencePiece encode to ids, 1 thread: {single:,.0f} lines/s", flush=True)
        threaded = sentencepiece_speed(corpus, model, cores)
        print(f"SentencePiece encode to ids, {cores} threads: {threaded:,.0f} lines/s", flush=True)
        runs = {}
        for workers in (1, 2):
            measured = measure_command(prepare_argv(corpus, os.path.join(work, "out"), model, dictionary, workers))
            measured["lines_per_s"] = lines / measured["seconds"]
            runs[workers] = measured
            seconds, rate, peak = measured["seconds"], measured["lines_per_s"], measured["peak_rss_mb"]
            print(f"cxlm-prepare --workers {workers}: {seconds:.1f} s, {rate:,.0f} lines/s, peak RSS {peak:.0f} MB")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    per_worker = runs[1]["lines_per_s"]
    report = {
        "lines": lines,
        "lines_per_s_per_worker": per_worker,
        "spm_encode_lines_per_s": single,
        "spm_encode_lines_per_s_all_threads": threaded,
        "ratio": per_worker / single,
        "peak_rss_mb": max(run["peak_rss_mb"] for run in runs.values()),
        "scaling_2_workers": runs[1]["seconds"] / runs[2]["seconds"],
        "runs": {str(workers): run for workers, run in runs.items()},
    }
    print(f"ratio (ours per worker / SentencePiece 1 thread): {report['ratio']:.2f} (target >= 0.5)")
    print(f"2 workers: {report['scaling_2_workers']:.2f}x one (target >= 1.7)")
    print(f"peak RSS: {report['peak_rss_mb']:.0f} MB")
    return report
