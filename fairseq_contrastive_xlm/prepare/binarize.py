"""From tokenised text to the data directory the task reads: one shared dictionary, then fairseq-preprocess
into mono/<lang>/ and para/<src>-<tgt>/ (the layout of data/data_directory.py).

fairseq-preprocess does the binarizing (mmap, indexed); it runs in-process to avoid its start-up cost.
"""

import collections
import io
import os
import shutil
from typing import Dict, Iterable, List

import sentencepiece as spm

from ..compat import run_fairseq_preprocess
from ..errors import UserInputError
from ..tokenization.tokenizers import SPM_SPECIALS, load_sentencepiece


def fairseq_preprocess(*argv: str, workers: int = 1):
    run_fairseq_preprocess(["--workers", str(workers), *argv])


def train_sentencepiece(text_path: str, model_path: str, vocab_size: int, seed: int = 1) -> str:
    """A unigram SentencePiece model of text_path, written to model_path. Character coverage 0.9995 keeps
    rare characters of CJK scripts from bloating the vocabulary, as XLM-R's model does.

    The model is trained from an iterator into memory: given a file name and a prefix, SentencePiece records
    both (temporary paths) in the model, and the same data would not give the same bytes twice.
    """
    spm.set_random_generator_seed(seed)  # the trainer's own sampling; not a TrainerSpec field
    model = io.BytesIO()
    with open(text_path, encoding="utf-8") as f:
        try:
            spm.SentencePieceTrainer.train(
                sentence_iterator=(line.rstrip("\n") for line in f),
                model_writer=model,
                vocab_size=vocab_size,
                model_type="unigram",
                character_coverage=0.9995,
                minloglevel=2,
            )
        except RuntimeError as err:  # e.g. "Vocabulary size too high (8000). Please set it to a value <= 2713."
            message = str(err).split(")] ")[-1]
            raise UserInputError(
                f"SentencePiece cannot train a {vocab_size}-piece model on this text: {message}"
            ) from None
    with open(model_path, "wb") as out:
        out.write(model.getvalue())
    return model_path


def build_dictionary(spm_model: str, encoded_train_files: Iterable[str], out_dir: str) -> str:
    """DIR/dict.txt: every SentencePiece piece in the model's own order, with its count in the training text.

    As XLM-R's dictionary: fairseq index = SentencePiece id + 1 (fairseq's four specials in front, the model's
    three left out) and <mask> last, so Hugging Face's XLMRobertaTokenizer, which assumes exactly that,
    encodes to our ids (cxlm-export-hf), and no piece the model can produce is missing from the dictionary."""
    processor = load_sentencepiece(spm_model)
    counts = collections.Counter()
    for path in encoded_train_files:
        with open(path, encoding="utf-8") as f:
            for line in f:
                counts.update(line.split())
    path = os.path.join(out_dir, "dict.txt")
    with open(path, "w", encoding="utf-8") as out:
        for piece_id in range(SPM_SPECIALS, processor.get_piece_size()):
            piece = processor.id_to_piece(piece_id)
            out.write(f"{piece} {counts[piece]}\n")
    return path


def _split_options(prefixes: Dict[str, str]) -> List[str]:
    flags = {"train": "--trainpref", "valid": "--validpref", "test": "--testpref"}
    argv = []
    for split, prefix in prefixes.items():
        argv += [flags[split], prefix]
    return argv


def binarize_mono(data_dir: str, lang: str, files: Dict[str, str], dictionary: str, workers: int = 1):
    """files: split -> tokenised text of `lang` -> DATA/mono/<lang>/<split>.{bin,idx}."""
    fairseq_preprocess(
        "--only-source",
        "--srcdict",
        dictionary,
        "--destdir",
        os.path.join(data_dir, "mono", lang),
        *_split_options(files),
        workers=workers,
    )


def binarize_pair(data_dir: str, src: str, tgt: str, prefixes: Dict[str, str], dictionary: str, workers: int = 1):
    """prefixes: split -> P with tokenised P.<src> and P.<tgt> -> DATA/para/<src>-<tgt>/<split>.<src>-<tgt>.<lang>."""
    fairseq_preprocess(
        "--source-lang",
        src,
        "--target-lang",
        tgt,
        "--srcdict",
        dictionary,
        "--tgtdict",
        dictionary,
        "--destdir",
        os.path.join(data_dir, "para", f"{src}-{tgt}"),
        *_split_options(prefixes),
        workers=workers,
    )


def binarize_named_splits(files: Dict[str, str], dictionary: str, dest_dir: str, workers: int = 1):
    """files: split name -> tokenised text; writes DEST_DIR/<name>.{bin,idx} for any names (e.g. dev_ar).

    fairseq-preprocess names its outputs train, valid, valid1, valid2, ...: one run takes the first file
    as train and the rest as valid prefixes, then its outputs are renamed.
    """
    names = list(files)
    staging = os.path.join(dest_dir, ".binarize")
    argv = ["--only-source", "--srcdict", dictionary, "--destdir", staging, "--trainpref", files[names[0]]]
    if len(names) > 1:
        argv += ["--validpref", ",".join(files[name] for name in names[1:])]
    fairseq_preprocess(*argv, workers=workers)
    outputs = ["train"] + ["valid" if i == 0 else f"valid{i}" for i in range(len(names) - 1)]
    for name, output in zip(names, outputs):
        for ext in ("bin", "idx"):
            os.replace(os.path.join(staging, f"{output}.{ext}"), os.path.join(dest_dir, f"{name}.{ext}"))
    os.replace(os.path.join(staging, "dict.txt"), os.path.join(dest_dir, "dict.txt"))
    shutil.rmtree(staging)
