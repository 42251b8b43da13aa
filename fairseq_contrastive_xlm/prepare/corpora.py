"""What cxlm-prepare is given: the corpora (a language's monolingual text, or a pair's two line-aligned files), the
options, and the checks of both that run before any work."""

import os
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

from ..atomic import refuse_existing
from ..errors import UserInputError, check_input_file
from ..languages import check_code
from ..text_files import count_lines
from ..tokenization.tokenizers import load_sentencepiece
from .cleaning import DropCounts


@dataclass
class InputSlice:
    """Lines [start, start + count) of a corpus's files (one part of cxlm-prepare --parts); offsets: where line
    `start` begins in each file, None for an archive (read from its start)."""

    start: int
    count: int
    offsets: Tuple[Optional[int], ...]


@dataclass
class Corpus:
    """One --mono (one language) or --para (two) input."""

    langs: Tuple[str, ...]
    paths: Tuple[str, ...]
    part: Optional[InputSlice] = None  # all of its lines when None
    drops: DropCounts = field(default_factory=DropCounts)
    lines_read: int = 0
    kept: int = 0
    split_sizes: Dict[str, int] = field(default_factory=dict)
    tokens: Dict[str, int] = field(default_factory=dict)
    characters: Dict[str, int] = field(default_factory=dict)  # of the cleaned lines, each with its line end

    @property
    def name(self):
        return "-".join(self.langs)

    @property
    def parallel(self):
        return len(self.langs) == 2


def _default_workers() -> int:
    return max(1, min(8, os.cpu_count() or 1))


@dataclass
class PrepareOptions:
    """Every option of the pipeline (cxlm-prepare's flags are made from these fields)."""

    vocab_size: Optional[int] = field(
        default=None, metadata={"help": "train a SentencePiece unigram model of this size"}
    )
    spm_model: Optional[str] = field(
        default=None, metadata={"help": "reuse this SentencePiece model (with --dict), e.g. XLM-R's"}
    )
    dict: Optional[str] = field(
        default=None, metadata={"help": "reuse this fairseq dictionary (with --spm-model, or --tokenizer xlm)"}
    )
    tokenizer: str = field(
        default="sentencepiece",
        metadata={
            "help": "'sentencepiece' (trained here or --spm-model), or 'xlm': XLM-15's pipeline (Moses, lowercasing "
            "and accent stripping, BPE with --bpe-codes) for a model imported from XLM, with its --dict",
            "choices": ["sentencepiece", "xlm"],
        },
    )
    bpe_codes: Optional[str] = field(default=None, metadata={"help": "XLM's BPE codes (with --tokenizer xlm)"})
    lowercase: Optional[bool] = field(
        default=None,
        metadata={
            "help": "with --tokenizer xlm: lowercase and strip accents (XLM-15) or not (XLM-17, XLM-100); default: "
            "as cxlm-import recorded beside --bpe-codes (from the model's params), else lowercase"
        },
    )
    sampling_alpha: float = field(
        default=0.5,
        metadata={
            "help": "language balance of the SentencePiece training sample: a language's share is "
            "proportional to its share of the text ** alpha"
        },
    )
    spm_sentences: int = field(default=1_000_000, metadata={"help": "sentences in the SentencePiece training sample"})
    valid_size: int = field(default=5000, metadata={"help": "validation sentences per corpus"})
    test_size: int = field(default=5000, metadata={"help": "test sentences per corpus"})
    max_chars: int = field(default=2000, metadata={"help": "drop lines longer than this"})
    max_length_ratio: float = field(
        default=3.0,
        metadata={"help": "drop pairs whose lengths in SentencePiece pieces differ by more than this factor"},
    )
    seed: int = field(default=1, metadata={"help": "seed of the splits and samples"})
    shards: int = field(
        default=1,
        metadata={
            "help": "write OUT/shard0 ... OUT/shard<N-1>, each a data directory with the same dictionary, the "
            "training lines spread evenly, validation and test in shard0; train with --data "
            "OUT/shard0:OUT/shard1:... (epoch k reads shard (k - 1) mod N)"
        },
    )
    workers: int = field(
        default_factory=_default_workers,
        metadata={"help": "parallel encoding workers (default: the cores, at most 8); with --parts, a part's"},
    )
    parts: int = field(
        default=1,
        metadata={
            "help": "prepare in N independent parts, one shard each (OUT/shard<i>), run by submitit (--executor); "
            "the tokenizer and dictionary are fixed first, on this machine; a rerun does only the unfinished parts"
        },
    )
    executor: str = field(
        default="local",
        metadata={
            "help": "with --parts: 'local' (processes on this machine) or 'slurm' (one SLURM job a part)",
            "choices": ["local", "slurm"],
        },
    )
    slurm_partition: Optional[str] = field(default=None, metadata={"help": "--executor slurm: the partition"})
    slurm_time: int = field(default=240, metadata={"help": "--executor slurm: minutes a part may run"})


def check_corpora(corpora: List[Corpus], options: PrepareOptions, out: str, force: bool = False):
    """Every problem with the inputs and options, before any work is done."""
    if not corpora:
        raise UserInputError("no input: give --mono LANG:PATH and/or --para SRC-TGT:SRC_PATH,TGT_PATH")
    seen = {}
    for corpus in corpora:
        for lang in corpus.langs:
            check_code(lang, "--para" if corpus.parallel else "--mono")
        key = (corpus.parallel, tuple(sorted(corpus.langs)))
        if key in seen:
            kind = "--para" if corpus.parallel else "--mono"
            raise UserInputError(
                f"{kind} {corpus.name} is given twice (also as {seen[key]}); concatenate the files first"
            )
        seen[key] = corpus.name
        for path in corpus.paths:
            check_input_file(path, "input file", corpus.name)
        if corpus.parallel:
            counts = [count_lines(p) for p in corpus.paths]
            if counts[0] != counts[1]:
                raise UserInputError(
                    f"--para {corpus.name}: the files are not line-aligned: {corpus.paths[0]} has {counts[0]} "
                    f"lines and {corpus.paths[1]} has {counts[1]}"
                )

    if options.tokenizer == "xlm":
        if options.vocab_size is not None or options.spm_model is not None:
            raise UserInputError("--tokenizer xlm takes --bpe-codes and --dict, not --vocab-size or --spm-model")
        if not (options.bpe_codes and options.dict):
            raise UserInputError(
                "--tokenizer xlm needs --bpe-codes CODES and --dict DICT (cxlm-import xlm writes both)"
            )
        for path in (options.bpe_codes, options.dict):
            check_input_file(path)
    elif options.bpe_codes is not None or options.lowercase is not None:
        raise UserInputError("--bpe-codes and --lowercase/--no-lowercase go with --tokenizer xlm")
    elif (options.vocab_size is None) == (options.spm_model is None and options.dict is None):
        raise UserInputError("give either --vocab-size N, or --spm-model MODEL with --dict DICT")
    elif options.vocab_size is None:
        if not (options.spm_model and options.dict):
            raise UserInputError("--spm-model and --dict go together")
        for path in (options.spm_model, options.dict):
            check_input_file(path)
        load_sentencepiece(options.spm_model)  # a file that is not one: said now, not after cleaning the corpus
    elif options.vocab_size < 100:
        raise UserInputError(f"--vocab-size {options.vocab_size} is too small (at least 100)")
    if options.valid_size < 0 or options.test_size < 0:
        raise UserInputError("--valid-size and --test-size must be >= 0")
    if options.shards < 1:
        raise UserInputError(f"--shards must be at least 1, got {options.shards}")
    if options.parts < 1:
        raise UserInputError(f"--parts must be at least 1, got {options.parts}")
    if options.parts > 1 and options.shards > 1:
        raise UserInputError("--parts N writes N shards itself: give --parts or --shards, not both")
    refuse_existing(out, force)
