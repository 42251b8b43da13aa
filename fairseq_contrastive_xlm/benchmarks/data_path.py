"""cxlm-bench --data-only: our data path against stock fairseq's masked_lm task on the same binarized text, without
a model. Both read DATA/mono/<lang>'s training text, repeated to --items items (the same file for both), with a
dictionary padded to --vocab-size entries (XLM-R's 250,002), through fairseq's batch iterator with collation
(masking included). Two numbers, each ours / stock, measured in one run:

- setup_ratio: seconds to load the split and build an epoch's batches (our per-epoch draw and batching, fairseq's
  ordering and compiled batch_by_size);
- ratio: milliseconds per batch served, collation included.
"""

import os
import shutil
import tempfile
import time
from dataclasses import dataclass

import numpy as np
import torch
from fairseq.data import Dictionary, data_utils, indexed_dataset

from ..errors import UserInputError, check_input_file

TARGETS = {"ratio": 1.1, "setup_ratio": 2.0}


@dataclass
class DataPathSettings:
    vocab_size: int = 250_002
    items: int = 1_000_000
    tokens_per_sample: int = 128
    max_tokens: int = 4096
    batches: int = 200  # batches timed per side


def padded_dictionary(source: str, out: str, size: int):
    """dict.txt with every entry of `source`, then made-up words up to `size` entries (fairseq's four specials
    and <mask> included, as the tasks count them)."""
    dictionary = Dictionary.load(source)
    missing = size - len(dictionary) - 1  # the tasks add <mask>
    if missing < 0:
        raise UserInputError(f"{source} has {len(dictionary)} entries, more than --vocab-size {size}")
    with open(out, "w", encoding="utf-8") as f:
        for symbol, count in zip(dictionary.symbols[dictionary.nspecial :], dictionary.count[dictionary.nspecial :]):
            f.write(f"{symbol} {count}\n")
        f.writelines(f"madeupword{i:06d} 0\n" for i in range(missing))


def repeated_corpus(prefix: str, out_prefix: str, items: int, tokens_per_sample: int) -> int:
    """OUT_PREFIX.bin/.idx: the sentences of PREFIX repeated until they fill about `items` blocks of
    tokens_per_sample tokens (how both tasks cut monolingual text). Returns the sentences written."""
    source = data_utils.load_indexed_dataset(prefix, None, "mmap")
    if source is None or len(source) == 0:
        raise UserInputError(f"{prefix}.bin/.idx is missing or empty")
    copies = max(1, -(-items * tokens_per_sample // int(source.sizes.sum())))
    # As a corpus binarized with XLM-R's dictionary is stored: 32-bit ids (fairseq's choice above 65,500 entries).
    dtype = indexed_dataset.best_fitting_int_dtype(250_002)
    tokens = np.fromfile(indexed_dataset.data_file_path(prefix), dtype=source._index.dtype).astype(dtype)
    with open(indexed_dataset.data_file_path(out_prefix), "wb") as out:
        for _ in range(copies):
            out.write(tokens.tobytes())
    with indexed_dataset.MMapIndexedDataset.Index.writer(indexed_dataset.index_file_path(out_prefix), dtype) as index:
        index.write(np.tile(np.asarray(source.sizes), copies).tolist())
    return copies * len(source)


def stage_data(data: str, lang: str, work: str, settings: DataPathSettings):
    """WORK/ours (our layout: dict.txt, mono/<lang>/) and WORK/stock (masked_lm's: dict.txt, train.*), one
    repeated text and one padded dictionary."""
    mono = os.path.join(data, "mono", lang)
    check_input_file(os.path.join(data, "dict.txt"), "dictionary")
    if not os.path.isfile(indexed_dataset.data_file_path(os.path.join(mono, "train"))):
        raise UserInputError(f"{mono}/train.bin is missing: --data-only reads --lang {lang}'s monolingual text")
    ours = os.path.join(work, "ours")
    os.makedirs(os.path.join(ours, "mono", lang))
    padded_dictionary(os.path.join(data, "dict.txt"), os.path.join(ours, "dict.txt"), settings.vocab_size)
    shutil.copy(os.path.join(ours, "dict.txt"), os.path.join(ours, "mono", lang, "dict.txt"))
    sentences = repeated_corpus(
        os.path.join(mono, "train"),
        os.path.join(ours, "mono", lang, "train"),
        settings.items,
        settings.tokens_per_sample,
    )
    stock = os.path.join(work, "stock")
    os.makedirs(stock)
    for name in ("dict.txt", os.path.join("mono", lang, "train.bin"), os.path.join("mono", lang, "train.idx")):
        os.symlink(os.path.abspath(os.path.join(ours, name)), os.path.join(stock, os.path.basename(name)))
    return ours, stock, sentences


def ours_task(directory: str, lang: str, settings: DataPathSettings):
    from ..tasks.cross_lingual_lm_contrastive import CrossLingualLMContrastiveConfig, CrossLingualLMContrastiveTask

    cfg = CrossLingualLMContrastiveConfig(
        data=directory, mlm_langs=lang, tokens_per_sample=settings.tokens_per_sample, seed=1, train_subset="train"
    )
    return CrossLingualLMContrastiveTask.setup_task(cfg)


def stock_task(directory: str, settings: DataPathSettings):
    from fairseq.tasks.masked_lm import MaskedLMConfig, MaskedLMTask

    cfg = MaskedLMConfig(
        data=directory, tokens_per_sample=settings.tokens_per_sample, sample_break_mode="complete", seed=1
    )
    return MaskedLMTask.setup_task(cfg)


def measure(task, settings: DataPathSettings) -> dict:
    """Seconds to load the split and build the epoch's batches; milliseconds per batch served."""
    began = time.perf_counter()
    task.load_dataset("train", epoch=1)
    dataset = task.dataset("train")
    iterator = task.get_batch_iterator(
        dataset, max_tokens=settings.max_tokens, seed=1, epoch=1, num_workers=0, disable_iterator_cache=True
    )
    epoch = iterator.next_epoch_itr(shuffle=True)
    setup = time.perf_counter() - began
    served, tokens = 0, 0
    began = time.perf_counter()
    for batch in epoch:
        served += 1
        tokens += int(batch["ntokens"])
        if served == settings.batches:
            break
    per_batch = (time.perf_counter() - began) / max(served, 1) * 1000
    return {
        "items": len(dataset),
        "batches": len(epoch),
        "setup_seconds": setup,
        "ms_per_batch": per_batch,
        "tokens_per_batch": tokens / max(served, 1),
    }


def compare(data: str, lang: str, settings: DataPathSettings) -> dict:
    torch.manual_seed(1)
    work = tempfile.mkdtemp(prefix="cxlm-bench-data-")
    try:
        ours_dir, stock_dir, sentences = stage_data(data, lang, work, settings)
        stock = measure(stock_task(stock_dir, settings), settings)
        ours = measure(ours_task(ours_dir, lang, settings), settings)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    report = {
        "ratio": ours["ms_per_batch"] / stock["ms_per_batch"],
        "setup_ratio": ours["setup_seconds"] / stock["setup_seconds"],
        "items": ours["items"],
        "sentences": sentences,
        "vocab_size": settings.vocab_size,
        "ours": ours,
        "stock": stock,
    }
    report["targets"] = {name: {"goal": goal, "ok": report[name] <= goal} for name, goal in TARGETS.items()}
    return report


def print_report(report: dict):
    for side in ("stock", "ours"):
        r = report[side]
        print(
            f"{side:<6}{r['items']:>10} items {r['batches']:>7} batches: setup {r['setup_seconds']:.2f} s, "
            f"{r['ms_per_batch']:.2f} ms/batch ({r['tokens_per_batch']:.0f} tokens)"
        )
    print(f"data path, vocabulary {report['vocab_size']}, {report['items']} items:")
    for name, target in report["targets"].items():
        verdict = "ok" if target["ok"] else "short"
        print(f"target {name} {report[name]:.2f} <= {target['goal']} {verdict}")
