"""cxlm-import xlm against Hugging Face's XLM (transformers' XLMWithLMHeadModel), which no one here wrote: the
same random weights in XLM's checkpoint layout and as transformers' model must give the same hidden states and
MLM logits, on an MLM row and on a TLM row."""

import datetime
import json
import os

import numpy as np
import pytest
import torch
from transformers import XLMConfig, XLMWithLMHeadModel

from fairseq_contrastive_xlm.checkpoints import load
from fairseq_contrastive_xlm.cli import import_checkpoint
from fairseq_contrastive_xlm.interop.xlm import XLM_SPECIALS, vocabulary_order

LANGS = ("de", "en", "fr")
N_WORDS = 60


def xlm_checkpoint(path, extra=None):
    """Random small weights as transformers' XLMWithLMHeadModel and, the same, in XLM's .pth layout (with numpy
    values in params, as the released files have)."""
    torch.manual_seed(0)
    config = XLMConfig(
        vocab_size=N_WORDS,
        emb_dim=32,
        n_layers=2,
        n_heads=4,
        dropout=0.0,
        attention_dropout=0.0,
        n_langs=3,
        use_lang_emb=True,
        gelu_activation=True,
        max_position_embeddings=40,
        layer_norm_eps=1e-12,
        sinusoidal_embeddings=False,
        causal=False,
        asm=False,
        bos_index=0,
        eos_index=1,
        pad_index=2,
        unk_index=3,
        mask_index=5,
        is_encoder=True,
    )
    hf = XLMWithLMHeadModel(config).eval()
    with torch.no_grad():
        for name, parameter in hf.named_parameters():
            if "embeddings" not in name or "layer_norm" in name:  # LayerNorms and biases away from 1 and 0 too
                parameter.normal_(0, 0.5)
    params = {name: value for name, value in hf.state_dict().items() if name in dict(hf.named_parameters())}
    model = {name.removeprefix("transformer."): value.clone() for name, value in params.items()}
    model["pred_layer.proj.weight"] = model["embeddings.weight"]
    id2word = {0: "<s>", 1: "</s>", 2: "<pad>", 3: "<unk>", **{4 + i: f"<special{i}>" for i in range(10)}}
    id2word.update({i: f"w{i}@@" if i % 3 else f"w{i}" for i in range(XLM_SPECIALS, N_WORDS)})
    checkpoint = {
        "model": model,
        "dico_id2word": id2word,
        "dico_word2id": {w: i for i, w in id2word.items()},
        "dico_counts": {w: 1000 - i for i, w in id2word.items()},
        "params": {
            "emb_dim": 32,
            "n_layers": 2,
            "n_heads": 4,
            "n_langs": 3,
            "id2lang": dict(enumerate(LANGS)),
            "lang2id": {lang: i for i, lang in enumerate(LANGS)},
            "use_lang_emb": True,
            "gelu_activation": True,
            "dropout": 0.0,
            "attention_dropout": 0.0,
            "share_inout_emb": True,
            "sinusoidal_embeddings": False,
            "asm": False,
            "lambda_mlm": np.array([1.0, 0.5]),
            "word_pred": np.float64(0.15),
            **(extra or {}),
        },
    }
    torch.save(checkpoint, path)
    return hf


@pytest.fixture(scope="module")
def imported(tmp_path_factory):
    root = tmp_path_factory.mktemp("xlm")
    hf = xlm_checkpoint(str(root / "xlm.pth"))
    import_checkpoint.main(["xlm", str(root / "xlm.pth"), "--out", str(root / "ours")])
    model, task, _ = load(str(root / "ours" / "model.pt"), data=str(root / "ours"), cpu=True)
    return hf, model, task, root / "ours"


def to_fairseq(xlm_ids):
    """XLM ids -> ours: the first </s> is our <s>, later ones </s>, word k is 4 + (k - 14), padding 1."""
    out = []
    for position, i in enumerate(xlm_ids):
        if i == 1:
            out.append(0 if position == 0 else 2)
        elif i == 2:
            out.append(1)
        else:
            out.append(4 + i - XLM_SPECIALS)
    return out


def compare(hf, model, xlm_rows, langs, positions):
    """Largest differences of hidden states and MLM logits over the real tokens of the rows."""
    x = torch.tensor(xlm_rows)
    ours = torch.tensor([to_fairseq(row) for row in xlm_rows])
    langs, positions = torch.tensor(langs), torch.tensor(positions)
    with torch.no_grad():
        reference = hf(input_ids=x, langs=langs, position_ids=positions, output_hidden_states=True)
        features, _ = model.encoder.extract_features(ours, positions=positions, lang_ids=langs)
        logits = model.encoder.output_layer(features)
    real = x.ne(2)
    order = torch.tensor(vocabulary_order(N_WORDS))
    hidden_diff = (features - reference.hidden_states[-1])[real].abs().max().item()
    logits_diff = (logits - reference.logits[..., order])[real].abs().max().item()
    return hidden_diff, logits_diff


def test_mlm_rows_equal_transformers(imported):
    hf, model, _, _ = imported
    rows = [[1, 20, 31, 42, 17, 1], [1, 55, 14, 1, 2, 2]]  # </s> words </s>, the second padded
    hidden, logits = compare(hf, model, rows, [[1] * 6, [0] * 6], [list(range(6))] * 2)
    assert hidden < 1e-5 and logits < 1e-5, (hidden, logits)


def test_tlm_row_equals_transformers(imported):
    """Two languages, positions restarting at the second sentence."""
    hf, model, _, _ = imported
    row = [1, 20, 31, 42, 1, 1, 50, 33, 1]  # </s> en </s> </s> fr </s>
    hidden, logits = compare(hf, model, [row], [[1] * 5 + [2] * 4], [[0, 1, 2, 3, 4, 0, 1, 2, 3]])
    assert hidden < 1e-5 and logits < 1e-5, (hidden, logits)


def test_the_folder_holds_the_dictionary_params_and_an_xlm_shaped_model(imported):
    _, model, task, out = imported
    words = (out / "dict.txt").read_text().splitlines()
    assert len(words) == N_WORDS - XLM_SPECIALS and words[0] == "w14@@ 986" and words[1] == "w15 985"
    assert len(task.source_dictionary) == 4 + len(words) + 1  # fairseq's specials, the words, <mask>
    params = json.loads((out / "params.json").read_text())
    assert params["lambda_mlm"] == [1.0, 0.5] and params["n_layers"] == 2
    assert model.langs == list(LANGS) and model.args.lm_head == "xlm" and model.args.layernorm_eps == 1e-12
    assert model.encoder.sentence_encoder.layernorm_embedding.eps == 1e-12


def test_another_global_is_refused_with_one_line(tmp_path, capsys):
    xlm_checkpoint(str(tmp_path / "bad.pth"), extra={"date": datetime.date(2019, 1, 1)})
    with pytest.raises(SystemExit):
        import_checkpoint.main(["xlm", str(tmp_path / "bad.pth"), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert "refused to load checkpoint" in err and "datetime.date" in err and "numpy arrays and scalars" in err
    assert not os.path.exists(tmp_path / "out")


def test_an_imported_xlm_exports_as_transformers_xlm(imported, tmp_path):
    """XLM's output layer and language embeddings go out as XLMWithLMHeadModel (our vocabulary order)."""
    from transformers import AutoModelForMaskedLM

    from fairseq_contrastive_xlm.cli import export_hf

    _, model, _, out = imported
    export_hf.main(["--checkpoint", str(out / "model.pt"), "--data", str(out), "--out", str(tmp_path / "hf")])
    hf = AutoModelForMaskedLM.from_pretrained(str(tmp_path / "hf")).eval()
    assert type(hf).__name__ == "XLMWithLMHeadModel" and hf.config.lang2id == {lang: i for i, lang in enumerate(LANGS)}
    tokens = torch.tensor([to_fairseq([1, 20, 31, 42, 1, 1, 50, 33, 1])])
    langs, positions = torch.tensor([[1] * 5 + [2] * 4]), torch.tensor([[0, 1, 2, 3, 4, 0, 1, 2, 3]])
    with torch.no_grad():
        features, _ = model.encoder.extract_features(tokens, positions=positions, lang_ids=langs)
        logits = model.encoder.output_layer(features)
        theirs = hf(input_ids=tokens, langs=langs, position_ids=positions, output_hidden_states=True)
    assert (features - theirs.hidden_states[-1]).abs().max() < 1e-5
    assert (logits - theirs.logits).abs().max() < 1e-5
