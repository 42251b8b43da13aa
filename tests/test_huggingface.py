"""Hugging Face in and out, checked against transformers' own XLMRoberta: cxlm-export-hf (a model trained here,
with and without language embeddings; its tokenizer), cxlm-import hf (XLM-R / InfoXLM folders), and the round
trip Hugging Face -> ours -> Hugging Face."""

import functools
import os
import shutil

import pytest
import torch
from fairseq.data import Dictionary
from transformers import AutoModelForMaskedLM, AutoTokenizer

from fairseq_contrastive_xlm.checkpoints import load
from fairseq_contrastive_xlm.cli import export_hf, import_checkpoint
from fairseq_contrastive_xlm.interop.hf_layout import HF_SPM_FILE
from fairseq_contrastive_xlm.prepare.cleaning import normalise
from fairseq_contrastive_xlm.prepare.pipeline import Corpus, PrepareOptions, prepare
from fairseq_contrastive_xlm.tokenization.tokenizers import SentencePieceTokenizer, encode_line

from corpus import LANGS, SCRIPTS, train_on_scripts
from helpers import random_xlmr_folder, train_in_process

trained = train_on_scripts


@functools.lru_cache(maxsize=None)
def vocabulary(data):
    return SentencePieceTokenizer(os.path.join(data, "spm.model")), Dictionary.load(os.path.join(data, "dict.txt"))


def prepare_encoding(data, sentence):
    """cxlm-prepare's ids of a sentence: cleaned, SentencePiece pieces, the dictionary, <s> ... </s>."""
    processor, d = vocabulary(data)
    return [d.bos(), *(d.index(p) for p in encode_line(processor, normalise(sentence)).split()), d.eos()]


def batch(rows, pad=1):
    width = max(len(r) for r in rows)
    return torch.tensor([r + [pad] * (width - len(r)) for r in rows])


def pooled(hidden, mask, how):
    if how == "first":
        return hidden[:, 0]
    if how == "max":
        return hidden.masked_fill(~mask.unsqueeze(-1), float("-inf")).max(dim=1).values
    real = mask.unsqueeze(-1).float()
    return (hidden * real).sum(dim=1) / real.sum(dim=1)


def largest_differences(model, hf, tokens, lang_ids=None):
    """Hidden states and MLM logits of ours and of the exported model, over the real tokens."""
    mask = tokens.ne(1)
    with torch.no_grad():
        features, _ = model.encoder.extract_features(tokens, lang_ids=lang_ids)
        logits = model.encoder.output_layer(features)
        theirs = hf(input_ids=tokens, attention_mask=mask.long(), token_type_ids=lang_ids, output_hidden_states=True)
    return (
        (features - theirs.hidden_states[-1])[mask].abs().max().item(),
        (logits[..., : theirs.logits.size(-1)] - theirs.logits)[mask].abs().max().item(),
        theirs,
    )


def test_export_equals_ours_and_the_tokenizer_encodes_as_cxlm_prepare(scripts_data, scripts_checkpoint, tmp_path):
    data, held_out = scripts_data
    (tmp_path / "plain").mkdir()
    checkpoint = shutil.copy(scripts_checkpoint, tmp_path / "plain")  # the card reads results beside it
    (tmp_path / "plain" / "heldout.json").write_text('{"average": {"cosine": {"xx2en_acc": 12.5}}}')
    out = tmp_path / "hf"
    export_hf.main(["--checkpoint", checkpoint, "--data", data, "--out", str(out)])
    assert {"config.json", "model.safetensors", "tokenizer.json", HF_SPM_FILE, "README.md"} <= set(os.listdir(out))
    card = (out / "README.md").read_text()
    assert "heldout.json" in card and '"xx2en_acc": 12.5' in card and "ntxent_weight" in card
    hf = AutoModelForMaskedLM.from_pretrained(str(out)).eval()
    tokenizer = AutoTokenizer.from_pretrained(str(out))
    model, _, _ = load(checkpoint, data=data, cpu=True)

    disagreements = {}
    for lang, sentences in held_out.items():
        ours = [prepare_encoding(data, s) for s in sentences]
        theirs = [tokenizer(s)["input_ids"] for s in sentences]
        disagreements[lang] = sum(a != b for a, b in zip(ours, theirs))
    assert disagreements == {lang: 0 for lang in SCRIPTS}
    # truncation=True cuts at the model's usable positions (transformers' default would be 1e30: no cut at all)
    positions = model.encoder.max_positions()
    assert tokenizer.model_max_length == positions
    assert len(tokenizer(" ".join(held_out["ru"]), truncation=True)["input_ids"]) == positions

    rows = [prepare_encoding(data, s) for lang in SCRIPTS for s in held_out[lang][:4]]
    tokens = batch(rows)
    hidden, logits, theirs = largest_differences(model, hf, tokens)
    assert hidden < 1e-5 and logits < 1e-5, (hidden, logits)
    mask = tokens.ne(1)
    for how in ("first", "max", "mean"):  # the sentence embeddings, reproduced from the exported hidden states
        for layer in (-1, 1):
            with torch.no_grad():
                ours_embedding = model.sentence_embedding(tokens, pooling=how, layer=layer)
            theirs_embedding = pooled(theirs.hidden_states[layer], mask, how)
            torch.testing.assert_close(ours_embedding, theirs_embedding, rtol=1e-5, atol=1e-5)


def test_export_with_language_embeddings_uses_token_types(scripts_data, tmp_path):
    """Also a model pooled by max at layer 1: cxlm-import hf reads back the pooling and layer the export records."""
    data, held_out = scripts_data
    pooling = ("--ntxent-pooling", "max", "--ntxent-layer", "1")
    checkpoint = trained(data, tmp_path / "langs", "--use-lang-embeddings", *pooling)
    out = tmp_path / "hf"
    export_hf.main(["--checkpoint", checkpoint, "--data", data, "--out", str(out)])
    hf = AutoModelForMaskedLM.from_pretrained(str(out)).eval()
    model, _, _ = load(checkpoint, data=data, cpu=True)
    assert hf.config.type_vocab_size == len(LANGS.split(",")) and hf.config.cxlm_langs == LANGS.split(",")
    assert model.encoder.sentence_encoder.embed_langs.weight.abs().max() > 0  # trained away from their zero start
    rows = [prepare_encoding(data, s) for s in held_out["ru"][:3] + held_out["zh"][:3]]
    tokens = batch(rows)
    lang_ids = torch.tensor([[LANGS.split(",").index("ru")]] * 3 + [[LANGS.split(",").index("zh")]] * 3)
    hidden, logits, _ = largest_differences(model, hf, tokens, lang_ids.expand_as(tokens).contiguous())
    assert hidden < 1e-5 and logits < 1e-5, (hidden, logits)
    assert "token_type_ids" in (out / "README.md").read_text()
    import_checkpoint.main(["hf", str(out), "--out", str(tmp_path / "back")])
    back, _, _ = load(str(tmp_path / "back" / "model.pt"), data=str(tmp_path / "back"), cpu=True)
    assert (back.args.ntxent_pooling, back.args.ntxent_layer) == ("max", 1)


def test_an_untied_lm_head_exports_untied_and_comes_back(scripts_data, tmp_path):
    data, held_out = scripts_data
    checkpoint = trained(data, tmp_path / "untied", "--untie-weights-roberta")
    out = tmp_path / "hf"
    export_hf.main(["--checkpoint", checkpoint, "--data", data, "--out", str(out)])
    hf = AutoModelForMaskedLM.from_pretrained(str(out)).eval()
    model, _, _ = load(checkpoint, data=data, cpu=True)
    assert hf.config.tie_word_embeddings is False
    assert not torch.equal(hf.lm_head.decoder.weight, hf.roberta.embeddings.word_embeddings.weight)
    hidden, logits, _ = largest_differences(model, hf, batch([prepare_encoding(data, s) for s in held_out["zh"][:4]]))
    assert hidden < 1e-5 and logits < 1e-5, (hidden, logits)
    import_checkpoint.main(["hf", str(out), "--out", str(tmp_path / "back")])
    back, _, _ = load(str(tmp_path / "back" / "model.pt"), data=str(tmp_path / "back"), cpu=True)
    assert back.args.untie_weights_roberta
    torch.testing.assert_close(back.encoder.lm_head.weight, model.encoder.lm_head.weight)


def test_a_folder_without_an_mlm_head_imports_with_one_warning(scripts_data, tmp_path, caplog):
    """XLMRobertaModel (no lm_head.*): the head is initialised fresh, and the log says which parts."""
    from transformers import XLMRobertaModel

    data, _ = scripts_data
    full = random_xlmr_folder(tmp_path / "full", os.path.join(data, "spm.model"), torch.zeros_like)
    XLMRobertaModel(full.config).save_pretrained(str(tmp_path / "bare"))
    shutil.copy(os.path.join(data, "spm.model"), tmp_path / "bare" / HF_SPM_FILE)
    with caplog.at_level("WARNING"):
        import_checkpoint.main(["hf", str(tmp_path / "bare"), "--out", str(tmp_path / "ours")])
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING" and "MLM head" in r.getMessage()]
    assert len(warnings) == 1 and "lm_head.dense" in warnings[0] and "initialised fresh" in warnings[0]
    assert (tmp_path / "ours" / "model.pt").is_file()


def test_import_of_an_xlmr_folder_equals_transformers(scripts_data, tmp_path):
    """Non-zero token types too: they are folded into the positions."""
    data, held_out = scripts_data
    hf = random_xlmr_folder(tmp_path / "xlmr", os.path.join(data, "spm.model"), lambda p: torch.randn_like(p))
    import_checkpoint.main(["hf", str(tmp_path / "xlmr"), "--out", str(tmp_path / "ours")])
    model, task, _ = load(str(tmp_path / "ours" / "model.pt"), data=str(tmp_path / "ours"), cpu=True)
    assert len(task.source_dictionary) == hf.config.vocab_size
    tokens = batch([prepare_encoding(data, s) for s in held_out["el"][:3] + held_out["hi"][:3]])
    hidden, logits, _ = largest_differences(model, hf, tokens)
    assert hidden < 1e-5 and logits < 1e-5, (hidden, logits)


def test_hugging_face_to_ours_to_hugging_face_gives_back_the_same_tensors(scripts_data, tmp_path):
    data, _ = scripts_data
    hf = random_xlmr_folder(tmp_path / "xlmr", os.path.join(data, "spm.model"), torch.zeros_like)  # as XLM-R's
    import_checkpoint.main(["hf", str(tmp_path / "xlmr"), "--out", str(tmp_path / "ours")])
    export_hf.main(
        [
            "--checkpoint",
            str(tmp_path / "ours" / "model.pt"),
            "--data",
            str(tmp_path / "ours"),
            "--out",
            str(tmp_path / "back"),
        ]
    )
    back = AutoModelForMaskedLM.from_pretrained(str(tmp_path / "back"))
    original, returned = hf.state_dict(), back.state_dict()
    assert set(original) == set(returned)
    for name, tensor in original.items():
        assert torch.equal(tensor, returned[name]), name


def test_bad_input_is_one_line(scripts_data, tmp_path, capsys):
    with pytest.raises(SystemExit):
        import_checkpoint.main(["hf", str(tmp_path), "--out", str(tmp_path / "ours")])
    assert "config.json is missing" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        export_hf.main(
            ["--checkpoint", str(tmp_path / "none.pt"), "--data", scripts_data[0], "--out", str(tmp_path / "x")]
        )
    assert "does not exist" in capsys.readouterr().err
    assert not (tmp_path / "x").exists() and not (tmp_path / "ours").exists()


def test_an_imported_xlmr_is_prepared_for_and_continued_by_fairseq_train(scripts_data, tmp_path):
    """cxlm-prepare --spm-model DIR/spm.model --dict DIR/dict.txt, then fairseq-train --restore-file DIR/model.pt."""
    data, _ = scripts_data
    random_xlmr_folder(tmp_path / "xlmr", os.path.join(data, "spm.model"), torch.zeros_like)
    imported = tmp_path / "ours"
    import_checkpoint.main(["hf", str(tmp_path / "xlmr"), "--out", str(imported)])
    raw = os.path.dirname(data)
    corpus = Corpus(("en", "ru"), (os.path.join(raw, "en-ru.en"), os.path.join(raw, "en-ru.ru")))
    options = PrepareOptions(
        spm_model=str(imported / "spm.model"), dict=str(imported / "dict.txt"), valid_size=0, test_size=0, workers=2
    )
    prepare([corpus], str(tmp_path / "data"), options)
    output = train_in_process(
        tmp_path / "data",
        tmp_path / "continued",
        "--tlm-pairs",
        "en-ru",
        "--encoder-layers",
        "2",
        "--encoder-embed-dim",
        "32",
        "--encoder-ffn-embed-dim",
        "64",
        "--encoder-attention-heads",
        "4",
        "--max-positions",
        "64",
        "--tokens-per-sample",
        "64",
        "--restore-file",
        str(imported / "model.pt"),
        "--reset-optimizer",
        "--reset-dataloader",
        "--reset-meters",
        "--reset-lr-scheduler",
        "--batch-size",
        "8",
        "--max-update",
        "2",
        "--disable-validation",
        "--no-epoch-checkpoints",
    )
    assert f"Loaded checkpoint {imported / 'model.pt'}" in output
    assert os.path.isfile(tmp_path / "continued" / "checkpoint_last.pt")
