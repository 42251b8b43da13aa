"""The two tokenizations a data directory can carry, behind one interface: SentencePiece (spm.model, XLM-R's and
ours) and XLM's Moses + BPE (codes, for models imported from XLM). Every command that turns text into ids
(cxlm-prepare, cxlm-xnli-prepare, retrieval, embeddings, attention maps) takes the one its data directory has."""

import os
from typing import List, Optional

import sentencepiece as spm

from ..errors import UserInputError, check_input_file
from .xlm_tokenizer import XLMTokenizer, recorded_lowercase

SPM_FILE = "spm.model"  # a data directory's SentencePiece model (a Hugging Face folder's: hf_layout.HF_SPM_FILE)
CODES_FILE = "codes"
SPM_SPECIALS = 3  # SentencePiece's <unk> <s> </s>; fairseq has its own four (<s> <pad> </s> <unk>)


def load_sentencepiece(path: str) -> spm.SentencePieceProcessor:
    """A SentencePiece model; a file that is not one is one line naming it (sentencepiece's own error is a C++
    status message with no file name)."""
    check_input_file(path, "SentencePiece model")
    try:
        return spm.SentencePieceProcessor(model_file=path)
    except (RuntimeError, OSError) as err:
        raise UserInputError(f"{path} is not a SentencePiece model ({str(err).strip()})") from None


class SentencePieceTokenizer:
    kind = "sentencepiece"
    file_name = SPM_FILE

    def __init__(self, path: str, lowercase: Optional[bool] = None):
        self.path = path
        self.lowercase = None  # SentencePiece's normalisation is in its model
        self.processor = load_sentencepiece(path)

    def pieces(self, text: str, lang: Optional[str] = None) -> List[str]:
        """Characters the model does not cover come out as <unk>, fairseq's own unknown symbol: spelled out,
        they would enter the dictionary as pieces the model does not have."""
        return self.processor.id_to_piece(self.processor.encode(text))


class XLMBPETokenizer(XLMTokenizer):
    kind = "xlm"
    file_name = CODES_FILE

    def __init__(self, path: str, lowercase: Optional[bool] = None):
        """lowercase None: as recorded beside the codes (xlm_tokenizer.recorded_lowercase)."""
        if lowercase is None:
            lowercase = recorded_lowercase(os.path.dirname(os.path.abspath(path)))
        super().__init__(path, lowercase)
        self.path = path


KINDS = {"sentencepiece": SentencePieceTokenizer, "xlm": XLMBPETokenizer}


def load(kind: str, path: str, lowercase: Optional[bool] = None):
    return KINDS[kind](path, lowercase)


def of_data_directory(data: str, lowercase: Optional[bool] = None):
    """The tokenizer a data directory was prepared with: DATA/spm.model or DATA/codes (lowercase: XLM's
    lowercasing and accent stripping, None as the directory records it)."""
    for cls in KINDS.values():
        path = os.path.join(data, cls.file_name)
        if os.path.isfile(path):
            return cls(path, lowercase)
    raise UserInputError(
        f"{data} has neither {SPM_FILE} nor {CODES_FILE}: --data must be the data directory the model was "
        "prepared with (cxlm-prepare, cxlm-import)"
    )


def encode_line(tokenizer, text: str, lang: Optional[str] = None) -> str:
    """Space-separated pieces, as fairseq-preprocess reads them."""
    return " ".join(tokenizer.pieces(text, lang))
