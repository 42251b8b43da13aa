"""sentence-transformers loads every cxlm-export-hf folder as it is: SentenceTransformer(folder).encode(sentences)
equals cxlm-embed on the same sentences (first, mean and max pooling, a middle layer, the projection head), and
the folder holds the files sentence-transformers' own save writes."""

import json
import os

import numpy as np
import pytest
from sentence_transformers import SentenceTransformer

from fairseq_contrastive_xlm.cli import embed, export_hf, mine, retrieval
from fairseq_contrastive_xlm.interop import hf_import
from fairseq_contrastive_xlm.interop.sentence_transformers import TRANSFORMER_DIR

from corpus import SCRIPTS, train_on_scripts


@pytest.fixture(scope="module")
def checkpoints(scripts_data, scripts_checkpoint, tmp_path_factory):
    """Two 2-layer models: mean pooling with the MLP head; and language embeddings, input language ru, max pooling
    at layer 1 with a linear head."""
    data, _ = scripts_data
    root = tmp_path_factory.mktemp("st")
    plain = scripts_checkpoint
    langs = train_on_scripts(
        data,
        root / "langs",
        "--use-lang-embeddings",
        "--input-lang",
        "ru",
        *("--ntxent-pooling", "max", "--ntxent-layer", "1", "--ntxent-head", "linear"),
    )
    return {"plain": plain, "langs": langs}


def sentences_of(held_out):
    """Sentences of every script, and one longer than the model's positions (both sides truncate it)."""
    sentences = [s for lang in SCRIPTS for s in held_out[lang][:5]]
    return sentences + [" ".join(held_out["ru"])]


def cxlm_embed(checkpoint, data, sentences, tmp_path, *options):
    text = tmp_path / "sentences.txt"
    text.write_text("".join(s + "\n" for s in sentences), encoding="utf-8")
    out = tmp_path / "ours.npy"
    embed.main(
        ["--checkpoint", checkpoint, "--data", data, "--input", str(text), "--out", str(out), "--dtype", "float32"]
        + list(options)
    )
    return np.load(out)


CASES = [
    ("plain", [], ""),  # the model's own: mean pooling of the last layer
    ("plain", ["--pooling", "first"], ""),
    ("plain", ["--pooling", "max", "--layer", "1"], TRANSFORMER_DIR),
    ("plain", ["--projection"], ""),
    ("plain", ["--pooling", "first", "--layer", "0", "--projection"], TRANSFORMER_DIR),
    ("langs", ["--projection"], TRANSFORMER_DIR),  # trained at layer 1, max; embedded as its input language ru
]


@pytest.mark.parametrize("model, options, transformer", CASES, ids=[" ".join([m, *o]) for m, o, _ in CASES])
def test_sentence_transformers_encodes_as_cxlm_embed(checkpoints, scripts_data, tmp_path, model, options, transformer):
    data, held_out = scripts_data
    checkpoint = checkpoints[model]
    out = tmp_path / "export"
    export_hf.main(["--checkpoint", checkpoint, "--data", data, "--out", str(out), *options])
    modules = json.loads((out / "modules.json").read_text())
    assert modules[0]["path"] == transformer and modules[1]["path"] == "1_Pooling"
    last = modules[-1]["type"].rsplit(".", 1)[1]
    assert last == ("Normalize" if "--projection" in options else "Pooling")
    settings = json.loads((out / transformer / "sentence_bert_config.json").read_text())
    assert settings["max_seq_length"] == 128  # train_argv's --max-positions: what truncation keeps
    assert "SentenceTransformer" in (out / "README.md").read_text()

    sentences = sentences_of(held_out)
    ours = cxlm_embed(checkpoint, data, sentences, tmp_path, *options)
    if "--projection" in options:  # the NT-Xent loss compares unit vectors; the export ends with Normalize
        ours = ours / np.linalg.norm(ours, axis=1, keepdims=True)
    theirs = SentenceTransformer(str(out), device="cpu").encode(sentences, batch_size=7, convert_to_numpy=True)
    assert theirs.shape == ours.shape
    difference = np.abs(theirs - ours).max()
    print(f"largest difference, {model} {' '.join(options)}: {difference:.1e}")  # for the closing note (-s)
    assert difference < 1e-5, difference
    # Not trivially equal: the pooling and the layer change the embeddings this much.
    assert np.abs(ours).max() > 1e-2


def test_the_folder_records_the_pooling_its_modules_do_and_the_import_reads_it(checkpoints, scripts_data, tmp_path):
    """One recorded pooling: exported with --pooling and --layer, the folder's config says what its 1_Pooling does
    (not the pooling the model was trained with), and cxlm-import hf takes that back."""
    data, _ = scripts_data
    out = tmp_path / "export"
    argv = ["--checkpoint", checkpoints["plain"], "--data", data, "--out", str(out), "--pooling", "max", "--layer", "1"]
    export_hf.main(argv)
    config = json.loads((out / "config.json").read_text())
    pooling = json.loads((out / "1_Pooling" / "config.json").read_text())
    assert (config["cxlm_pooling"], config["cxlm_layer"]) == ("max", 1)  # trained: mean of the last layer
    assert pooling["pooling_mode"] == "max"
    _, options = hf_import.hf_to_ours(*hf_import.read_folder(str(out)), str(out))
    assert (options["ntxent_pooling"], options["ntxent_layer"]) == ("max", 1)


def test_a_middle_layer_export_keeps_every_layer_for_mlm(checkpoints, scripts_data, tmp_path):
    from transformers import AutoConfig

    data, _ = scripts_data
    out = tmp_path / "export"
    export_hf.main(["--checkpoint", checkpoints["langs"], "--data", data, "--out", str(out)])
    assert AutoConfig.from_pretrained(str(out)).num_hidden_layers == 2
    assert AutoConfig.from_pretrained(str(out / TRANSFORMER_DIR)).num_hidden_layers == 1
    assert os.path.isfile(out / TRANSFORMER_DIR / "tokenizer.json")
    pooling = json.loads((out / "1_Pooling" / "config.json").read_text())
    assert pooling["pooling_mode"] == "max"
    # The input language swapped into token type 0 comes back to its place, and stays the input language.
    import torch

    from fairseq_contrastive_xlm.checkpoints import load
    from fairseq_contrastive_xlm.cli import import_checkpoint

    assert AutoConfig.from_pretrained(str(out)).cxlm_token_types[0] == "ru"
    import_checkpoint.main(["hf", str(out), "--out", str(tmp_path / "back")])
    back, _, _ = load(str(tmp_path / "back" / "model.pt"), data=str(tmp_path / "back"), cpu=True)
    model, _, _ = load(checkpoints["langs"], data=data, cpu=True)
    assert back.args.input_lang == "ru" and back.langs == model.langs
    langs = "encoder.sentence_encoder.embed_langs.weight"
    assert torch.equal(back.state_dict()[langs], model.state_dict()[langs])


def test_st_model_takes_a_row_beside_the_checkpoint(checkpoints, scripts_data, tmp_path, capsys):
    """--st-model in cxlm-embed, cxlm-retrieval and cxlm-mine, with the folder our export wrote: the same
    embeddings, accuracies and mined pairs as the checkpoint it came from."""
    from corpus import usable_pairs

    data, held_out = scripts_data
    model = ["--checkpoint", checkpoints["plain"], "--data", data]
    folder = tmp_path / "export"
    export_hf.main([*model, "--out", str(folder)])
    st = ["--st-model", str(folder)]

    text = tmp_path / "ru.txt"
    text.write_text("".join(s + "\n" for s in held_out["ru"]), encoding="utf-8")
    for name, source in (("ours", model), ("theirs", st)):
        embed.main([*source, "--input", str(text), "--out", str(tmp_path / f"{name}.npy"), "--dtype", "float32"])
    difference = np.abs(np.load(tmp_path / "ours.npy") - np.load(tmp_path / "theirs.npy")).max()
    assert difference < 1e-5, difference

    pairs = tmp_path / "pairs"
    pairs.mkdir()
    for lang in ("ru", "de"):
        held = usable_pairs(lang, 700)[600:]
        (pairs / f"en-{lang}.en").write_text("".join(p[0] + "\n" for p in held), encoding="utf-8")
        (pairs / f"en-{lang}.{lang}").write_text("".join(p[1] + "\n" for p in held), encoding="utf-8")
    reports = {}
    for name, source in (("ours", model), ("theirs", st)):
        retrieval.main([*source, "--pairs", str(pairs), "--json", str(tmp_path / f"r_{name}.json")])
        mine.main([*source, "--pairs", str(pairs), "--hidden", "30", "--json", str(tmp_path / f"m_{name}.json")])
        reports[name] = [json.loads((tmp_path / f"{kind}_{name}.json").read_text()) for kind in ("r", "m")]
    (retrieval_ours, mining_ours), (retrieval_theirs, mining_theirs) = reports["ours"], reports["theirs"]
    assert retrieval_theirs["st_model"] == str(folder) and retrieval_ours["pooling"] == "mean"
    assert retrieval_theirs["results"] == retrieval_ours["results"]
    assert mining_theirs["results"] == mining_ours["results"]
    with pytest.raises(SystemExit) as refused:
        retrieval.main([*st, "--pooling", "max", "--pairs", str(pairs)])
    assert refused.value.code == 2 and "embeds as it was saved" in capsys.readouterr().err
