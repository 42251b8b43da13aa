"""examples/continue/run.sh end to end on a small random XLM-R in Hugging Face's layout: import, prepare with its
tokenizer, continue with lambda 0 and lambda 1, score all three models, export, one table."""

import json
import os
import subprocess
import sys

import torch
from transformers import AutoModelForMaskedLM

from fairseq_contrastive_xlm.checkpoints import read

from helpers import random_xlmr_folder

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def split_pairs(raw, lang, train_dir, heldout_dir, held=40):
    """raw/en-LANG.{en,LANG} -> training lines and the last `held` pairs as held-out pairs."""
    for side in ("en", lang):
        with open(os.path.join(raw, f"en-{lang}.{side}"), encoding="utf-8") as f:
            lines = f.read().splitlines()
        for folder, part in ((train_dir, lines[:-held]), (heldout_dir, lines[-held:])):
            with open(os.path.join(folder, f"en-{lang}.{side}"), "w", encoding="utf-8") as f:
                f.writelines(line + "\n" for line in part)


def test_the_continue_example_imports_continues_scores_and_exports(scripts_data, tmp_path):
    data, _ = scripts_data
    raw = os.path.dirname(data)
    random_xlmr_folder(tmp_path / "xlmr", os.path.join(data, "spm.model"), torch.zeros_like)
    train, heldout = tmp_path / "train", tmp_path / "heldout"
    train.mkdir(), heldout.mkdir()
    for lang in ("de", "ru"):
        split_pairs(raw, lang, train, heldout)
    corpus = " ".join(
        [*(f"--para en-{lang}:{train}/en-{lang}.en,{train}/en-{lang}.{lang}" for lang in ("de", "ru"))]
        + [f"--mono en:{train}/en-de.en", f"--mono de:{train}/en-de.de"]
    )
    out = tmp_path / "runs"
    env = {
        **os.environ,
        "PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"],
        "FROM": f"hf:{tmp_path / 'xlmr'}",
        "CORPUS": corpus,
        "HELDOUT": str(heldout),
        "OUT": str(out),
        "UPDATES": "4",
        "WARMUP": "1",
        "BATCH": "8",
        "PREPARE_EXTRA": "--valid-size 20 --test-size 20",
        "EXTRA": "--cpu --num-workers 0 --tokens-per-sample 64",
    }
    result = subprocess.run(
        ["bash", os.path.join(REPO, "examples", "continue", "run.sh")],
        cwd=tmp_path,  # paths are read from where it runs
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    assert "| pretrained |" in result.stdout and "| lambda_1 |" in result.stdout
    summary = json.loads((out / "summary.json").read_text())
    rows = summary["rows"]
    for name in ("pretrained", "lambda_0", "lambda_1"):
        assert rows[name]["mlm_ppl"] > 1 and rows[name]["tlm_ppl"] > 1
        assert set(rows[name]["heldout"]) == {"de", "ru", "mean"}
    assert summary["forgetting"] == rows["lambda_1"]["mlm_ppl"] / rows["lambda_0"]["mlm_ppl"]

    # both continue the imported weights, train (they moved from them), and differ only in the contrastive term
    start = read(str(out / "start" / "model.pt"))["model"]
    continued = {
        name: read(str(out / name / "checkpoints" / "checkpoint_last.pt")) for name in ("lambda_0", "lambda_1")
    }
    embed = "encoder.sentence_encoder.embed_tokens.weight"
    for name, state in continued.items():
        assert state["optimizer_history"][-1]["num_updates"] == 4
        assert not torch.equal(state["model"][embed], start[embed]), name
    assert continued["lambda_0"]["cfg"]["criterion"]["ntxent_weight"] == 0
    assert continued["lambda_1"]["cfg"]["criterion"]["ntxent_weight"] == 1
    assert "ntxent_loss" in (out / "lambda_1" / "train.log").read_text()
    assert "ntxent_loss" not in (out / "lambda_0" / "train.log").read_text()  # no views encoded at all

    # the export is the contrastive continuation, loadable without our code
    hf = AutoModelForMaskedLM.from_pretrained(str(out / "hf"))
    assert torch.equal(
        hf.roberta.embeddings.word_embeddings.weight, continued["lambda_1"]["model"][embed].to(torch.float32)
    )
    again = subprocess.run(
        ["bash", os.path.join(REPO, "examples", "continue", "run.sh")],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert again.returncode == 0 and again.stdout.count("done before") == 5
