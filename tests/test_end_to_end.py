"""fairseq's own command lines with the plugin: fairseq-train, fairseq-hydra-train, resuming, restoring a
stock RoBERTa checkpoint, and refusing an unsafe one. Real text, a tiny model, 200 CPU updates."""

import fractions
import json
import os

import pytest
import torch
from fairseq import checkpoint_utils

from helpers import (
    REPO,
    SMALL_ARGV,
    USER_DIR,
    build_model,
    build_task,
    fairseq_train,
    fairseq_train_in_process,
    run_tool,
)


def train(data, save_dir, *extra, check=True):
    return fairseq_train(
        data,
        save_dir,
        "--batch-size",
        "32",
        "--lr-scheduler",
        "inverse_sqrt",
        "--warmup-updates",
        "50",
        "--log-format",
        "json",
        "--log-interval",
        "25",
        "--no-epoch-checkpoints",
        *extra,
        check=check,
    )


def records(output, kind):
    """The JSON records fairseq logged under `kind` (train_inner, valid)."""
    found = []
    for line in output.splitlines():
        if f"| {kind} | {{" in line:
            found.append(json.loads(line[line.index("{") :]))
    return found


@pytest.fixture(scope="module")
def trained(data_dir, tmp_path_factory):
    save_dir = str(tmp_path_factory.mktemp("checkpoints"))
    result = train(
        data_dir,
        save_dir,
        "--mlm-langs",
        "en,de,fr",
        "--tlm-pairs",
        "en-de,en-fr",
        "--max-update",
        "200",
        "--validate-interval-updates",
        "200",
    )
    return save_dir, result.stdout + result.stderr


def test_training_writes_checkpoints_and_logs_every_objective(trained):
    save_dir, log = trained
    assert os.path.exists(os.path.join(save_dir, "checkpoint_last.pt"))
    assert os.path.exists(os.path.join(save_dir, "checkpoint_best.pt"))
    inner = records(log, "train_inner")
    assert inner[-1]["num_updates"] == "200"
    for record in inner:
        assert {"mlm_loss", "mlm_ppl", "tlm_loss", "tlm_ppl", "ntxent_loss", "ntxent_acc", "loss"} <= set(record)
        assert "ppl" not in record  # no perplexity of the total, which holds the contrastive term
    # en-de and en-fr share English messages (gettext is multi-parallel): those are masked as negatives.
    assert sum(float(record["ntxent_masked"]) for record in inner) > 0
    valid = records(log, "valid")[-1]
    assert {"valid_mlm_ppl", "valid_tlm_ppl", "valid_ntxent_acc"} <= set(valid)


def test_contrastive_loss_falls_and_retrieval_accuracy_rises(trained):
    _, log = trained
    inner = [r for r in records(log, "train_inner") if int(r["num_updates"]) % 25 == 0]
    loss = [float(r["ntxent_loss"]) for r in inner]
    acc = [float(r["ntxent_acc"]) for r in inner]
    # Chance for 64 views is 1/63 = 1.6%; measured on this data (updates 25 -> 150-200): 4.2 -> 1.3 bits,
    # 37% -> 82%, and an MLM perplexity of 1,933 -> 700.
    assert sum(loss[-3:]) / 3 < loss[0] - 0.8, loss
    assert sum(acc[-3:]) / 3 > acc[0] + 4.0, acc
    mlm_ppl = [float(r["mlm_ppl"]) for r in inner]
    assert mlm_ppl[-1] < mlm_ppl[0] / 2, mlm_ppl


def test_resume_continues_from_the_last_checkpoint(trained, data_dir):
    save_dir, _ = trained
    result = train(data_dir, save_dir, "--mlm-langs", "en,de,fr", "--tlm-pairs", "en-de,en-fr", "--max-update", "210")
    output = result.stdout + result.stderr
    assert "Loaded checkpoint" in output and "@ 200 updates" in output
    assert records(output, "train")[-1]["train_num_updates"] == "210"


def test_hydra_config(data_dir, tmp_path):
    save_dir = str(tmp_path / "hydra")
    result = run_tool(
        "fairseq-hydra-train",
        "--config-dir",
        os.path.join(USER_DIR, "config"),
        "--config-name",
        "contrastive_mlm_tlm",
        f"common.user_dir={USER_DIR}",
        f"task.data={data_dir}",
        "task.mlm_langs='en,de'",
        "task.tlm_pairs=en-de",
        "task.tokens_per_sample=128",
        "model.encoder_layers=2",
        "model.encoder_embed_dim=64",
        "model.encoder_ffn_embed_dim=128",
        "model.encoder_attention_heads=2",
        "model.max_positions=128",
        "optimization.max_update=20",
        "lr_scheduler.warmup_updates=5",
        "common.log_interval=10",
        "common.log_format=json",
        "common.cpu=true",
        "dataset.num_workers=0",
        f"checkpoint.save_dir={save_dir}",
    )
    output = result.stdout + result.stderr
    assert os.path.exists(os.path.join(save_dir, "checkpoint_last.pt"))
    assert "ntxent_acc" in output and "mlm_ppl" in output and "tlm_ppl" in output
    # Hydra's own files go beside the checkpoints, not into the working directory
    assert os.path.exists(os.path.join(save_dir, "hydra_train.log"))
    assert os.path.exists(os.path.join(save_dir, ".hydra", "config.yaml"))
    assert not os.path.exists(os.path.join(REPO, "hydra_train.log")) and not os.path.exists(
        os.path.join(REPO, ".hydra")
    )


def test_hydra_language_tables_follow_the_task_and_a_contradiction_is_refused(data_dir, tmp_path):
    """The config interpolates model.langs from task.langs; only an explicit, different model.langs can differ,
    and it is refused before training (its ids would not match the embeddings)."""
    common = [
        "--config-dir",
        os.path.join(USER_DIR, "config"),
        "--config-name",
        "contrastive_mlm_tlm",
        f"common.user_dir={USER_DIR}",
        f"task.data={data_dir}",
        "task.mlm_langs=en",
        "task.tlm_pairs=en-de",
        "task.tokens_per_sample=128",
        "task.langs='en,de,fr'",
        "model.encoder_layers=1",
        "model.encoder_embed_dim=32",
        "model.encoder_ffn_embed_dim=64",
        "model.encoder_attention_heads=2",
        "model.max_positions=128",
        "model.use_lang_embeddings=true",
        "optimization.max_update=1",
        "common.cpu=true",
        "dataset.num_workers=0",
        "dataset.disable_validation=true",
    ]
    result = run_tool("fairseq-hydra-train", *common, f"checkpoint.save_dir={tmp_path / 'same'}")
    state = checkpoint_utils.load_checkpoint_to_cpu(str(tmp_path / "same" / "checkpoint_last.pt"))
    assert state["cfg"]["model"]["langs"] == "en,de,fr"
    assert state["model"]["encoder.sentence_encoder.embed_langs.weight"].shape[0] == 3
    result = run_tool(
        "fairseq-hydra-train",
        *common,
        "model.langs='de,en,fr'",
        f"checkpoint.save_dir={tmp_path / 'other'}",
        check=False,
    )
    assert result.returncode != 0
    assert "the model's --langs (de,en,fr) differ from the task's --langs (en,de,fr)" in result.stderr


@pytest.fixture(scope="module")
def roberta_checkpoint(data_dir, tmp_path_factory):
    """A checkpoint saved by fairseq's own roberta model (XLM-R's architecture), same dictionary."""
    save_dir = str(tmp_path_factory.mktemp("roberta"))
    fairseq_train_in_process(
        os.path.join(data_dir, "mono", "en"),
        "--task",
        "masked_lm",
        "--arch",
        "roberta",
        "--criterion",
        "masked_lm",
        *SMALL_ARGV,
        "--batch-size",
        "16",
        "--optimizer",
        "adam",
        "--lr",
        "1e-3",
        "--max-update",
        "3",
        "--cpu",
        "--num-workers",
        "0",
        "--no-epoch-checkpoints",
        "--save-dir",
        save_dir,
    )
    return os.path.join(save_dir, "checkpoint_last.pt")


def test_roberta_checkpoint_loads_with_every_shared_key(roberta_checkpoint, data_dir):
    state = checkpoint_utils.load_checkpoint_to_cpu(roberta_checkpoint)["model"]
    task = build_task(data_dir)
    model = build_model(task, encoder_embed_dim=64, encoder_ffn_embed_dim=128, use_lang_embeddings=True)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    model.load_state_dict(dict(state), strict=True)
    after = model.state_dict()
    shared = set(state) & set(after)
    assert shared == set(state), f"roberta keys the model lacks: {set(state) - set(after)}"
    for key in shared:
        assert torch.equal(after[key], state[key]), key
    extra = set(after) - shared
    assert extra and all(k.startswith(("encoder.sentence_encoder.embed_langs.", "ntxent_head.")) for k in extra)
    for key in extra:
        assert torch.equal(after[key], before[key]), key  # initialised, not loaded


def test_restore_file_from_roberta(roberta_checkpoint, data_dir, tmp_path):
    result = train(
        data_dir,
        str(tmp_path / "restored"),
        "--mlm-langs",
        "en,de",
        "--tlm-pairs",
        "en-de",
        "--max-update",
        "2",
        "--restore-file",
        roberta_checkpoint,
        "--reset-optimizer",
        "--reset-dataloader",
        "--reset-meters",
        "--reset-lr-scheduler",
        "--use-lang-embeddings",
    )
    output = result.stdout + result.stderr
    assert f"Loaded checkpoint {roberta_checkpoint}" in output
    assert (
        "not in the checkpoint, keeping their initial values: encoder.sentence_encoder.embed_langs.weight, ntxent_head"
        in output
    )
    assert records(output, "train")[-1]["train_num_updates"] == "2"


def test_checkpoint_with_another_global_is_refused_clearly(roberta_checkpoint, data_dir, tmp_path):
    state = torch.load(roberta_checkpoint)
    state["extra_state"]["unexpected"] = fractions.Fraction(1, 3)  # a global that is not allow-listed
    unsafe = str(tmp_path / "unsafe.pt")
    torch.save(state, unsafe)
    result = train(
        data_dir,
        str(tmp_path / "refused"),
        "--mlm-langs",
        "en",
        "--tlm-pairs",
        "en-de",
        "--max-update",
        "1",
        "--restore-file",
        unsafe,
        check=False,
    )
    assert result.returncode != 0
    assert f"error: refused to load checkpoint {unsafe}: it carries the global fractions.Fraction" in result.stderr
    assert "Traceback" not in result.stderr


def test_bad_input_on_the_command_line_is_one_clear_line(data_dir, tmp_path):
    result = train(data_dir, str(tmp_path / "bad"), "--mlm-langs", "en,es", "--max-update", "1", check=False)
    assert result.returncode != 0
    assert "error: no monolingual data for language 'es'" in result.stderr
    assert "Traceback" not in result.stderr
