"""cxlm-prepare --parts N: a plan on one machine, then N independent parts on an existing engine (submitit:
processes on this machine, or one SLURM job a part), gathered into the sharded directory --data a:b:c trains on.

- The plan (this machine): check the inputs; fix the tokenizer (--spm-model/--dict, XLM's codes, or a
  SentencePiece model trained on a language-balanced sample of the raw lines, cleaned as they are read); fix the
  dictionary (the model's order); cut every corpus into N consecutive runs of lines (byte offsets for plain
  files, so that a part seeks to its first line). Written to OUT.parts/plan.json with the vocabulary.
- A part: cxlm-prepare of its lines with the plan's vocabulary -> OUT.parts/part<i>, whole or not at all
  (pipeline.prepare); a finished part is skipped, so a rerun after a failure runs only the missing ones.
  Validation and test come from part 0, as --shards puts them in shard0. Repeats are removed within a part.
- The gathering: the dictionary's counts summed over the parts' training ids, part<i> -> OUT/shard<i>, and a
  manifest that adds up the parts'.
"""

import collections
import dataclasses
import json
import logging
import os
import shutil
from typing import List

import numpy as np
from fairseq.data import Dictionary

from ..atomic import staged_directory, write_json
from ..data import indexed
from ..errors import UserInputError
from ..text_files import binary_lines, compression_of, count_lines
from ..tokenization import tokenizers
from ..tokenization.xlm_tokenizer import record_lowercase, recorded_lowercase
from . import binarize
from .cleaning import DropCounts, clean_line
from .corpora import Corpus, InputSlice, PrepareOptions, check_corpora
from .layout import SPLITS, dataset_prefix, dictionary_copies
from .token_ids import sentencepiece_table
from .verify import MANIFEST, file_records

logger = logging.getLogger("cxlm-prepare")

PLAN = "plan.json"


def parts_directory(out: str) -> str:
    return os.path.abspath(out) + ".parts"


def line_offsets(path: str, lines: List[int]) -> List[int]:
    """The byte offset where each of the (ascending) line numbers starts in a plain file; one pass."""
    offsets, at = [], 0
    while at < len(lines) and lines[at] == 0:
        offsets.append(0)
        at += 1
    passed, position = 0, 0  # line ends read, bytes read
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 24), b""):
            ends = chunk.count(b"\n")
            cut, counted = -1, passed
            while at < len(lines) and lines[at] <= passed + ends:
                while counted < lines[at]:  # line t starts after the t-th line end
                    cut = chunk.index(b"\n", cut + 1)
                    counted += 1
                offsets.append(position + cut + 1)
                at += 1
            passed, position = passed + ends, position + len(chunk)
    return offsets + [position] * (len(lines) - at)


def slices(corpus: Corpus, parts: int) -> List[dict]:
    """The corpus cut into `parts` consecutive runs of lines, as even as can be."""
    total = count_lines(corpus.paths[0])
    if total < parts:
        raise UserInputError(f"{corpus.name} has {total} lines: too few for --parts {parts}")
    bounds = [i * total // parts for i in range(parts + 1)]
    offsets = [
        line_offsets(path, bounds[:-1]) if compression_of(path) is None else [None] * parts for path in corpus.paths
    ]
    return [
        {"start": bounds[i], "count": bounds[i + 1] - bounds[i], "offsets": [o[i] for o in offsets]}
        for i in range(parts)
    ]


def raw_training_sample(corpora: List[Corpus], options: PrepareOptions, path: str):
    """The SentencePiece sample of a plan: the raw lines, cleaned as they are read (repeats are not known yet)."""
    from .pipeline import write_balanced_sample

    def cleaned(source):
        drops = DropCounts()
        for raw in binary_lines(source):
            text = clean_line(raw, options.max_chars, drops, source)
            if text is not None:
                yield text + "\n"

    sources, counts = {}, collections.Counter()
    for corpus in corpora:
        for lang, source in zip(corpus.langs, corpus.paths):
            sources.setdefault(lang, []).append(lambda source=source: cleaned(source))
            counts[lang] += count_lines(source)
    write_balanced_sample(sources, counts, options, path)


def make_plan(corpora: List[Corpus], out: str, options: PrepareOptions, work: str) -> dict:
    """The tokenizer and dictionary in WORK, and plan.json: every corpus's slices and the options of the parts."""
    os.makedirs(work, exist_ok=True)
    if options.tokenizer == "xlm":
        shutil.copy(options.bpe_codes, os.path.join(work, tokenizers.CODES_FILE))
        lowercase = options.lowercase
        if lowercase is None:
            lowercase = recorded_lowercase(os.path.dirname(os.path.abspath(options.bpe_codes)))
        record_lowercase(work, lowercase)
        shutil.copy(options.dict, os.path.join(work, "dict.txt"))
    elif options.spm_model:
        shutil.copy(options.spm_model, os.path.join(work, tokenizers.SPM_FILE))
        shutil.copy(options.dict, os.path.join(work, "dict.txt"))
    else:
        sample = os.path.join(work, "spm_sample.txt")
        raw_training_sample(corpora, options, sample)
        model = binarize.train_sentencepiece(
            sample, os.path.join(work, tokenizers.SPM_FILE), options.vocab_size, options.seed
        )
        binarize.build_dictionary(model, None, work)
        os.remove(sample)
    plan = {
        "out": os.path.abspath(out),
        "options": dataclasses.asdict(options),
        "corpora": [
            {"langs": list(c.langs), "paths": [os.path.abspath(p) for p in c.paths], "slices": slices(c, options.parts)}
            for c in corpora
        ],
    }
    write_json(os.path.join(work, PLAN), plan)
    return plan


def run_part(work: str, index: int) -> str:
    """Part `index` of WORK's plan -> WORK/part<index> (skipped when it exists). Runs where submitit puts it."""
    with open(os.path.join(work, PLAN), encoding="utf-8") as f:
        plan = json.load(f)
    out = os.path.join(work, f"part{index}")
    if os.path.isdir(out):
        return out
    vocabulary = {
        "sentencepiece": {"spm_model": os.path.join(work, tokenizers.SPM_FILE), "vocab_size": None},
        "xlm": {"bpe_codes": os.path.join(work, tokenizers.CODES_FILE), "lowercase": None},
    }[plan["options"]["tokenizer"]]
    held_out = {} if index == 0 else {"valid_size": 0, "test_size": 0}
    options = PrepareOptions(
        **{**plan["options"], **vocabulary, **held_out, "dict": os.path.join(work, "dict.txt"), "parts": 1}
    )
    corpora = [
        Corpus(tuple(c["langs"]), tuple(c["paths"]), part=InputSlice(**c["slices"][index])) for c in plan["corpora"]
    ]
    from .pipeline import prepare

    prepare(corpora, out, options, checked=True)
    return out


def train_counts(shards: List[str], corpora: List[Corpus], size: int, dtype) -> np.ndarray:
    """Occurrences of each dictionary id in the shards' training datasets, a block at a time."""
    counts = np.zeros(size, dtype=np.int64)
    for shard in shards:
        for corpus in corpora:
            for lang in corpus.langs:
                path = os.path.join(shard, dataset_prefix(corpus, "train", lang) + ".bin")
                if not os.path.isfile(path) or not os.path.getsize(path):
                    continue
                ids = np.memmap(path, dtype=dtype, mode="r")
                for start in range(0, len(ids), 1 << 26):
                    counts += np.bincount(ids[start : start + (1 << 26)], minlength=size)
    return counts


def add_up(manifests: List[dict]) -> dict:
    """The corpora's records of the parts' manifests, summed."""
    total = {**manifests[0], "monolingual": {}, "parallel": {}}
    for kind in ("monolingual", "parallel"):
        for name in manifests[0][kind]:
            records = [m[kind][name] for m in manifests]
            dropped, invalid = collections.Counter(), collections.Counter()
            for record in records:
                dropped.update(record["dropped"])
                invalid.update(record["invalid_utf8_by_file"])
            total[kind][name] = {
                "inputs": records[0]["inputs"],
                "lines_read": sum(r["lines_read"] for r in records),
                "dropped": dict(dropped),
                "invalid_utf8_by_file": dict(invalid),
                "splits": {
                    s: {k: sum(r["splits"][s][k] for r in records) for k in ("sentences", "tokens", "characters")}
                    for s in SPLITS
                },
            }
    return total


def finish_shards(work: str, staging: str, shards: List[str], manifests: List[dict], options: dict, corpora):
    """The gathered shards' dictionary counts (when it was made here), shard.json and manifests."""
    if options["vocab_size"] is not None:  # trained here: the counts of the training text
        dictionary = Dictionary.load(os.path.join(work, "dict.txt"))
        model = os.path.join(work, tokenizers.SPM_FILE)
        counts = train_counts(shards, corpora, len(dictionary), indexed.dtype_for(len(dictionary)))
        table = sentencepiece_table(tokenizers.load_sentencepiece(model), dictionary)
        binarize.build_dictionary(model, counts[table], work)
        for shard in shards:
            for copy in ["dict.txt", *(c for corpus in corpora for c in dictionary_copies(corpus))]:
                shutil.copy(os.path.join(work, "dict.txt"), os.path.join(shard, copy))
    total = add_up(manifests)
    total["options"] = {**total["options"], **{k: options[k] for k in ("parts", "vocab_size", "spm_model")}}
    total["vocabulary"]["trained_here"] = options["vocab_size"] is not None
    for i, (shard, manifest) in enumerate(zip(shards, manifests)):
        with open(os.path.join(shard, "shard.json"), "w", encoding="utf-8") as f:
            train = {name: r["splits"]["train"]["sentences"] for kind in ("monolingual", "parallel")
                     for name, r in manifest[kind].items()}  # fmt: skip
            json.dump({"shard": i, "shards": len(shards), "train_sentences": train}, f, indent=2)
        write_json(os.path.join(shard, MANIFEST), {**manifest, "files": file_records(shard)})
    write_json(os.path.join(staging, MANIFEST), {**total, "files": file_records(staging)})


def gather(work: str, out: str, plan: dict, corpora: List[Corpus], force: bool):
    """WORK/part<i> -> OUT/shard<i>, the dictionary's counts filled in when it was made here, manifests."""
    options = plan["options"]
    parts = [os.path.join(work, f"part{i}") for i in range(options["parts"])]
    manifests = []
    for part in parts:
        with open(os.path.join(part, MANIFEST), encoding="utf-8") as f:
            manifests.append(json.load(f))
    with staged_directory(out, force) as staging:
        shards = [os.path.join(staging, f"shard{i}") for i in range(len(parts))]
        for part, shard in zip(parts, shards):
            os.replace(part, shard)  # moved, not copied: at CC-100's size a copy would double the disk
        try:
            finish_shards(work, staging, shards, manifests, options, corpora)
        except BaseException:  # the finished parts go back, for a rerun
            for part, shard in zip(parts, shards):
                if os.path.isdir(shard):
                    os.replace(shard, part)
            raise
    shutil.rmtree(work)


def executor_for(options: PrepareOptions, work: str):
    import submitit

    executor = submitit.AutoExecutor(folder=os.path.join(work, "logs"), cluster=options.executor)
    parameters = {"timeout_min": options.slurm_time, "cpus_per_task": options.workers, "name": "cxlm-prepare"}
    if options.executor == "slurm" and options.slurm_partition:
        parameters["slurm_partition"] = options.slurm_partition
    executor.update_parameters(**parameters)
    return executor


def prepare_in_parts(corpora: List[Corpus], out: str, options: PrepareOptions, force: bool = False):
    check_corpora(corpora, options, out, force)
    work = parts_directory(out)
    plan_path = os.path.join(work, PLAN)
    if os.path.isfile(plan_path):
        with open(plan_path, encoding="utf-8") as f:
            plan = json.load(f)
        inputs = [{"langs": list(c.langs), "paths": [os.path.abspath(p) for p in c.paths]} for c in corpora]
        if [{k: c[k] for k in ("langs", "paths")} for c in plan["corpora"]] != inputs or plan[
            "options"
        ] != dataclasses.asdict(options):
            raise UserInputError(
                f"{work} holds the parts of other inputs or options: remove it, or rerun with the same command"
            )
        logger.info("%s: resuming the plan there", work)
    else:
        plan = make_plan(corpora, out, options, work)
    missing = [i for i in range(options.parts) if not os.path.isdir(os.path.join(work, f"part{i}"))]
    logger.info("%d parts: %d finished, running %d on %s", options.parts, options.parts - len(missing), len(missing),
                options.executor)  # fmt: skip
    if missing:
        jobs = executor_for(options, work).map_array(run_part, [work] * len(missing), missing)
        failed = []
        for index, job in zip(missing, jobs):
            try:
                job.result()
            except Exception as err:  # submitit's FailedJobError holds the part's own traceback
                message = str(err).strip().splitlines()[-1] if str(err).strip() else type(err).__name__
                failed.append(f"part {index} ({message}; log: {job.paths.stderr})")
        if failed:
            raise UserInputError(
                f"{len(failed)} of {options.parts} parts failed: {failed[0]}; rerun the same command to run only "
                "the unfinished parts"
            )
    gather(work, out, plan, corpora, force)
    logger.info("wrote %s: %d shards; train with --data %s", out, options.parts,
                ":".join(os.path.join(out, f"shard{i}") for i in range(options.parts)))  # fmt: skip
    return corpora
