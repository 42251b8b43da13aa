"""New pieces for a SentencePiece model, its old ids and scores kept (cxlm-extend-vocab's tokenizer half; the
checkpoint half is vocab_extension.py).

As Glot500 (Imani et al., ACL 2023) extends XLM-R's model: train a model of the same kind on the new text, then
append the pieces the old model lacks to its ModelProto, with the new model's scores. Every old piece keeps its
id, its score and the old normalizer, so an id sequence of the old model means the same under the new one.
"""

import io
import itertools
import math
from dataclasses import dataclass
from typing import Iterable, List, Sequence, Tuple

import numpy as np
import sentencepiece as spm
from sentencepiece import sentencepiece_model_pb2 as model_pb2

from ..errors import UserInputError
from ..text_files import text_lines

NORMAL = model_pb2.ModelProto.SentencePiece.NORMAL
WORD_START = "\u2581"  # SentencePiece's ▁: a piece that begins a word
# The old model's trainer settings that the new model must share for its pieces to fit the old model's text.
SHARED_TRAINER_FIELDS = (
    "model_type",
    "character_coverage",
    "split_by_unicode_script",
    "split_by_number",
    "split_by_whitespace",
    "split_digits",
    "treat_whitespace_as_suffix",
    "max_sentencepiece_length",
    "byte_fallback",
)
TRAINING_SENTENCES = 2_000_000  # at most this many lines, sampled by SentencePiece, train the new model
COUNT_BATCH = 10_000  # lines encoded at a time when counting the new pieces


@dataclass
class NewPiece:
    piece: str
    score: float
    count: int  # occurrences in the new text, as the new model splits it
    character: bool  # a single character the old model lacks (it would otherwise be <unk>)


def read_model(path: str) -> model_pb2.ModelProto:
    proto = model_pb2.ModelProto()
    with open(path, "rb") as f:
        data = f.read()
    try:
        proto.ParseFromString(data)
    except Exception as err:  # protobuf's DecodeError
        raise UserInputError(f"{path} is not a SentencePiece model ({err})") from None
    if not proto.pieces:
        raise UserInputError(f"{path} is not a SentencePiece model (it has no pieces)")
    return proto


def processor(proto: model_pb2.ModelProto, word_start: bool = True) -> spm.SentencePieceProcessor:
    """A processor of proto; word_start=False: without the ▁ SentencePiece puts before the text (the spelling of
    a piece from inside a word)."""
    if not word_start:
        copy = model_pb2.ModelProto()
        copy.CopyFrom(proto)
        copy.normalizer_spec.add_dummy_prefix = False
        proto = copy
    return spm.SentencePieceProcessor(model_proto=proto.SerializeToString())


def lines_of(texts: Sequence[Tuple[str, str]]) -> Iterable[str]:
    """Every line of every (language, file), streamed."""
    for _, path in texts:
        yield from text_lines(path)


def train_like(old: model_pb2.ModelProto, texts: Sequence[Tuple[str, str]], vocab_size: int, seed: int):
    """A model of the new text with the old one's kind and normalisation, of vocab_size pieces or, if the text has
    more characters, that many (trained from an iterator into memory: a file name would be recorded in the
    model)."""
    # A unigram model holds every character it covers as a piece: fewer pieces than characters is an error.
    characters = set()
    for line in lines_of(texts):
        characters.update(line)
    vocab_size = max(vocab_size, len(characters) + 4)
    trainer = {name: getattr(old.trainer_spec, name) for name in SHARED_TRAINER_FIELDS}
    trainer["model_type"] = model_pb2.TrainerSpec.ModelType.Name(trainer["model_type"]).lower()
    spm.set_random_generator_seed(seed)
    written = io.BytesIO()
    try:
        spm.SentencePieceTrainer.train(
            sentence_iterator=iter(lines_of(texts)),
            model_writer=written,
            vocab_size=vocab_size,
            hard_vocab_limit=False,  # a small text gives fewer pieces than asked, not an error
            input_sentence_size=TRAINING_SENTENCES,
            shuffle_input_sentence=True,
            normalization_rule_name=old.normalizer_spec.name or "nmt_nfkc",
            add_dummy_prefix=old.normalizer_spec.add_dummy_prefix,
            remove_extra_whitespaces=old.normalizer_spec.remove_extra_whitespaces,
            minloglevel=2,
            **trainer,
        )
    except RuntimeError as err:
        files = ", ".join(path for _, path in texts)
        raise UserInputError(f"SentencePiece cannot train on {files}: {str(err).split(')] ')[-1]}") from None
    proto = model_pb2.ModelProto()
    proto.ParseFromString(written.getvalue())
    return proto


def piece_counts(proto: model_pb2.ModelProto, texts: Sequence[Tuple[str, str]]) -> np.ndarray:
    """How often the model uses each of its pieces on the text (batches of lines, counted with bincount)."""
    encoder = processor(proto)
    counts = np.zeros(len(proto.pieces), dtype=np.int64)
    lines = iter(lines_of(texts))
    while batch := list(itertools.islice(lines, COUNT_BATCH)):
        ids = np.fromiter(itertools.chain.from_iterable(encoder.encode(batch)), dtype=np.int64)
        counts += np.bincount(ids, minlength=len(counts))
    return counts


def choose_new_pieces(old: model_pb2.ModelProto, new: model_pb2.ModelProto, counts, k: int) -> List[NewPiece]:
    """The k pieces of `new` that `old` lacks: first every single character old lacks (without it a whole run of
    text is <unk>, whatever longer pieces are added), then the most frequent in the new text."""
    known = {p.piece for p in old.pieces}
    old_characters = set(itertools.chain.from_iterable(p.piece for p in old.pieces if p.type == NORMAL))
    candidates = [
        NewPiece(p.piece, p.score, int(counts[i]), len(p.piece) == 1 and p.piece not in old_characters)
        for i, p in enumerate(new.pieces)
        if p.type == NORMAL and p.piece not in known and counts[i] > 0
    ]
    candidates.sort(key=lambda p: (not p.character, -p.count, -p.score, p.piece))
    return candidates[:k]


def extended(old: model_pb2.ModelProto, pieces: Sequence[NewPiece], share: float = 1.0) -> model_pb2.ModelProto:
    """old with pieces appended as NORMAL pieces: every old id, score and setting unchanged. A new piece's score is
    its log-probability in the new model plus log(share): its probability in a unigram model of a mixture in which
    the new text is that share. share=1 appends the new model's scores unchanged (as Glot500), and then a new
    piece also replaces old ones in old languages' text wherever it scores higher."""
    proto = model_pb2.ModelProto()
    proto.CopyFrom(old)
    offset = math.log(share)
    for new in pieces:
        piece = model_pb2.ModelProto.SentencePiece(piece=new.piece, score=new.score + offset, type=NORMAL)
        proto.pieces.append(piece)
    proto.trainer_spec.vocab_size = len(proto.pieces)
    return proto


class OldSpelling:
    """How the old model splits a new piece: its pieces, as the old tokenizer would give them for that piece's
    text at a word's start (▁...) or inside a word."""

    def __init__(self, old: model_pb2.ModelProto):
        self.at_start = processor(old)
        self.inside = processor(old, word_start=False)

    def __call__(self, piece: str) -> List[str]:
        if piece.startswith(WORD_START):
            return self.at_start.encode(piece[1:].replace(WORD_START, " "), out_type=str)
        return self.inside.encode(piece.replace(WORD_START, " "), out_type=str)
