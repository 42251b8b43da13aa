"""A pretrained model's vocabulary extended for new languages (cxlm-extend-vocab): new SentencePiece pieces
appended (tokenization/extension.py), the same entries appended to dict.txt, and the checkpoint's vocabulary
rows grown to match, with every old row unchanged.

The fairseq trap: the task appends <mask> after dict.txt, so K new entries move <mask>'s id by K. Rows are laid
out [fairseq's four specials, the dict.txt entries, <mask>]; the K new rows go between the entries and <mask>,
so <mask>'s pretrained row moves with its id. A new row is initialised as the mean of the rows of the old pieces
that spell it (Fast Vocabulary Transfer, Gee et al., EMNLP 2022 industry track); a piece no old piece spells
(a character the old model maps to <unk>) takes the mean of every piece's row, which keeps the new words' share of
the output distribution no larger than an average old word's (Hewitt, "Initializing New Word Embeddings for
Pretrained Language Models", 2021). The same rule fills the output bias and an untied output projection.
"""

import hashlib
import logging
import math
import os
import shutil
from typing import Dict, List, Sequence, Tuple

import torch
from fairseq.data import Dictionary
from omegaconf import OmegaConf

from . import checkpoints
from .atomic import staged_directory, write_json
from .errors import UserInputError, check_input_file
from .models.contrastive_xlm import QUEUE_PREFIX
from .modules import SENTENCE_ENCODER
from .tokenization import extension
from .tokenization.tokenizers import CODES_FILE, SPM_FILE

logger = logging.getLogger("cxlm-extend-vocab")

# Every parameter with a row per dictionary entry (the output projection is the embedding matrix when tied).
VOCABULARY_ROWS = (SENTENCE_ENCODER + "embed_tokens.weight", "encoder.lm_head.weight", "encoder.lm_head.bias")
INITIALISATIONS = ("mean", "random")
# The new text's share of what the model will see: the new pieces' scores and output biases start at its log.
DEFAULT_SHARE = 0.1
MODEL_ARGS = "model.args"  # cxlm-import's command-line options of the model, copied along when present


def sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def new_rows(
    matrix: torch.Tensor, spellings: List[List[int]], entries: int, init: str, share: float = 1.0
) -> torch.Tensor:
    """One row (or bias value) per new piece. mean: the mean of the rows of the old pieces that spell it, or of
    every piece's row (fairseq's four specials left out) where none does; random: as fairseq initialises RoBERTa
    (normal with std 0.02 for weights, zero bias). An output bias is lowered by log(1 / share), as the piece's
    SentencePiece score is: the new pieces start with the share of the predictions their text will have, instead of
    taking mass from every old word at once."""
    if init == "random":
        shape = (len(spellings), *matrix.shape[1:])
        return torch.zeros(shape, dtype=matrix.dtype) if matrix.dim() == 1 else torch.randn(shape) * 0.02
    everything = matrix[4:entries].float().mean(0)
    rows = torch.stack([matrix[ids].float().mean(0) if ids else everything for ids in spellings])
    if matrix.dim() == 1:
        rows += math.log(share)
    return rows.to(matrix.dtype)


def grow(
    model: Dict[str, torch.Tensor], entries: int, spellings, init: str, share: float, where: str
) -> Dict[str, torch.Tensor]:
    """The model's weights with len(spellings) rows inserted at `entries` (before <mask>) in every vocabulary
    parameter. The negatives queue's momentum encoder is left out: a continuation starts it from the model."""
    embeddings = SENTENCE_ENCODER + "embed_tokens.weight"
    size = model[embeddings].size(0)
    grown = {}
    for name in sorted(model, key=lambda name: name != embeddings):  # the embeddings first: a tied head reuses them
        tensor = model[name]
        if name.startswith(QUEUE_PREFIX):
            continue
        if name == "encoder.lm_head.weight" and torch.equal(tensor, model[embeddings]):
            grown[name] = grown[embeddings]  # tied: the output projection is the embedding matrix, grown once
        elif name in VOCABULARY_ROWS:
            rows = new_rows(tensor, spellings, entries, init, share)
            grown[name] = torch.cat([tensor[:entries], rows, tensor[entries:]])
        elif tensor.dim() > 0 and tensor.size(0) == size and not name.startswith("classification_heads."):
            raise UserInputError(f"{where}: {name} has a row per word, and this command does not know how to grow it")
        else:
            grown[name] = tensor
    if any(name.startswith(QUEUE_PREFIX) for name in model):
        logger.info("the negatives queue and its momentum encoder are not carried; a continuation starts them anew")
    return {name: grown[name] for name in model if name in grown}


def vocabulary_files(data: str) -> Tuple[str, str]:
    """(spm.model, dict.txt) of a data directory or a model directory (cxlm-import's)."""
    spm_model, dictionary = os.path.join(data, SPM_FILE), os.path.join(data, "dict.txt")
    if not os.path.isfile(spm_model):
        if os.path.isfile(os.path.join(data, CODES_FILE)):
            raise UserInputError(
                f"{data} is tokenized with XLM's BPE codes ({CODES_FILE}): cxlm-extend-vocab extends SentencePiece "
                "models (XLM-R, InfoXLM, ours); BPE merges learned for new text would resegment old text too"
            )
        raise UserInputError(f"{data} has no {SPM_FILE}: --data must hold the model's SentencePiece model")
    check_input_file(dictionary, "dictionary")
    return spm_model, dictionary


def extend_vocabulary(
    checkpoint: str,
    data: str,
    texts: Sequence[Tuple[str, str]],
    pieces: int,
    out: str,
    train_vocab_size: int = 0,
    init: str = "mean",
    share: float = DEFAULT_SHARE,
    seed: int = 1,
    force: bool = False,
) -> dict:
    """Write OUT/{checkpoint.pt, spm.model, dict.txt, manifest.json} (and model.args when --data has one), whole
    or not at all; returns the manifest."""
    if pieces <= 0:
        raise UserInputError(f"--pieces must be positive, got {pieces}")
    if not 0.0 < share <= 1.0:
        raise UserInputError(f"--new-text-share must be in (0, 1], got {share}")
    if init not in INITIALISATIONS:
        raise UserInputError(f"--init must be one of {', '.join(INITIALISATIONS)}, got {init}")
    spm_model, dict_path = vocabulary_files(data)
    for _, path in texts:
        check_input_file(path, "text")
    state = checkpoints.read(checkpoint)
    model = state.get("model") or {}
    embeddings = model.get(SENTENCE_ENCODER + "embed_tokens.weight")
    if embeddings is None:
        raise UserInputError(f"{checkpoint} holds no contrastive_xlm or RoBERTa encoder weights")
    dictionary = Dictionary.load(dict_path)
    entries = len(dictionary)  # fairseq's four specials and dict.txt's lines; <mask> comes next
    if embeddings.size(0) != entries + 1:
        raise UserInputError(
            f"{checkpoint} has {embeddings.size(0)} word embeddings, but {dict_path} gives {entries + 1} with <mask>: "
            "--data must be the directory the model was trained on or imported into"
        )
    old = extension.read_model(spm_model)
    new = extension.train_like(old, texts, train_vocab_size or 2 * pieces, seed)
    counts = extension.piece_counts(new, texts)
    chosen = [p for p in extension.choose_new_pieces(old, new, counts, pieces) if p.piece not in dictionary.indices]
    if not chosen:
        raise UserInputError(f"{', '.join(p for _, p in texts)} add no piece that {spm_model} lacks")
    spell = extension.OldSpelling(old)
    unk = dictionary.unk()
    spelled = [[dictionary.index(x) for x in spell(p.piece)] for p in chosen]
    spellings = [[i for i in ids if i != unk] for ids in spelled]
    first_new = entries
    record = {
        "pieces_added": len(chosen),
        "first_new_id": first_new,
        "mask_id": {"before": entries, "after": entries + len(chosen)},
        "texts": {lang: os.path.abspath(path) for lang, path in texts},
        "initialisation": init,
        "new_text_share": share,
        "source_checkpoint": os.path.abspath(checkpoint),
        "source_sentencepiece_sha256": sha256(spm_model),
    }
    grown = grow(model, entries, spellings, init, share, checkpoint)
    cfg = state.get("cfg")
    cfg = OmegaConf.to_container(cfg, resolve=True, enum_to_str=True) if OmegaConf.is_config(cfg) else dict(cfg)
    cfg["model"]["vocab_extension"] = record
    # As cxlm-import records it: our task over OUT (its dictionary), no objective; data comes with each command.
    cfg["task"].update(data=os.path.abspath(out), mlm_langs="", tlm_pairs="", ntxent_pairs="none")
    manifest = {
        **record,
        "pieces": [
            {
                "id": first_new + i,
                "piece": p.piece,
                "count": p.count,
                "score": p.score,
                "old_spelling": [dictionary[j] for j in spelled[i]],
            }
            for i, p in enumerate(chosen)
        ],
    }
    with staged_directory(out, force) as staging:
        with open(os.path.join(staging, SPM_FILE), "wb") as f:
            f.write(extension.extended(old, chosen, share).SerializeToString())
        with open(dict_path, encoding="utf-8", newline="") as f:
            old_lines = f.read().rstrip("\n").split("\n")  # not splitlines(): a piece may hold U+2028 and such
        with open(os.path.join(staging, "dict.txt"), "w", encoding="utf-8", newline="") as f:
            f.writelines(line + "\n" for line in old_lines)
            f.writelines(f"{p.piece} {p.count}\n" for p in chosen)
        if os.path.isfile(os.path.join(data, MODEL_ARGS)):
            shutil.copy(os.path.join(data, MODEL_ARGS), os.path.join(staging, MODEL_ARGS))
        # The optimizer's moments have the old shapes: none is carried (a continuation takes the four resets).
        checkpoints.save_weights(os.path.join(staging, "checkpoint.pt"), cfg, grown)
        write_json(os.path.join(staging, "manifest.json"), manifest)
    logger.info(
        "%s: %d pieces added (ids %d-%d), <mask> moved from %d to %d",
        out,
        len(chosen),
        first_new,
        first_new + len(chosen) - 1,
        entries,
        entries + len(chosen),
    )
    return manifest
