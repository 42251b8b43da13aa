"""Sentence embeddings of raw text from a contrastive_xlm checkpoint, as the NT-Xent loss sees them (or from
another layer / pooling), batched and sorted by length to limit padding."""

import itertools
import logging
import os
from typing import List, Optional

import numpy as np
import torch
from tqdm import tqdm

from ..atomic import atomic_path
from ..checkpoints import is_contrastive_xlm, load
from ..errors import UserInputError
from ..models.contrastive_xlm import language_ids
from ..optional import require
from ..text_files import text_lines
from ..tokenization import tokenizers

logger = logging.getLogger(__name__)


def report_truncated(embedder, what: str):
    """One line when sentences were cut to the model's positions (they are embedded all the same)."""
    if embedder.truncated:
        logger.warning(
            "%s: %d sentences are longer than the model's %d positions and were cut to fit (each is still "
            "embedded and scored)",
            what,
            embedder.truncated,
            embedder.max_tokens,
        )


class SentenceEmbedder:
    """checkpoint: a contrastive_xlm checkpoint; data: its data directory (spm.model and the dictionary)."""

    def __init__(
        self,
        checkpoint: str,
        data: str,
        pooling: Optional[str] = None,
        layer: Optional[int] = None,
        projection: bool = False,
        cpu: bool = False,
        lowercase: Optional[bool] = None,
    ):
        self.tokenizer = tokenizers.of_data_directory(data, lowercase)
        self.model, task, _ = load(checkpoint, data=data, cpu=cpu)
        if not is_contrastive_xlm(self.model):
            raise UserInputError(f"{checkpoint} is not a contrastive_xlm checkpoint")
        if projection and self.model.ntxent_head is None:
            raise UserInputError(f"{checkpoint} has no projection head (it was trained without NT-Xent)")
        self.dictionary = task.source_dictionary
        self.checkpoint = checkpoint
        self.pooling = pooling
        self.layer = layer
        self.projection = projection
        self.max_tokens = self.model.encoder.max_positions()
        self.device = next(self.model.parameters()).device
        self.truncated = 0  # sentences cut to the model's positions so far: every sentence is embedded, none dropped

    def describe(self) -> dict:
        """What embedded, for a report: the checkpoint and how it pooled."""
        args = self.model.args
        return {
            "checkpoint": os.path.abspath(self.checkpoint),
            "pooling": self.pooling or str(args.ntxent_pooling),
            "layer": self.layer if self.layer is not None else args.ntxent_layer,
            "projection": self.projection,
            "truncated_sentences": self.truncated,
            "max_positions": self.max_tokens,
        }

    @property
    def dimensions(self) -> int:
        """The width of the embeddings embed() returns."""
        if self.projection:
            return self.model.ntxent_head.out_proj.out_features
        return self.model.args.encoder_embed_dim

    def token_ids(self, sentence: str, lang: Optional[str] = None) -> List[int]:
        pieces = self.tokenizer.pieces(sentence, lang)
        ids = [self.dictionary.bos(), *(self.dictionary.index(p) for p in pieces), self.dictionary.eos()]
        if len(ids) > self.max_tokens:  # keep <s> ... </s> within the model's positions
            ids = ids[: self.max_tokens - 1] + [self.dictionary.eos()]
            self.truncated += 1
        return ids

    report_truncated = report_truncated

    @torch.no_grad()
    def embed(self, sentences: List[str], lang: str, batch_size: int = 64, progress: bool = False) -> np.ndarray:
        """N x D float32 embeddings, in the order of `sentences`."""
        encoded = [self.token_ids(s, lang) for s in sentences]
        order = np.argsort([len(ids) for ids in encoded], kind="stable")
        out = np.zeros((len(sentences), 0), dtype=np.float32)
        chunks = range(0, len(order), batch_size)
        for start in tqdm(chunks, desc=f"embed {lang}", unit=" batch", disable=not progress, mininterval=2):
            rows = order[start : start + batch_size]
            width = max(len(encoded[i]) for i in rows)
            tokens = torch.full((len(rows), width), self.dictionary.pad(), dtype=torch.long)
            for row, i in enumerate(rows):
                tokens[row, : len(encoded[i])] = torch.tensor(encoded[i])
            tokens = tokens.to(self.device)
            vectors = self.model.sentence_embedding(
                tokens, lang_ids=language_ids(self.model, lang, tokens), pooling=self.pooling, layer=self.layer
            )
            if self.projection:
                vectors = self.model.ntxent_head(vectors)
            vectors = vectors.float().cpu().numpy()
            if out.shape[1] == 0:
                out = np.zeros((len(sentences), vectors.shape[1]), dtype=np.float32)
            out[rows] = vectors
        return out


class SentenceTransformerEmbedder:
    """Any sentence-transformers folder (LaBSE, our own export, an earlier model) behind SentenceEmbedder's
    interface, so that it takes a row in the same tables. The language is not an input of theirs."""

    def __init__(self, path: str, cpu: bool = False):
        if not os.path.isfile(os.path.join(path, "modules.json")):
            raise UserInputError(f"{path} is not a sentence-transformers folder (no modules.json)")
        SentenceTransformer = require("sentence_transformers").SentenceTransformer

        try:
            self.model = SentenceTransformer(path, device="cpu" if cpu or not torch.cuda.is_available() else None)
        except (OSError, ValueError, KeyError, ImportError) as err:
            raise UserInputError(
                f"{path}: sentence-transformers cannot load it ({type(err).__name__}: {err})"
            ) from None
        self.path = path
        self.max_tokens = self.model.max_seq_length
        self.truncated = 0

    report_truncated = report_truncated

    @property
    def dimensions(self) -> int:
        return self.model.get_embedding_dimension()

    def describe(self) -> dict:
        return {"st_model": os.path.abspath(self.path), "truncated_sentences": self.truncated}

    def embed(self, sentences: List[str], lang: str = None, batch_size: int = 64, progress: bool = False):
        """N x D float32 embeddings, in the order of `sentences`."""
        tokenizer = getattr(self.model, "tokenizer", None)
        if tokenizer is not None and self.max_tokens:  # counted as ours are: cut, still embedded
            self.truncated += sum(len(ids) > self.max_tokens for ids in tokenizer(list(sentences))["input_ids"])
        vectors = self.model.encode(
            list(sentences), batch_size=batch_size, convert_to_numpy=True, show_progress_bar=progress
        )
        return np.asarray(vectors, dtype=np.float32)


def count_lines(path: str) -> int:
    return sum(1 for _ in text_lines(path))


def embed_file(
    embedder,
    path: str,
    out: str,
    lang: Optional[str] = None,
    dtype="float16",
    chunk=50_000,
    batch_size=64,
    progress=True,
) -> int:
    """Embed every line of `path` into `out`, a .npy file of lines x dimensions (row i: line i) that numpy can
    memory-map. Lines are read and embedded `chunk` at a time (sorted by length within it) and written as they go,
    so memory stays bounded whatever the file's size; the file appears under its name only when complete.
    Returns the number of lines."""
    from tqdm import tqdm

    lines = count_lines(path)
    if lines == 0:
        raise UserInputError(f"{path} is empty: nothing to embed")
    dim = embedder.dimensions
    with atomic_path(out, suffix=".partial.npy") as partial:
        matrix = np.lib.format.open_memmap(partial, mode="w+", dtype=np.dtype(dtype), shape=(lines, dim))
        reader, done = text_lines(path), 0
        with tqdm(
            total=lines, desc=f"embed {os.path.basename(path)}", unit=" sentences", disable=not progress, mininterval=2
        ) as bar:
            while done < lines:
                sentences = list(itertools.islice(reader, chunk))
                matrix[done : done + len(sentences)] = embedder.embed(sentences, lang, batch_size)
                done += len(sentences)
                bar.update(len(sentences))
        matrix.flush()
        del matrix  # closes the memory map before the rename
    return lines
