"""The preparation pipeline: raw monolingual and parallel text -> the data directory of
cross_lingual_lm_contrastive. A library call (prepare()); cxlm-prepare is a command over it.

Steps: check every input before any work; clean (cleaning.py); split into train/valid/test; train a
SentencePiece model on a language-balanced sample of the training text (or reuse --spm-model and
--dict, e.g. XLM-R's, or take XLM's Moses + BPE with --bpe-codes and --dict: tokenizers.py); encode in parallel
workers, each language by its own rules; drop pairs whose lengths in pieces differ too much; build one fairseq
dictionary in the SentencePiece model's order; binarize into fairseq's mmap datasets (binarize.py), into one
directory or --shards of it (layout.py); write manifest.json. Every step streams (cleaning.py, dedupe.py).
Everything is written to a temporary directory beside the output and moved into place only when complete.
"""

import collections
import contextlib
import dataclasses
import itertools
import json
import logging
import multiprocessing
import os
import shutil
import sys
import time
from typing import Dict, Iterator, List, Tuple

import numpy as np
from tqdm import tqdm

from .. import __version__
from ..atomic import staged_directory
from ..errors import UserInputError
from ..tokenization import tokenizers
from ..tokenization.xlm_tokenizer import SETTINGS_FILE, record_lowercase, recorded_lowercase
from . import binarize
from .cleaning import clean_mono, clean_pairs, ratio_ok
from .corpora import Corpus, PrepareOptions, check_corpora, count_lines  # noqa: F401  (callers import them here too)
from .layout import SPLITS, binarize_all, write_shards

logger = logging.getLogger("cxlm-prepare")

HELD_OUT_SHARE_MAX = 0.1  # valid + test never take more than this share of a corpus


def _lines(path):
    with open(path, "rb") as f:
        for line in f:
            yield line


def clean(corpus: Corpus, options: PrepareOptions, work: str) -> str:
    """Cleaned text, one file per side: WORK/clean.<name>.<lang>. Returns the prefix."""
    prefix = os.path.join(work, f"clean.{corpus.name}")
    outs = [open(f"{prefix}.{lang}", "w", encoding="utf-8") for lang in corpus.langs]
    try:
        if corpus.parallel:
            raw = zip(_lines(corpus.paths[0]), _lines(corpus.paths[1]))
            kept = clean_pairs(
                tqdm(raw, desc=f"clean {corpus.name}", unit=" pairs", mininterval=2),
                corpus.paths,
                options.max_chars,
                corpus.drops,
            )
            for src, tgt in kept:
                outs[0].write(src + "\n")
                outs[1].write(tgt + "\n")
                corpus.kept += 1
        else:
            raw = tqdm(_lines(corpus.paths[0]), desc=f"clean {corpus.name}", unit=" lines", mininterval=2)
            for text in clean_mono(raw, corpus.paths[0], options.max_chars, corpus.drops):
                outs[0].write(text + "\n")
                corpus.kept += 1
    finally:
        for out in outs:
            out.close()
    corpus.lines_read = corpus.kept + sum(corpus.drops.values())
    for path, count in corpus.drops.invalid_by_file.items():
        logger.warning("%s: dropped %d lines that are not valid UTF-8", path, count)
    return prefix


def held_out_sizes(n: int, valid: int, test: int, name: str) -> Tuple[int, int]:
    """The requested sizes, or, for a corpus too small for them, the same proportions scaled down to
    HELD_OUT_SHARE_MAX of its lines."""
    if valid + test <= HELD_OUT_SHARE_MAX * n:
        return valid, test
    budget = int(HELD_OUT_SHARE_MAX * n)
    scaled_valid = round(budget * valid / (valid + test)) if valid + test else 0
    scaled = (scaled_valid, budget - scaled_valid)
    logger.warning(
        "%s has %d sentences: too few for --valid-size %d and --test-size %d; using %d and %d (%d%% of it)",
        name,
        n,
        valid,
        test,
        *scaled,
        int(HELD_OUT_SHARE_MAX * 100),
    )
    return scaled


def split(corpus: Corpus, prefix: str, options: PrepareOptions, work: str) -> str:
    """WORK/<split>.<name>.<lang>, the same random lines on both sides of a pair. Streams: only the held-out
    line numbers are held (drawn without replacement, O(valid + test) memory)."""
    valid, test = held_out_sizes(corpus.kept, options.valid_size, options.test_size, corpus.name)
    rng = np.random.default_rng([options.seed, *map(ord, corpus.name)])
    held = rng.choice(corpus.kept, size=valid + test, replace=False)
    parts = np.zeros(valid + test, dtype=np.int8)
    parts[:valid], parts[valid:] = 1, 2
    order = np.argsort(held)
    held, parts = held[order], parts[order]
    corpus.split_sizes = {"train": corpus.kept - valid - test, "valid": valid, "test": test}
    out_prefix = os.path.join(work, f"{{}}.{corpus.name}")
    for lang in corpus.langs:
        outs = [open(f"{out_prefix.format(s)}.{lang}", "w", encoding="utf-8") for s in SPLITS]
        at = 0  # the next held-out line
        with open(f"{prefix}.{lang}", encoding="utf-8") as f:
            for number, line in enumerate(f):
                if at < len(held) and held[at] == number:
                    outs[parts[at]].write(line)
                    at += 1
                else:
                    outs[0].write(line)
        for out in outs:
            out.close()
        os.remove(f"{prefix}.{lang}")
    return out_prefix


def sample_in_order(total: int, want: int, rng, block: int = 1 << 16) -> Iterator[np.ndarray]:
    """A uniform sample of `want` of range(total) without replacement, as ascending indices a block of the range
    at a time (how many fall in each block is hypergeometric): memory O(block), whatever the total."""
    start = 0
    while start < total and want > 0:
        size = min(block, total - start)
        rest = total - start - size
        k = int(rng.hypergeometric(size, rest, want)) if rest else want
        yield start + np.sort(rng.choice(size, size=k, replace=False))
        want -= k
        start += size


def text_lines_of(path: str) -> Iterator[str]:
    with open(path, encoding="utf-8") as f:
        yield from f


def sentencepiece_sample(corpora: List[Corpus], prefixes, options: PrepareOptions, path: str):
    """A language-balanced sample of the training text: language l contributes a share proportional to
    (its share of the text) ** alpha, as XLM-R samples its languages."""
    files: Dict[str, List[str]] = {}
    for corpus in corpora:
        for lang in corpus.langs:
            files.setdefault(lang, []).append(f"{prefixes[corpus.name].format('train')}.{lang}")
    counts = {lang: sum(count_lines(f) for f in fs) for lang, fs in files.items()}
    total = sum(counts.values())
    weights = {lang: (n / total) ** options.sampling_alpha for lang, n in counts.items() if n}
    norm = sum(weights.values())
    budget = min(options.spm_sentences, total)
    rng = np.random.default_rng(options.seed)
    with open(path, "w", encoding="utf-8") as out:
        for lang in sorted(weights):
            want = min(counts[lang], max(1, round(budget * weights[lang] / norm)))
            chosen = map(int, itertools.chain.from_iterable(sample_in_order(counts[lang], want, rng)))
            lines = (line for name in files[lang] for line in text_lines_of(name))
            next_chosen = next(chosen, None)
            for index, line in enumerate(lines):
                if index == next_chosen:
                    out.write(line)
                    next_chosen = next(chosen, None)
                    if next_chosen is None:
                        break
            logger.info("SentencePiece sample: %s %d of %d sentences", lang, want, counts[lang])


_tokenizer = None  # each worker's own


def _load_tokenizer(kind, path, lowercase):
    global _tokenizer
    _tokenizer = tokenizers.load(kind, path, lowercase)


def _encode_chunk(job):
    lang, lines = job
    return [tokenizers.encode_line(_tokenizer, line.rstrip("\n"), lang) for line in lines]


def bounded_imap(pool, function, items, in_flight: int):
    """pool.imap(function, items) with at most `in_flight` items handed out at a time. Pool.imap's feeder reads
    its input as fast as it can, so a whole corpus would wait in memory for slower workers."""
    pending = collections.deque()
    for item in items:
        pending.append(pool.apply_async(function, (item,)))
        if len(pending) >= in_flight:
            yield pending.popleft().get()
    while pending:
        yield pending.popleft().get()


def encode(tokenizer, files: List[Tuple[str, str]], workers: int, chunk: int = 2000):
    """Every (file F, its language) -> F.tok, in parallel workers, in order."""
    total = sum(count_lines(f) for f, _ in files)
    context = multiprocessing.get_context("fork" if sys.platform.startswith("linux") else "spawn")
    with (
        context.Pool(
            workers, initializer=_load_tokenizer, initargs=(tokenizer.kind, tokenizer.path, tokenizer.lowercase)
        ) as pool,
        tqdm(total=total, desc="encode", unit=" lines", mininterval=2) as bar,
    ):
        for path, lang in files:
            with open(path, encoding="utf-8") as f, open(path + ".tok", "w", encoding="utf-8") as out:
                chunks = iter(lambda: (lang, [line for _, line in zip(range(chunk), f)]), (lang, []))
                for encoded in bounded_imap(pool, _encode_chunk, chunks, 2 * workers):
                    out.writelines(line + "\n" for line in encoded)
                    bar.update(len(encoded))


def filter_length_ratio(corpus: Corpus, prefix: str, max_ratio: float):
    """Drop (from every split, from the pieces and from the cleaned text) the pairs whose lengths in pieces differ by
    more than max_ratio; streamed."""
    src, tgt = corpus.langs
    for s in SPLITS:
        base = prefix.format(s)
        paths = (f"{base}.{src}.tok", f"{base}.{tgt}.tok", f"{base}.{src}", f"{base}.{tgt}")
        kept = dropped = 0
        with contextlib.ExitStack() as files:
            inputs = [files.enter_context(open(path, encoding="utf-8")) for path in paths]
            outputs = [files.enter_context(open(path + ".kept", "w", encoding="utf-8")) for path in paths]
            for lines in zip(*inputs):
                if ratio_ok(len(lines[0].split()), len(lines[1].split()), max_ratio):
                    for out, line in zip(outputs, lines):
                        out.write(line)
                    kept += 1
                else:
                    dropped += 1
        for path in paths:
            os.replace(path + ".kept", path)
        corpus.drops["length_ratio"] += dropped
        corpus.split_sizes[s] = kept
    corpus.kept = sum(corpus.split_sizes.values())


def count_tokens(corpus: Corpus, prefix: str):
    """Pieces per split, plus the </s> fairseq appends to every sentence; and characters of the cleaned text, plus
    the line end that </s> stands for (bits per character: cxlm-perplexity)."""
    for s in SPLITS:
        tokens = characters = 0
        for lang in corpus.langs:
            with open(f"{prefix.format(s)}.{lang}.tok", encoding="utf-8") as f:
                tokens += sum(len(line.split()) + 1 for line in f)
            with open(f"{prefix.format(s)}.{lang}", encoding="utf-8") as f:
                characters += sum(len(line.rstrip("\n")) + 1 for line in f)
        corpus.tokens[s] = tokens
        corpus.characters[s] = characters


def manifest(corpora: List[Corpus], options: PrepareOptions, dictionary_size: int) -> dict:
    def describe(corpus):
        return {
            "inputs": list(corpus.paths),
            "lines_read": corpus.lines_read,
            "dropped": corpus.drops.as_dict(),
            "invalid_utf8_by_file": dict(corpus.drops.invalid_by_file),
            "splits": {
                s: {"sentences": corpus.split_sizes[s], "tokens": corpus.tokens[s], "characters": corpus.characters[s]}
                for s in SPLITS
            },
        }

    return {
        "created_by": f"cxlm-prepare {__version__}",
        "languages": sorted({lang for c in corpora for lang in c.langs}),
        "monolingual": {c.name: describe(c) for c in corpora if not c.parallel},
        "parallel": {c.name: describe(c) for c in corpora if c.parallel},
        "vocabulary": {
            "tokenizer": options.tokenizer,
            "sentencepiece_model": tokenizers.SPM_FILE if options.tokenizer == "sentencepiece" else None,
            "bpe_codes": tokenizers.CODES_FILE if options.tokenizer == "xlm" else None,
            "dictionary": "dict.txt",
            "dictionary_size": dictionary_size,
            "trained_here": options.vocab_size is not None,
        },
        "options": {**_input_specs(corpora), **dataclasses.asdict(options)},
    }


@contextlib.contextmanager
def stage(name):
    start = time.perf_counter()
    yield
    logger.info("%s: %.1f s", name, time.perf_counter() - start)


def _input_specs(corpora: List[Corpus]) -> dict:
    """The inputs as cxlm-prepare's --mono and --para spell them."""
    return {
        "mono": [f"{c.langs[0]}:{c.paths[0]}" for c in corpora if not c.parallel],
        "para": [f"{c.name}:{','.join(c.paths)}" for c in corpora if c.parallel],
    }


def prepare(corpora: List[Corpus], out: str, options: PrepareOptions = None, force: bool = False) -> List[Corpus]:
    """Write the data directory `out` from the corpora (checked first); `force` replaces an existing one.
    Returns the corpora with what was read, dropped and kept."""
    options = options or PrepareOptions()
    check_corpora(corpora, options, out, force)
    began = time.perf_counter()
    with staged_directory(out, force) as staging:
        work = os.path.join(staging, "work")
        os.makedirs(work)
        prefixes = {}
        with stage("clean and split"):
            for corpus in corpora:
                cleaned = clean(corpus, options, work)
                if corpus.kept == 0:
                    raise UserInputError(f"{corpus.name}: no line is left after cleaning ({', '.join(corpus.paths)})")
                prefixes[corpus.name] = split(corpus, cleaned, options, work)

        model = os.path.join(staging, tokenizers.SPM_FILE)
        if options.tokenizer == "xlm":
            model = os.path.join(staging, tokenizers.CODES_FILE)
            shutil.copy(options.bpe_codes, model)
            lowercase = options.lowercase
            if lowercase is None:  # as the model's directory records it (cxlm-import xlm)
                lowercase = recorded_lowercase(os.path.dirname(os.path.abspath(options.bpe_codes)))
            record_lowercase(staging, lowercase)
        elif options.spm_model:
            shutil.copy(options.spm_model, model)
        else:
            with stage("SentencePiece"):
                sample = os.path.join(work, "spm_sample.txt")
                sentencepiece_sample(corpora, prefixes, options, sample)
                binarize.train_sentencepiece(sample, model, options.vocab_size, options.seed)

        with stage("encode and filter"):
            texts = [
                (f"{prefixes[c.name].format(s)}.{lang}", lang) for c in corpora for s in SPLITS for lang in c.langs
            ]
            encode(tokenizers.load(options.tokenizer, model, options.lowercase), texts, options.workers)
            for corpus in corpora:
                if corpus.parallel:
                    filter_length_ratio(corpus, prefixes[corpus.name], options.max_length_ratio)
                count_tokens(corpus, prefixes[corpus.name])

        with stage("dictionary and binarize"):
            if options.dict:
                dictionary = os.path.join(staging, "dict.txt")
                shutil.copy(options.dict, dictionary)
            else:
                train_texts = [f"{prefixes[c.name].format('train')}.{lang}.tok" for c in corpora for lang in c.langs]
                dictionary = binarize.build_dictionary(model, train_texts, staging)
            with open(dictionary, encoding="utf-8") as f:
                dictionary_size = sum(1 for _ in f)
            vocabulary = [dictionary] + [
                os.path.join(staging, name)
                for name in (tokenizers.SPM_FILE, tokenizers.CODES_FILE, SETTINGS_FILE)
                if os.path.isfile(os.path.join(staging, name))
            ]
            if options.shards > 1:
                write_shards(corpora, prefixes, options, vocabulary, staging)
                for path in vocabulary:  # each shard has its copy
                    os.remove(path)
            else:
                splits = {
                    c.name: {s: prefixes[c.name].format(s) for s in SPLITS if c.split_sizes[s] > 0} for c in corpora
                }
                binarize_all(corpora, splits, dictionary, staging)
        shutil.rmtree(work)

        described = manifest(corpora, options, dictionary_size)
        shards = [os.path.join(staging, f"shard{i}") for i in range(options.shards)] if options.shards > 1 else []
        for directory in [staging, *shards]:  # a sharded directory: the whole corpus's, also in each shard
            with open(os.path.join(directory, "manifest.json"), "w", encoding="utf-8") as f:
                json.dump(described, f, indent=2, ensure_ascii=False)
    for corpus in corpora:
        sizes = ", ".join(f"{s} {corpus.split_sizes[s]}" for s in SPLITS)
        logger.info("%s: %s sentences; dropped %s", corpus.name, sizes, corpus.drops.as_dict())
    lines, seconds = sum(c.lines_read for c in corpora), time.perf_counter() - began
    logger.info(
        "wrote %s: %d lines read in %.1f s, %.0f lines/s per worker (%d workers)",
        os.path.abspath(out),
        lines,
        seconds,
        lines / seconds / options.workers,
        options.workers,
    )
    return corpora
