"""Exporting a contrastive_xlm checkpoint as a Hugging Face folder (cxlm-export-hf): which transformers class it
becomes, the conversion, the tokenizer and the model card. The weight mappings are in hf_export.py."""

import glob
import json
import os
from typing import NamedTuple, Optional

import yaml

from ..atomic import staged_directory
from ..checkpoints import is_contrastive_xlm, load
from ..errors import UserInputError
from ..tokenization import tokenizers
from . import hf_export, sentence_transformers


class SentenceOptions(NamedTuple):
    """How the exported folder embeds sentences (None: as the model was trained)."""

    pooling: Optional[str] = None
    layer: Optional[int] = None
    projection: bool = False

    def resolved(self, model, checkpoint: str) -> "SentenceOptions":
        """The options with the model's own filled in (its --ntxent-pooling and --ntxent-layer), checked against
        the model: the one place the export's sentence options are decided."""
        if self.projection and model.ntxent_head is None:
            raise UserInputError(
                f"{checkpoint} has no projection head (it was trained without NT-Xent): drop --projection"
            )
        layers = model.args.encoder_layers
        layer = model.args.ntxent_layer if self.layer is None else self.layer
        if not -layers - 1 <= layer <= layers:
            raise UserInputError(f"--layer {layer} is outside the model's layers 0..{layers}")
        return SentenceOptions(self.pooling or model.args.ntxent_pooling, layer, self.projection)


def export(
    checkpoint: str,
    data: str,
    out: str,
    force: bool = False,
    sentence: SentenceOptions = SentenceOptions(),
    input_lang: Optional[str] = None,
):
    """Write the folder (whole or not at all); returns its transformers config."""
    model, task, cfg = load(checkpoint, data=data, cpu=True)
    if not is_contrastive_xlm(model):
        raise UserInputError(f"{checkpoint} is not a contrastive_xlm checkpoint")
    sentence = sentence.resolved(model, checkpoint)
    spm_model = os.path.join(data, tokenizers.SPM_FILE)
    spm_model = spm_model if os.path.isfile(spm_model) else None
    if model.args.lm_head == "xlm":
        if model.classification_heads:
            raise UserInputError("a classifier with XLM's output layer has no exportable Hugging Face equivalent")
        config, state = hf_export.ours_to_xlm(model, hf_export.hf_vocabulary(task.source_dictionary, None))
        spm_model = None  # XLM's vocabulary is not XLM-R's SentencePiece layout
    else:
        rows = hf_export.hf_vocabulary(task.source_dictionary, spm_model)
        if model.classification_heads and model.args.pooler_activation_fn != "tanh":
            raise UserInputError("XLMRobertaForSequenceClassification's head uses tanh (--pooler-activation-fn tanh)")
        config, state = hf_export.ours_to_roberta(
            model, rows, label_names(task), input_lang, pooling=sentence.pooling, layer=sentence.layer
        )
    hf_model = hf_export.build_hf_model(config, state)
    with staged_directory(out, force) as staging:
        hf_model.save_pretrained(staging)
        embedding = None
        if spm_model:
            hf_export.write_tokenizer(spm_model, staging, model.encoder.max_positions())
            embedding = sentence_transformers.write(
                staging,
                model,
                config,
                state,
                spm_model,
                pooling=sentence.pooling,
                layer=sentence.layer,
                projection=sentence.projection,
            )
        with open(os.path.join(staging, "README.md"), "w", encoding="utf-8") as f:
            f.write(model_card(out, checkpoint, cfg, config, spm_model, embedding))
    return config


def label_names(task):
    labels = getattr(task, "label_dictionary", None)
    if labels is None:
        return None
    return labels.symbols[labels.nspecial :]


def model_card(out: str, checkpoint: str, cfg, config, spm_model, embedding=None) -> str:
    """README.md: what the model is, how to load it, which input selects the language, how it was trained."""
    kind = config.architectures[0]
    langs = getattr(config, "cxlm_langs", [])
    auto = "AutoModelForSequenceClassification" if "Classification" in kind else "AutoModelForMaskedLM"
    lines = [
        "---",
        "library_name: transformers",
        *(["tags: [sentence-transformers, feature-extraction, sentence-similarity]"] if embedding else []),
        f"language: [{', '.join(langs)}]" if langs else "language: multilingual",
        "---",
        f"# {os.path.basename(os.path.abspath(out))}",
        "",
        f"A `{kind}` exported by fairseq-contrastive-xlm (`cxlm-export-hf`) from `{checkpoint}`: "
        "cross-lingual LM pretraining continued with an NT-Xent loss over translation pairs.",
        "",
        "```python",
        f"from transformers import {auto}{', AutoTokenizer' if spm_model else ''}",
        f'model = {auto}.from_pretrained("PATH")',
    ]
    if spm_model:
        lines.append('tokenizer = AutoTokenizer.from_pretrained("PATH")')
    lines.append("```")
    if langs and kind.startswith("XLMRoberta"):
        types = getattr(config, "cxlm_token_types", langs)
        lines += [
            "",
            "Language embeddings are the token types: pass `token_type_ids` filled with the language's id "
            f"({', '.join(f'{lang}={i}' for i, lang in enumerate(types))}); without them every token is "
            f"read as {types[0]}"
            + (" (the model's input language)." if getattr(config, "cxlm_input_lang", None) else "."),
        ]
    elif langs:
        lines += [
            "",
            "Pass `langs` filled with the language's id "
            f"({', '.join(f'{lang}={i}' for i, lang in enumerate(langs))}), as for XLM.",
        ]
    if not spm_model:
        lines += [
            "",
            "No tokenizer (nor sentence-transformers modules, which need one) is included: the data directory had "
            "no SentencePiece model.",
        ]
    if embedding:
        what = f"`{embedding['pooling']}` pooling of layer {embedding['layer']} of {config.num_hidden_layers}"
        if embedding["projection"]:
            what += ", the NT-Xent projection head, L2-normalised"
        lines += [
            "",
            f"## Sentence embeddings ({what})",
            "",
            "```python",
            "from sentence_transformers import SentenceTransformer",
            'embeddings = SentenceTransformer("PATH").encode(sentences)',
            "```",
        ]
        if embedding["transformer"] != ".":
            lines += [
                "",
                f"`{embedding['transformer']}/` holds the encoder cut to layer {embedding['layer']}, where the "
                "embeddings are pooled; the folder's own model keeps every layer.",
            ]
    elif hasattr(config, "cxlm_pooling"):
        lines += [
            "",
            f"Sentence embeddings: `{config.cxlm_pooling}` pooling of layer {config.cxlm_layer} "
            "(`-1`: the last) of the hidden states.",
        ]
    training = {section: cfg.get(section) for section in ("task", "model", "criterion", "optimization", "optimizer")}
    lines += [
        "",
        "## Training configuration",
        "",
        "```yaml",
        yaml.safe_dump(json.loads(json.dumps(training, default=str)), sort_keys=False).rstrip(),
        "```",
    ]
    results = sorted(glob.glob(os.path.join(os.path.dirname(os.path.abspath(checkpoint)), "*.json")))
    if results:
        lines += ["", "## Results found beside the checkpoint"]
        for path in results:
            with open(path, encoding="utf-8") as f:
                text = f.read()
            lines += ["", f"`{os.path.basename(path)}`:", "", "```json", text[:20000].rstrip(), "```"]
    return "\n".join(lines) + "\n"
