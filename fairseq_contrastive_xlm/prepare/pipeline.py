"""The preparation pipeline: raw monolingual and parallel text -> the data directory of
cross_lingual_lm_contrastive. A library call (prepare()); cxlm-prepare is a command over it.

Steps: check every input before any work. Pass 1, in the workers: clean (cleaning.py), a block of 2 MB at a
time; here, drop repeats (dedupe.py) and write the cleaned text. Draw the held-out lines. Train a SentencePiece
model on a language-balanced sample of the training text (or reuse --spm-model and --dict, e.g. XLM-R's, or take
XLM's Moses + BPE with --bpe-codes and --dict: tokenizers.py) and fix the dictionary in its order. Pass 2, in the
workers: encode to dictionary ids (token_ids.py), drop pairs whose lengths in pieces differ too much, route each
line to its split; here, write fairseq's mmap datasets (data/indexed.py) and count the dictionary. Place them in
one directory or --shards of it (layout.py); write manifest.json (verify.py). --parts: parts.py. Every step
streams; everything is written to a directory beside the output and moved into place only when complete.
"""

import collections
import contextlib
import dataclasses
import functools
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
from fairseq.data import Dictionary
from tqdm import tqdm

from .. import __version__
from ..atomic import staged_directory
from ..data import indexed
from ..errors import UserInputError
from ..text_files import compression_of, open_binary, read_errors
from ..tokenization import tokenizers
from ..tokenization.tokenizers import load_sentencepiece
from ..tokenization.xlm_tokenizer import SETTINGS_FILE, record_lowercase, recorded_lowercase
from . import binarize
from .cleaning import clean_mono_chunk, clean_pair_chunk, ratio_ok
from .corpora import Corpus, PrepareOptions, check_corpora  # noqa: F401  (callers import them here too)
from .dedupe import SeenHashes
from .layout import SPLITS, place, write_shards
from .token_ids import IdEncoder, sentencepiece_table
from .verify import MANIFEST, file_records

logger = logging.getLogger("cxlm-prepare")

HELD_OUT_SHARE_MAX = 0.1  # valid + test never take more than this share of a corpus


BLOCK_BYTES = 1 << 21  # text a worker cleans or encodes at a time


@contextlib.contextmanager
def worker_map(workers: int, initializer=None, initargs=()):
    """map(function, items) over `workers` processes, in order, at most 2 items a worker in flight; with one
    worker, in this process (one core, so that one worker's speed is one core's)."""
    if workers == 1:
        if initializer:
            initializer(*initargs)
        yield map
        return
    context = multiprocessing.get_context("fork" if sys.platform.startswith("linux") else "spawn")
    with context.Pool(workers, initializer=initializer, initargs=initargs) as pool:
        yield lambda function, items: bounded_imap(pool, function, items, 2 * workers)


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


def line_blocks(paths: Tuple[str, ...], block_bytes: int = BLOCK_BYTES, part=None) -> Iterator[List[bytes]]:
    """The files' lines as blocks of bytes, the same lines in each file's block (line-aligned files): the first
    file read block_bytes at a time and cut after its last line end, the others as many lines. A block is one
    bytes object, cheap to hand to a worker (a list of lines costs an object a line each way).

    part: an InputSlice, its lines only: from its byte offsets in plain files (an archive is read from its start
    up to its first line), at most its count of lines. One whole plain file is not read here at all: its blocks
    are (path, offset, length) references, which the worker reads (read_block)."""
    if len(paths) == 1 and part is None and compression_of(paths[0]) is None:
        yield from _block_references(paths[0], block_bytes)
        return
    with contextlib.ExitStack() as stack:
        files = [stack.enter_context(open_binary(path)) for path in paths]
        left = None
        if part is not None:
            for path, f, offset in zip(paths, files, part.offsets):
                with read_errors(path):
                    if offset is not None:
                        f.seek(offset)
                    else:
                        collections.deque(itertools.islice(f, part.start), maxlen=0)
            left = part.count
        carry = b""
        while left is None or left > 0:
            with read_errors(paths[0]):
                data = files[0].read(block_bytes)
            if data:
                data = carry + data
                cut = data.rfind(b"\n") + 1
                block, carry = data[:cut], data[cut:]
                if not block:  # a line longer than the block: read on
                    continue
            elif carry:  # the last line, without a line end
                block, carry = carry + b"\n", b""
            else:
                return
            count = None
            if left is not None:
                count = block.count(b"\n")
                if count > left:  # the slice ends inside this block
                    block = _first_lines(block, left)
                    count = left
                left -= count
            others = []
            if len(files) > 1:
                count = block.count(b"\n") if count is None else count
                for path, f in zip(paths[1:], files[1:]):
                    with read_errors(path):
                        others.append(b"".join(itertools.islice(f, count)))
            yield [block, *others]


def _block_references(path: str, block_bytes: int) -> Iterator[List[tuple]]:
    """A plain file's blocks as (path, offset, length), each ending after a line end (or at the file's end)."""
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        position = 0
        while position < size:
            end = min(position + block_bytes, size)
            f.seek(end)
            while end < size:  # on to the next line end
                window = f.read(1 << 16)
                cut = window.find(b"\n")
                if cut >= 0:
                    end += cut + 1
                    break
                end += len(window)
            yield [(path, position, end - position)]
            position = end


def read_block(block) -> bytes:
    """A block, or the block a (path, offset, length) reference names, with the line end its last line may lack."""
    if isinstance(block, tuple):
        path, offset, length = block
        with open(path, "rb") as f:
            f.seek(offset)
            block = f.read(length)
    return block if not block or block.endswith(b"\n") else block + b"\n"


def _first_lines(block: bytes, lines: int) -> bytes:
    end = -1
    for _ in range(lines):
        end = block.index(b"\n", end + 1)
    return block[: end + 1]


def block_lines(block: bytes) -> List[bytes]:
    """A block's lines, without their line ends (as iterating the file and stripping them gives)."""
    lines = block.split(b"\n")
    if block.endswith(b"\n"):
        lines.pop()
    return lines


def _clean_job(job):
    """One block of raw lines a side -> the cleaned lines (a UTF-8 block a side), their hashes, what was dropped."""
    paths, max_chars, blocks = job
    raw = [block_lines(read_block(block)) for block in blocks]
    if len(paths) == 2:
        pairs, hashes, drops = clean_pair_chunk(list(zip(*raw)), paths, max_chars)
        sides = [[p[0] for p in pairs], [p[1] for p in pairs]]
    else:
        texts, hashes, drops = clean_mono_chunk(raw[0], paths[0], max_chars)
        sides = [texts]
    blocks = [("\n".join(texts) + "\n").encode("utf-8") if texts else b"" for texts in sides]
    return blocks, hashes, dict(drops), dict(drops.invalid_by_file)


@dataclasses.dataclass
class Cleaned:
    """A corpus's cleaned text, WORK/clean.<name>.<lang> a side, and where its blocks lie in those files: for each
    block, (offset a side, length a side, lines), so that the encoding pass hands out references, not text."""

    prefix: str
    blocks: List[Tuple[Tuple[int, ...], Tuple[int, ...], int]] = dataclasses.field(default_factory=list)

    def path(self, lang: str) -> str:
        return f"{self.prefix}.{lang}"


def clean(corpus: Corpus, options: PrepareOptions, work: str, run) -> Cleaned:
    """The corpus cleaned, the first of every repeat only (dedupe.py). Cleaning runs in the workers; the repeats
    check, which needs every earlier line, here."""
    cleaned = Cleaned(os.path.join(work, f"clean.{corpus.name}"))
    with contextlib.ExitStack() as files:
        outs = [files.enter_context(open(cleaned.path(lang), "wb")) for lang in corpus.langs]
        seen, offsets = SeenHashes(), [0] * len(outs)
        unit = " pairs" if corpus.parallel else " lines"
        bar = files.enter_context(tqdm(desc=f"clean {corpus.name}", unit=unit, mininterval=2))
        blocks_of = line_blocks(corpus.paths, part=corpus.part)
        jobs = ((corpus.paths, options.max_chars, blocks) for blocks in blocks_of)
        for blocks, hashes, drops, invalid in run(_clean_job, jobs):
            corpus.drops.update(drops)
            corpus.drops.invalid_by_file.update(invalid)
            new = seen.first_seen(hashes)
            corpus.drops["duplicate"] += int(len(new) - new.sum())
            if not new.all():
                blocks = [b"".join(line + b"\n" for line, keep in zip(block_lines(b), new) if keep) for b in blocks]
            for block, out in zip(blocks, outs):
                out.write(block)
            if new.any():
                cleaned.blocks.append((tuple(offsets), tuple(map(len, blocks)), int(new.sum())))
                offsets = [offset + len(block) for offset, block in zip(offsets, blocks)]
            corpus.kept += int(new.sum())
            bar.update(len(new) + sum(drops.values()))
    corpus.lines_read = corpus.kept + sum(corpus.drops.values())
    for path, count in corpus.drops.invalid_by_file.items():
        logger.warning("%s: dropped %d lines that are not valid UTF-8", path, count)
    return cleaned


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


@dataclasses.dataclass
class HeldOut:
    """The cleaned lines that go to validation (part 1) and test (part 2), ascending; every other line trains.
    O(valid + test) memory."""

    lines: np.ndarray
    parts: np.ndarray

    def in_range(self, start: int, stop: int) -> Tuple[np.ndarray, np.ndarray]:
        """The held-out lines in [start, stop), relative to start, and their parts."""
        a, b = np.searchsorted(self.lines, [start, stop])
        return self.lines[a:b] - start, self.parts[a:b]


def split(corpus: Corpus, options: PrepareOptions) -> HeldOut:
    """The same random lines on both sides of a pair, drawn without replacement."""
    valid, test = held_out_sizes(corpus.kept, options.valid_size, options.test_size, corpus.name)
    rng = np.random.default_rng([options.seed, *map(ord, corpus.name)])
    held = rng.choice(corpus.kept, size=valid + test, replace=False)
    parts = np.zeros(valid + test, dtype=np.int8)
    parts[:valid], parts[valid:] = 1, 2
    order = np.argsort(held)
    corpus.split_sizes = {"train": corpus.kept - valid - test, "valid": valid, "test": test}
    return HeldOut(held[order], parts[order])


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


def training_lines(path: str, held: HeldOut) -> Iterator[str]:
    """The lines of a cleaned file that are not held out."""
    held_lines = iter(held.lines.tolist())
    next_held = next(held_lines, None)
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f):
            if number == next_held:
                next_held = next(held_lines, None)
            else:
                yield line


def sentencepiece_sample(corpora: List[Corpus], cleaned, held, options: PrepareOptions, path: str):
    """A language-balanced sample of the training text (write_balanced_sample)."""
    sources: Dict[str, list] = {}
    counts: Dict[str, int] = collections.Counter()
    for corpus in corpora:
        for lang in corpus.langs:
            name, held_out = cleaned[corpus.name].path(lang), held[corpus.name]
            sources.setdefault(lang, []).append(functools.partial(training_lines, name, held_out))
            counts[lang] += corpus.split_sizes["train"]
    write_balanced_sample(sources, counts, options, path)


def write_balanced_sample(sources: Dict[str, list], counts: Dict[str, int], options: PrepareOptions, path: str):
    """sources: language -> functions that each give an iterator of its lines (counts[lang] lines in all).
    Language l contributes a share proportional to (its share of the text) ** alpha, as XLM-R samples its
    languages; the lines drawn uniformly, in order, streamed."""
    total = sum(counts.values())
    weights = {lang: (n / total) ** options.sampling_alpha for lang, n in counts.items() if n}
    norm = sum(weights.values())
    budget = min(options.spm_sentences, total)
    rng = np.random.default_rng(options.seed)
    with open(path, "w", encoding="utf-8") as out:
        for lang in sorted(weights):
            want = min(counts[lang], max(1, round(budget * weights[lang] / norm)))
            chosen = map(int, itertools.chain.from_iterable(sample_in_order(counts[lang], want, rng)))
            lines = (line for source in sources[lang] for line in source())
            next_chosen = next(chosen, None)
            for index, line in enumerate(lines):
                if index == next_chosen:
                    out.write(line)
                    next_chosen = next(chosen, None)
                    if next_chosen is None:
                        break
            logger.info("SentencePiece sample: %s %d of %d sentences", lang, want, counts[lang])


_encoder = None  # each worker's own


def _load_encoder(kind, model, dictionary, lowercase, dtype, max_ratio):
    global _encoder
    _encoder = (IdEncoder(kind, model, dictionary, lowercase), np.dtype(dtype), max_ratio)


def _encode_job(job):
    """One chunk of cleaned lines (a UTF-8 block a side) -> for each split, each side's ids (with </s>) and
    sentence sizes, with the chunk's counts; pairs whose lengths differ too much are dropped here."""
    encoder, dtype, max_ratio = _encoder
    langs, blocks, held_lines, held_parts = job
    sides = []
    for lang, block in zip(langs, blocks):
        texts = read_block(block).decode("utf-8").split("\n")[:-1]  # every cleaned line has its line end
        ids, lengths = encoder.encode(texts, lang)
        sizes = lengths + 1  # and </s>
        with_eos = np.full(int(sizes.sum()), encoder.dictionary.eos(), dtype=dtype)
        is_piece = np.ones(len(with_eos), dtype=bool)
        is_piece[np.cumsum(sizes) - 1] = False
        with_eos[is_piece] = ids
        characters = np.fromiter(map(len, texts), dtype=np.int64, count=len(texts)) + 1  # and the line end
        sides.append((with_eos, sizes, characters))
    keep = np.ones(len(sides[0][1]), dtype=bool)
    if len(sides) == 2:
        keep = ratio_ok(sides[0][1] - 1, sides[1][1] - 1, max_ratio)
    labels = np.zeros(len(keep), dtype=np.int8)
    labels[held_lines] = held_parts
    splits = []
    for part in range(len(SPLITS)):
        chosen = keep & (labels == part)
        outputs = [(ids[np.repeat(chosen, sizes)], sizes[chosen]) for ids, sizes, _ in sides]
        tokens = sum(int(out_sizes.sum()) for _, out_sizes in outputs)
        characters = sum(int(chars[chosen].sum()) for _, _, chars in sides)
        splits.append((outputs, int(chosen.sum()), tokens, characters))
    return splits, int((~keep).sum())


def cleaned_blocks(cleaned: Cleaned, corpus: Corpus, held: HeldOut) -> Iterator[tuple]:
    """_encode_job's inputs: references to a block of cleaned lines a side, with the held-out lines among them."""
    start = 0
    paths = [cleaned.path(lang) for lang in corpus.langs]
    for offsets, lengths, lines in cleaned.blocks:
        blocks = [(path, offset, length) for path, offset, length in zip(paths, offsets, lengths)]
        yield (corpus.langs, blocks, *held.in_range(start, start + lines))
        start += lines


def encode(corpus: Corpus, cleaned: Cleaned, held: HeldOut, work: str, dtype, run, counts, bar) -> Dict[str, str]:
    """The corpus's cleaned text -> WORK/<split>.<name>.<lang>.{bin,idx}, fairseq's binarized datasets (indexed.py),
    in one pass; adds the training split's ids to `counts` (a bincount by dictionary id; None: not wanted).
    Returns split -> the prefix P of P.<lang>.{bin,idx}."""
    prefixes = {s: os.path.join(work, f"{s}.{corpus.name}") for s in SPLITS}
    writers = [[indexed.IndexedWriter(f"{prefixes[s]}.{lang}", dtype) for lang in corpus.langs] for s in SPLITS]
    sentences, tokens, characters, dropped = [0] * 3, [0] * 3, [0] * 3, 0
    for splits, chunk_dropped in run(_encode_job, cleaned_blocks(cleaned, corpus, held)):
        dropped += chunk_dropped
        for part, (outputs, n, chunk_tokens, chunk_characters) in enumerate(splits):
            for writer, (ids, sizes) in zip(writers[part], outputs):
                writer.add(ids, sizes)
                if part == 0 and counts is not None:
                    counts += np.bincount(ids, minlength=len(counts))
            sentences[part] += n
            tokens[part] += chunk_tokens
            characters[part] += chunk_characters
        bar.update(sum(n for _, n, _, _ in splits) + chunk_dropped)
    for side_writers in writers:
        for writer in side_writers:
            writer.close()
    corpus.drops["length_ratio"] += dropped
    for part, s in enumerate(SPLITS):
        corpus.split_sizes[s], corpus.tokens[s], corpus.characters[s] = sentences[part], tokens[part], characters[part]
    corpus.kept = sum(sentences)
    for lang in corpus.langs:
        os.remove(cleaned.path(lang))
    return prefixes


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


def prepare(
    corpora: List[Corpus], out: str, options: PrepareOptions = None, force: bool = False, checked: bool = False
) -> List[Corpus]:
    """Write the data directory `out` from the corpora (checked first, unless `checked`: a part of a checked
    plan); `force` replaces an existing one. With options.parts > 1, in parts (parts.py). Returns the corpora
    with what was read, dropped and kept."""
    options = options or PrepareOptions()
    if options.parts > 1:
        from .parts import prepare_in_parts

        return prepare_in_parts(corpora, out, options, force)
    if not checked:
        check_corpora(corpora, options, out, force)
    began = time.perf_counter()
    with staged_directory(out, force) as staging:
        work = os.path.join(staging, "work")
        os.makedirs(work)
        cleaned, held = {}, {}
        with stage("clean"), worker_map(options.workers) as run:
            for corpus in corpora:
                cleaned[corpus.name] = clean(corpus, options, work, run)
                if corpus.kept == 0:
                    raise UserInputError(f"{corpus.name}: no line is left after cleaning ({', '.join(corpus.paths)})")
                held[corpus.name] = split(corpus, options)

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
                sentencepiece_sample(corpora, cleaned, held, options, sample)
                binarize.train_sentencepiece(sample, model, options.vocab_size, options.seed)

        dictionary = os.path.join(staging, "dict.txt")
        if options.dict:
            shutil.copy(options.dict, dictionary)
        else:  # the model's order, known now; the counts are filled in once the training text is encoded
            binarize.build_dictionary(model, None, staging)
        loaded = Dictionary.load(dictionary)
        dtype = indexed.dtype_for(len(loaded))
        counts = None if options.dict else np.zeros(len(loaded), dtype=np.int64)
        encoder = (options.tokenizer, model, dictionary, options.lowercase, dtype.str, options.max_length_ratio)
        with (
            stage("encode and binarize"),
            worker_map(options.workers, _load_encoder, encoder) as run,
            tqdm(total=sum(c.kept for c in corpora), desc="encode", unit=" lines", mininterval=2) as bar,
        ):
            binaries = {
                c.name: encode(c, cleaned[c.name], held[c.name], work, dtype, run, counts, bar) for c in corpora
            }
        if counts is not None:
            processor = load_sentencepiece(model)
            binarize.build_dictionary(model, counts[sentencepiece_table(processor, loaded)], staging)
        with open(dictionary, encoding="utf-8") as f:
            dictionary_size = sum(1 for _ in f)

        vocabulary = [dictionary] + [
            os.path.join(staging, name)
            for name in (tokenizers.SPM_FILE, tokenizers.CODES_FILE, SETTINGS_FILE)
            if os.path.isfile(os.path.join(staging, name))
        ]
        if options.shards > 1:
            write_shards(corpora, binaries, options.shards, vocabulary, staging)
            for path in vocabulary:  # each shard has its copy
                os.remove(path)
        else:
            place(corpora, binaries, dictionary, staging)
        shutil.rmtree(work)

        described = manifest(corpora, options, dictionary_size)
        shards = [os.path.join(staging, f"shard{i}") for i in range(options.shards)] if options.shards > 1 else []
        # A sharded directory: the whole corpus's manifest, also in each shard; each lists its own files (the shards'
        # first, so that the directory above records their manifests too).
        for directory in [*shards, staging]:
            with open(os.path.join(directory, MANIFEST), "w", encoding="utf-8") as f:
                json.dump({**described, "files": file_records(directory)}, f, indent=2, ensure_ascii=False)
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
