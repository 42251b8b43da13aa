"""XNLI: the three official formats, cxlm-xnli-prepare, a short sentence_prediction fine-tune, cxlm-xnli-eval,
the grid helper and the attention view."""

import json
import os
import re

import matplotlib.image
import numpy as np
import pytest
import torch

from fairseq_contrastive_xlm.cli import attention, xnli_eval, xnli_grid, xnli_prepare
from fairseq_contrastive_xlm.errors import UserInputError
from fairseq_contrastive_xlm.languages import XNLI_LANGUAGES
from fairseq_contrastive_xlm.xnli import finetune
from fairseq_contrastive_xlm.xnli.evaluate import select_best
from fairseq_contrastive_xlm.xnli.formats import MULTINLI_JSONL, XNLI_MT_TSV, XNLI_TSV, by_language, read

from helpers import USER_DIR, fairseq_train_in_process, logged_train_metrics, run_tool, train_in_process
from xnli_fixtures import write_multinli_jsonl, write_xnli_dir, write_xnli_mt_train


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("nli")
    return {
        "xnli": write_xnli_dir(root / "XNLI-1.0"),
        "mt": write_xnli_mt_train(root / "multinli.train.en.tsv", 300),
        "jsonl": write_multinli_jsonl(root / "multinli_1.0_train.jsonl", 60, without_gold=4),
        "root": root,
    }


def test_readers_map_every_format_to_one_label_order(files):
    mt = read(str(files["mt"]))
    assert mt.format == XNLI_MT_TSV and len(mt.examples) == 300
    assert [e.label for e in mt.examples[:3]] == [0, 1, 2]  # 'contradictory' is read as contradiction
    with open(files["mt"]) as f:
        assert "contradictory" in f.read()
    jsonl = read(str(files["jsonl"]))
    assert jsonl.format == MULTINLI_JSONL and jsonl.dropped_no_gold_label == 4 and len(jsonl.examples) == 56
    dev = read(str(files["xnli"] / "xnli.dev.tsv"))
    assert dev.format == XNLI_TSV
    groups = by_language(dev, "xnli.dev.tsv", XNLI_LANGUAGES)
    assert all(len(groups[lang]) == 24 for lang in XNLI_LANGUAGES)


def test_bad_files(files, tmp_path):
    other = tmp_path / "other.tsv"
    other.write_text("a\tb\tc\n1\t2\t3\n")
    with pytest.raises(UserInputError, match="none of the known formats"):
        read(str(other))
    bad_label = tmp_path / "bad.tsv"
    bad_label.write_text("premise\thypo\tlabel\nA.\tB.\tentailment\nC.\tD.\tmaybe\n")
    with pytest.raises(
        UserInputError, match=r"bad\.tsv, line 3: label 'maybe' is not one of entailment, neutral, contradiction"
    ):
        read(str(bad_label))
    dev = read(str(files["xnli"] / "xnli.dev.tsv"))
    with pytest.raises(UserInputError, match="has no examples for xx"):
        by_language(dev, "xnli.dev.tsv", ("en", "xx"))


@pytest.fixture(scope="module")
def xnli_bin(files, data_dir, tmp_path_factory):
    out = str(tmp_path_factory.mktemp("xnli") / "bin")
    xnli_prepare.main(
        [
            "--train",
            str(files["mt"]),
            "--xnli-dir",
            str(files["xnli"]),
            "--data",
            data_dir,
            "--out",
            out,
            "--max-positions",
            "128",
            "--truncate",
        ]
    )
    return out


def test_prepare_writes_what_sentence_prediction_reads(xnli_bin):
    for key in ("input0", "input1", "label"):
        names = set(os.listdir(os.path.join(xnli_bin, key)))
        expected = {"train", "valid", *(f"{s}_{lang}" for s in ("dev", "test") for lang in XNLI_LANGUAGES)}
        assert names == {f"{n}.{ext}" for n in expected for ext in ("bin", "idx")} | {"dict.txt"}
    with open(os.path.join(xnli_bin, "label", "dict.txt")) as f:
        assert [line.split()[0] for line in f] == ["entailment", "neutral", "contradiction"]
    with open(os.path.join(xnli_bin, "xnli.json")) as f:
        summary = json.load(f)
    assert summary["examples"]["train"] == 300 and summary["examples"]["dev_sw"] == 24


def test_over_long_examples_fail_clearly_unless_truncated(files, data_dir, tmp_path, capsys):
    argv = ["--train", str(files["mt"]), "--xnli-dir", str(files["xnli"]), "--data", data_dir, "--max-positions", "12"]
    with pytest.raises(SystemExit):
        xnli_prepare.main([*argv, "--out", str(tmp_path / "a")])
    assert "more than --max-positions 12; pass --truncate" in capsys.readouterr().err
    assert not (tmp_path / "a").exists()
    xnli_prepare.main([*argv, "--truncate", "--out", str(tmp_path / "b")])
    with open(tmp_path / "b" / "xnli.json") as f:
        assert json.load(f)["truncated"] > 0


@pytest.fixture(scope="module")
def pretrained(data_dir, tmp_path_factory):
    save = str(tmp_path_factory.mktemp("pretrained"))
    train_in_process(
        data_dir,
        save,
        "--tlm-pairs",
        "en-de",
        "--use-lang-embeddings",
        "--batch-size",
        "16",
        "--max-update",
        "20",
        "--no-epoch-checkpoints",
        "--disable-validation",
    )
    checkpoint = os.path.join(save, "checkpoint_last.pt")
    metrics = logged_train_metrics(checkpoint)
    assert metrics["tlm_loss"] > 0 and 0 <= metrics["ntxent_acc"] <= 100, metrics  # TLM and NT-Xent both trained
    return checkpoint


def test_model_options_come_from_the_checkpoint(pretrained):
    options = finetune.model_options(pretrained)
    for option, value in (("--encoder-layers", "2"), ("--encoder-embed-dim", "64"), ("--max-positions", "128")):
        assert options[options.index(option) + 1] == value
    assert "--use-lang-embeddings" in options and options[options.index("--input-lang") + 1] == "en"


@pytest.fixture(scope="module")
def finetuned(xnli_bin, pretrained, tmp_path_factory):
    save = str(tmp_path_factory.mktemp("finetuned"))
    argv = finetune.command(
        xnli_bin,
        pretrained,
        save,
        lr=1e-4,
        optimizer="adam",
        batch_size=32,
        max_epoch=2,
        extra=["--cpu", "--num-workers", "0"],
    )
    assert argv[0] == "fairseq-train"
    fairseq_train_in_process(*argv[1:])
    return save


def test_eval_of_a_checkpoint_directory(finetuned, xnli_bin, tmp_path, capsys):
    out = tmp_path / "results"
    xnli_eval.main(["--checkpoint", finetuned, "--data", xnli_bin, "--out", str(out)])
    printed = capsys.readouterr().out
    header = next(line for line in printed.splitlines() if line.split()[:2] == ["ar", "bg"])
    assert header.split() == [*XNLI_LANGUAGES, "avg"]
    assert any(line.startswith("test") for line in printed.splitlines())
    results = json.loads((out / "results.json").read_text())
    assert set(results["test"]) == {*XNLI_LANGUAGES, "avg"}
    assert results["selected_by"] == "average dev accuracy"
    best = max(results["dev_per_checkpoint"].values(), key=lambda s: s["avg"])["avg"]
    assert results["dev"]["avg"] == pytest.approx(best)
    for name, at_least in (
        ("confusion_test.png", (600, 900)),
        ("confusion_test_all.png", (300, 300)),
        ("accuracy_per_epoch.png", (400, 700)),
    ):
        image = matplotlib.image.imread(str(out / name))
        assert image.shape[0] >= at_least[0] and image.shape[1] >= at_least[1], (name, image.shape)
        assert image.std() > 0.05, f"{name} is blank"
    for lang in XNLI_LANGUAGES:
        assert np.array(results["confusion"]["test"][lang]).sum() == 24


def test_best_checkpoint_selection():
    scores = {
        "checkpoint1.pt": {"en": 80.0, "de": 50.0, "avg": 65.0},
        "checkpoint2.pt": {"en": 70.0, "de": 64.0, "avg": 67.0},  # lower on English, best on average
        "checkpoint3.pt": {"en": 79.0, "de": 55.0, "avg": 67.0},  # a tie: the earlier one wins
    }
    assert select_best(scores) == "checkpoint2.pt"


def test_grid(xnli_bin, pretrained, tmp_path):
    out = tmp_path / "grid"
    argv = [
        "--data",
        xnli_bin,
        "--pretrained",
        pretrained,
        "--out",
        str(out),
        "--lr",
        "1e-4,1e-3",
        "--optimizer",
        "adam",
        "--batch-size",
        "32",
        "--max-epoch",
        "1",
        "--langs",
        "en,de,fr",
        "--cpu",
        "--",
        "--num-workers",
        "0",
    ]
    xnli_grid.main(argv)
    table = json.loads((out / "grid.json").read_text())
    assert set(table["runs"]) == {"lr0.0001_adam_bs32", "lr0.001_adam_bs32"}
    assert table["best"]["dev_avg"] == max(run["dev_avg"] for run in table["runs"].values())
    assert (out / "grid.tsv").read_text().count("\n") == 3
    logs = {log: os.path.getmtime(log) for log in out.glob("*/train.log")}
    xnli_grid.main(argv)  # again: both runs are kept, none is repeated
    assert len(logs) == 2 and all(os.path.getmtime(log) == when for log, when in logs.items())


def test_exporting_a_fine_tune_with_the_pretraining_data_is_one_line(finetuned, data_dir, tmp_path, capsys):
    """The fine-tune's data directory is the XNLI one (input0/dict.txt); the pretraining one is named as the cause."""
    from fairseq_contrastive_xlm.cli import export_hf

    checkpoint = os.path.join(finetuned, "checkpoint1.pt")
    with pytest.raises(SystemExit) as exit_:
        export_hf.main(["--checkpoint", checkpoint, "--data", data_dir, "--out", str(tmp_path / "hf")])
    error = capsys.readouterr().err.strip()
    assert exit_.value.code == 2 and "\n" not in error and "Traceback" not in error
    assert "does not belong to checkpoint" in error and "cxlm-xnli-prepare" in error and "input0" in error
    assert not (tmp_path / "hf").exists()


def test_attention_heads_match_fairseq_and_the_heatmap_is_written(finetuned, xnli_bin, tmp_path):
    from fairseq_contrastive_xlm.checkpoints import load
    from fairseq_contrastive_xlm.evaluation.attention import head_weights

    model, _, _ = load(os.path.join(finetuned, "checkpoint1.pt"), data=xnli_bin, cpu=True)
    x = torch.randn(7, 2, 64)
    mask = torch.zeros(2, 7, dtype=torch.bool)
    mask[1, 5:] = True
    module = model.encoder.sentence_encoder.layers[1].self_attn
    _, fairseq_mean = module(query=x, key=x, value=x, key_padding_mask=mask, need_weights=True)
    ours = head_weights(module, x, mask)
    torch.testing.assert_close(ours.mean(dim=1), fairseq_mean, rtol=1e-5, atol=1e-6)
    path = tmp_path / "attention.png"
    attention.main(
        [
            "--checkpoint",
            os.path.join(finetuned, "checkpoint1.pt"),
            "--data",
            xnli_bin,
            "--premise",
            "The file could not be opened.",
            "--hypothesis",
            "Opening failed.",
            "--layer",
            "2",
            "--head",
            "1",
            "--out",
            str(path),
        ]
    )
    assert matplotlib.image.imread(str(path)).shape[0] > 300


def test_hydra_finetune_config(xnli_bin, pretrained, tmp_path):
    save = str(tmp_path / "hydra")
    run_tool(
        "fairseq-hydra-train",
        "--config-dir",
        os.path.join(USER_DIR, "config"),
        "--config-name",
        "xnli_finetune",
        f"common.user_dir={USER_DIR}",
        f"task.data={xnli_bin}",
        f"checkpoint.restore_file={pretrained}",
        f"checkpoint.save_dir={save}",
        "lr_scheduler.total_num_update=10",
        "optimization.max_epoch=1",
        "task.max_positions=128",
        "model.encoder_layers=2",
        "model.encoder_embed_dim=64",
        "model.encoder_ffn_embed_dim=128",
        "model.encoder_attention_heads=2",
        "model.max_positions=128",
        "model.use_lang_embeddings=true",
        "optimization.lr=[1e-4]",
        "common.cpu=true",
        "dataset.num_workers=0",
    )
    assert os.path.exists(os.path.join(save, "checkpoint1.pt"))


def test_a_finetuned_classifier_exports_with_its_labels(finetuned, xnli_bin, tmp_path):
    """cxlm-export-hf of a sentence_prediction checkpoint: transformers' XLMRobertaForSequenceClassification gives
    our class logits with no token_type_ids, as Hugging Face's tokenizer calls it: the fine-tune's --input-lang en
    is token type 0 (and en's type id gives the same)."""
    from transformers import AutoModelForSequenceClassification

    from fairseq_contrastive_xlm.checkpoints import load
    from fairseq_contrastive_xlm.cli import export_hf

    checkpoint = os.path.join(finetuned, "checkpoint_last.pt")
    export_hf.main(["--checkpoint", checkpoint, "--data", xnli_bin, "--out", str(tmp_path / "hf")])
    hf = AutoModelForSequenceClassification.from_pretrained(str(tmp_path / "hf")).eval()
    assert hf.config.id2label == {0: "entailment", 1: "neutral", 2: "contradiction"}
    model, task, _ = load(checkpoint, data=xnli_bin, cpu=True)
    task.load_dataset("valid")
    dataset = task.datasets["valid"]
    tokens = dataset.collater([dataset[i] for i in range(8)])["net_input"]["src_tokens"]
    assert hf.config.cxlm_input_lang == "en" and hf.config.cxlm_token_types[0] == "en"
    assert "read as en (the model's input language)" in (tmp_path / "hf" / "README.md").read_text()
    with torch.no_grad():
        ours = model(tokens, features_only=True, classification_head_name="sentence_classification_head")[0]
        english = torch.full_like(tokens, hf.config.cxlm_token_types.index("en"))
        theirs = hf(input_ids=tokens, attention_mask=tokens.ne(1).long(), token_type_ids=english).logits
        default = hf(input_ids=tokens, attention_mask=tokens.ne(1).long()).logits
    assert model.langs.index("en") != 0  # so that type 0 reading as English is the export's doing
    assert (ours - theirs).abs().max().item() < 1e-5
    assert (ours - default).abs().max().item() < 1e-5


def test_data_prepared_for_more_positions_than_the_model_has_is_refused_before_any_work(
    files, data_dir, pretrained, finetuned, tmp_path, capsys
):
    """The models here have 128 positions; XNLI prepared for 256 would lose training examples without a word and
    end evaluation in fairseq's traceback: one line instead, naming both sizes and the fix."""
    wide = tmp_path / "xnli-256"
    xnli_prepare.main(
        [
            "--train",
            str(files["mt"]),
            "--xnli-dir",
            str(files["xnli"]),
            "--data",
            data_dir,
            "--out",
            str(wide),
            "--max-positions",
            "256",
            "--langs",
            "de,en",
        ]
    )
    expected = f"was prepared for --max-positions 256, but {pretrained} has 128 positions"
    with pytest.raises(UserInputError, match=re.escape(expected) + ".*--max-positions 128 --truncate"):
        finetune.command(str(wide), pretrained, str(tmp_path / "ft"), 1e-4, "adam", 32, 1)
    with pytest.raises(SystemExit):
        xnli_eval.main(["--checkpoint", finetuned, "--data", str(wide), "--out", str(tmp_path / "results")])
    err = capsys.readouterr().err
    assert "was prepared for --max-positions 256" in err and "has 128 positions" in err
    assert not (tmp_path / "results").exists()
