"""The layout of Hugging Face's XLMRoberta folders, and how its parameter names map onto ours (both directions: the
import in hf_import.py, the export in hf_export.py).

The parameter names are a fixed renaming: our encoder is fairseq's RoBERTa, whose layers Hugging Face's
XLMRoberta reproduces. Three things are not a renaming:
- Hugging Face's token-type embeddings are added to every token. A folder with one type (XLM-R, InfoXLM) has its
  row folded into the position embeddings, which every token also gets; our export carries the language
  embeddings as token types, one per language, and the import takes them back.
- The vocabulary order: Hugging Face's XLMRobertaTokenizer gives SentencePiece id + 1 (fairseq's four specials
  in front, <mask> last), which is our dictionary's order when cxlm-prepare wrote it; a dictionary in another
  order is permuted into that one on export (a piece missing from it takes <unk>'s row).
- Hugging Face's positions start at 0 where fairseq's start at padding_idx + 1 (FAIRSEQ_PAD).
"""

from typing import List, Tuple

from ..modules import SENTENCE_ENCODER

ACTIVATIONS = {"gelu": "gelu", "relu": "relu", "gelu_accurate": "gelu_new", "tanh": "tanh"}  # fairseq -> HF

HF_SPM_FILE = "sentencepiece.bpe.model"  # the name XLM-R's folders give the SentencePiece model
CLASSIFIER = "sentence_classification_head"  # fairseq's sentence_prediction head


def roberta_names(layers: int) -> List[Tuple[str, str]]:
    """(Hugging Face XLMRoberta name without its 'roberta.' prefix, our name) for the encoder."""
    pairs = [
        ("embeddings.word_embeddings.weight", SENTENCE_ENCODER + "embed_tokens.weight"),
        ("embeddings.position_embeddings.weight", SENTENCE_ENCODER + "embed_positions.weight"),
        ("embeddings.LayerNorm.weight", SENTENCE_ENCODER + "layernorm_embedding.weight"),
        ("embeddings.LayerNorm.bias", SENTENCE_ENCODER + "layernorm_embedding.bias"),
    ]
    parts = {
        "attention.self.query": "self_attn.q_proj",
        "attention.self.key": "self_attn.k_proj",
        "attention.self.value": "self_attn.v_proj",
        "attention.output.dense": "self_attn.out_proj",
        "attention.output.LayerNorm": "self_attn_layer_norm",
        "intermediate.dense": "fc1",
        "output.dense": "fc2",
        "output.LayerNorm": "final_layer_norm",
    }
    for i in range(layers):
        for theirs, ours in parts.items():
            for kind in ("weight", "bias"):
                pairs.append((f"encoder.layer.{i}.{theirs}.{kind}", f"{SENTENCE_ENCODER}layers.{i}.{ours}.{kind}"))
    return pairs


LM_HEAD = [
    ("lm_head.dense.weight", "encoder.lm_head.dense.weight"),
    ("lm_head.dense.bias", "encoder.lm_head.dense.bias"),
    ("lm_head.layer_norm.weight", "encoder.lm_head.layer_norm.weight"),
    ("lm_head.layer_norm.bias", "encoder.lm_head.layer_norm.bias"),
    ("lm_head.bias", "encoder.lm_head.bias"),
]
CLASSIFIER_NAMES = [
    (f"classifier.{part}.{kind}", f"classification_heads.{CLASSIFIER}.{part}.{kind}")
    for part in ("dense", "out_proj")
    for kind in ("weight", "bias")
]
