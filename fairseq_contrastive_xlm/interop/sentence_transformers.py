"""The sentence-transformers side of cxlm-export-hf: the modules around the exported transformers model, so that
`SentenceTransformer(folder).encode(sentences)` gives our sentence embeddings: the model's pooling (first token ->
CLS, mean, max) of the layer it was trained at, and with --projection the NT-Xent head, then L2 normalisation.

sentence-transformers takes the last hidden state of the model it loads. A model pooled at a middle layer gets
that encoder cut to that layer in TRANSFORMER_DIR (the folder's own model keeps every layer, for MLM)."""

import json
import os

import torch

from ..optional import require
from .hf_export import build_hf_model, write_tokenizer

TRANSFORMER_DIR = "0_Transformer"  # the cut encoder of a model pooled at a middle layer
ST_POOLING = {"first": "cls", "mean": "mean", "max": "max"}  # ours -> sentence-transformers' pooling_mode


def embedding_layer(model, layer: int) -> int:
    """The layer sentence embeddings are pooled from, counted 0 (embeddings) .. L (the last)."""
    layers = model.args.encoder_layers
    return layer if layer >= 0 else layers + 1 + layer


def write(
    folder: str,
    model,
    config,
    state: dict,
    spm_model: str,
    *,
    pooling: str,
    layer: int,
    projection: bool,
):
    """Add modules.json and the module folders to `folder`, which holds the exported transformers model (config,
    state: what ours_to_roberta gave) and its tokenizer; pooling, layer and projection as export.SentenceOptions
    resolved them."""
    transformers = require("transformers")
    st_version = require("sentence_transformers").__version__
    st = require("sentence_transformers.sentence_transformer.modules")

    cut = embedding_layer(model, layer)
    max_length = model.encoder.max_positions()
    modules = []  # (path, module) in order
    transformer_path = ""
    if cut < config.num_hidden_layers:
        transformer_path = TRANSFORMER_DIR
        write_cut_encoder(os.path.join(folder, TRANSFORMER_DIR), config, state, cut, spm_model, max_length)
    with open(os.path.join(folder, transformer_path, "sentence_bert_config.json"), "w", encoding="utf-8") as f:
        # No pooler: ours has none (sentence-transformers pools itself), and a built one would be reported as
        # "newly initialized" at every load.
        settings = {"max_seq_length": max_length, "do_lower_case": False, "model_kwargs": {"add_pooling_layer": False}}
        json.dump(settings, f, indent=2)
    modules.append((transformer_path, st.Transformer))
    dim = config.hidden_size
    modules.append(("1_Pooling", st.Pooling(dim, pooling_mode=ST_POOLING[pooling])))
    if projection:
        head = model.ntxent_head
        for linear, activation in ((head.dense, torch.nn.ReLU()), (head.out_proj, torch.nn.Identity())):
            if linear is None:  # a linear head: one Dense
                continue
            dense = st.Dense(linear.in_features, linear.out_features, activation_function=activation)
            dense.linear.load_state_dict(linear.state_dict())
            modules.append((f"{len(modules)}_Dense", dense))
        modules.append((f"{len(modules)}_Normalize", st.Normalize()))
    entries = []
    for idx, (path, module) in enumerate(modules):
        kind = module if isinstance(module, type) else type(module)
        if not isinstance(module, type):
            os.makedirs(os.path.join(folder, path))
            module.save(os.path.join(folder, path))
        entries.append({"idx": idx, "name": str(idx), "path": path, "type": f"{kind.__module__}.{kind.__name__}"})
    with open(os.path.join(folder, "modules.json"), "w", encoding="utf-8") as f:
        json.dump(entries, f, indent=2)
    versions = {"sentence_transformers": st_version, "transformers": transformers.__version__}
    versions["pytorch"] = torch.__version__
    settings = {
        "__version__": versions,
        "model_type": "SentenceTransformer",
        "prompts": {},
        "default_prompt_name": None,
        "similarity_fn_name": "cosine",
    }
    with open(os.path.join(folder, "config_sentence_transformers.json"), "w", encoding="utf-8") as f:
        json.dump(settings, f, indent=2)
    return {"pooling": pooling, "layer": cut, "projection": projection, "transformer": transformer_path or "."}


def write_cut_encoder(out: str, config, state: dict, layers: int, spm_model: str, max_length: int):
    """An XLMRobertaModel of the export's first `layers` layers (its last hidden state is our layer `layers`)."""
    XLMRobertaConfig = require("transformers").XLMRobertaConfig

    cut = XLMRobertaConfig.from_dict({**config.to_dict(), "num_hidden_layers": layers})
    cut.architectures = ["XLMRobertaModel"]
    kept = {}
    for name, tensor in state.items():
        if not name.startswith("roberta."):
            continue  # the MLM or classification head
        name = name[len("roberta.") :]
        if name.startswith("encoder.layer.") and int(name.split(".")[2]) >= layers:
            continue
        kept[name] = tensor
    os.makedirs(out)
    build_hf_model(cut, kept, add_pooling_layer=False).save_pretrained(out)
    write_tokenizer(spm_model, out, max_length)
