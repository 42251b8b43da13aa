"""The paper's seven models as Hydra recipes, and the script that runs them."""

import dataclasses
import json
import os
import subprocess
import sys

import pytest
import yaml
from fairseq.dataclass.initialize import hydra_init
from hydra import compose, initialize_config_dir

from fairseq_contrastive_xlm.cli import xnli_prepare
from fairseq_contrastive_xlm.languages import XNLI_LANGUAGES

from helpers import REPO, USER_DIR, train_in_process
from xnli_fixtures import write_xnli_dir, write_xnli_mt_train

CONFIG = os.path.join(USER_DIR, "config", "paper")
XNLI15 = ",".join(XNLI_LANGUAGES)
PAIRS = ",".join(f"en-{lang}" for lang in XNLI_LANGUAGES if lang != "en")

# model: (TLM pairs, MLM languages, NT-Xent pairs, pooling, lambda)
PAPER = {
    "tlm": (PAIRS, "", "none", "first", 0.0),
    "mlm_tlm": (PAIRS, XNLI15, "none", "first", 0.0),
    "contrastive_se_tlm": (PAIRS, "", None, "first", 1.0),
    "contrastive_se_mlm_tlm": (PAIRS, XNLI15, None, "first", 1.0),
    "contrastive_me_tlm": (PAIRS, "", None, "max", 1.0),
    "contrastive_me_mlm_tlm": (PAIRS, XNLI15, None, "max", 1.0),
}


def composed(name, *overrides):
    hydra_init(name)  # as fairseq-hydra-train does: its schema under the config's name
    with initialize_config_dir(config_dir=CONFIG, version_base="1.1"):
        return compose(config_name=name, overrides=list(overrides), return_hydra_config=True)


@pytest.mark.parametrize("name", sorted(PAPER))
def test_each_pretraining_recipe_sets_what_makes_its_model(name):
    cfg = composed(name, "task.data=DATA", "model.encoder_layers=6", "checkpoint.save_dir=SAVE")
    pairs, mlm, ntxent, pooling, weight = PAPER[name]
    assert (cfg.task.tlm_pairs, cfg.task.mlm_langs, cfg.task.ntxent_pairs) == (pairs, mlm, ntxent)
    assert cfg.model.ntxent_pooling == pooling and cfg.criterion.ntxent_weight == weight
    # the shared values, and the overrides
    assert cfg.task._name == "cross_lingual_lm_contrastive" and cfg.task.data == "DATA"
    assert cfg.model.encoder_layers == 6 and cfg.model.encoder_embed_dim == 1024 and cfg.model.use_lang_embeddings
    assert cfg.model.ntxent_temperature == 0.1 and cfg.optimization.lr == [0.0001]
    # Hydra's log and resolved config land beside the checkpoints, and relative paths keep working
    assert cfg.hydra.run.dir == "SAVE" and cfg.hydra.job.chdir is False


@pytest.mark.parametrize("name", ["baseline", "finetune"])
def test_fine_tuning_recipes(name):
    cfg = composed(name, "task.data=XNLI", "lr_scheduler.total_num_update=100")
    assert cfg.task._name == "sentence_prediction" and cfg.task.num_classes == 3
    assert cfg.model.input_lang == "en" and cfg.checkpoint.best_checkpoint_metric == "accuracy"
    assert cfg.lr_scheduler.total_num_update == 100


def test_the_script_runs_the_recipes(data_dir, tmp_path):
    """Two of the seven (the baseline and a contrastive one) through the script, at toy size."""
    xnli = tmp_path / "xnli-bin"
    xnli_prepare.main(
        [
            "--train",
            str(write_xnli_mt_train(tmp_path / "train.tsv", 120)),
            "--xnli-dir",
            str(write_xnli_dir(tmp_path / "XNLI-1.0", per_language=6)),
            "--data",
            data_dir,
            "--out",
            str(xnli),
            "--max-positions",
            "128",
            "--truncate",
        ]
    )
    start = tmp_path / "start"
    train_in_process(
        data_dir,
        start,
        "--mlm-langs",
        "en",
        "--use-lang-embeddings",
        "--batch-size",
        "8",
        "--max-update",
        "2",
        "--disable-validation",
    )
    os.rename(start / "checkpoint_last.pt", start / "model.pt")  # START as a folder, as cxlm-import writes it
    env = {
        **os.environ,
        "PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"],
        "DATA": data_dir,
        "XNLI": str(xnli),
        "START": str(start),  # the model's shape (MODEL) is read from it
        "OUT": str(tmp_path / "runs"),
        "MODELS": "baseline contrastive_se_mlm_tlm",
        "EPOCHS": "1",
        "BATCH": "16",
        "PRETRAIN": "optimization.max_update=3 task.tokens_per_sample=128 task.mlm_langs='en,de,fr' "
        "task.tlm_pairs='en-de,en-fr' dataset.batch_size=8 lr_scheduler.warmup_updates=1 "
        "lr_scheduler.total_num_update=3",
        "FINETUNE": "task.max_positions=128",
        "EXTRA": "common.cpu=true dataset.num_workers=0",
    }
    result = subprocess.run(["bash", "examples/paper/run.sh"], cwd=REPO, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    assert "| baseline |" in result.stdout and "| contrastive_se_mlm_tlm |" in result.stdout
    summary = json.loads((tmp_path / "runs" / "summary.json").read_text())["rows"]
    assert set(summary) == {"baseline", "contrastive_se_mlm_tlm"}
    assert set(summary["baseline"]["xnli"]) == {*XNLI15.split(","), "avg"}
    pretrain_log = (tmp_path / "runs" / "contrastive_se_mlm_tlm" / "pretrain.log").read_text()
    assert "ntxent_acc" in pretrain_log and "mlm_ppl" in pretrain_log and "tlm_ppl" in pretrain_log
    again = subprocess.run(["bash", "examples/paper/run.sh"], cwd=REPO, env=env, capture_output=True, text=True)
    assert again.stdout.count("done before") == 2


def test_the_pretraining_config_lists_every_option_of_ours():
    """Hydra reads the YAML before fairseq imports the plugin: an option the YAML leaves out cannot be
    overridden on the command line without a leading '+'."""
    from fairseq_contrastive_xlm.criterions.masked_lm_ntxent import MaskedLmNTXentConfig
    from fairseq_contrastive_xlm.models.contrastive_xlm import ContrastiveXLMConfig
    from fairseq_contrastive_xlm.tasks.cross_lingual_lm_contrastive import CrossLingualLMContrastiveConfig

    with open(os.path.join(USER_DIR, "config", "contrastive_mlm_tlm.yaml"), encoding="utf-8") as f:
        config = yaml.safe_load(f)
    names = lambda cls: {f.name for f in dataclasses.fields(cls)}  # noqa: E731
    assert names(CrossLingualLMContrastiveConfig) - {"seed", "train_subset"} <= set(config["task"])
    assert names(MaskedLmNTXentConfig) <= set(config["criterion"])
    ours = {
        n
        for n in names(ContrastiveXLMConfig)
        if n.startswith("ntxent_") or n in ("use_lang_embeddings", "langs", "input_lang")
    }
    assert len(ours) == 13 and ours <= set(config["model"])  # the temperature is the model's
    # One source for defaults: every value the YAML writes for an option of ours is the dataclass default,
    # except the required ones (???), the model's language table, which is the task's, and the positions, which
    # are XLM-R's (512) so that its checkpoints continue.
    assert config["model"]["langs"] == "${task.langs}" and config["model"]["max_positions"] == 512
    for section, cls in (
        ("task", CrossLingualLMContrastiveConfig),
        ("model", ContrastiveXLMConfig),
        ("criterion", MaskedLmNTXentConfig),
    ):
        defaults = cls()
        for name, value in config[section].items():
            if name == "_name" or value == "???" or (section, name) in (("model", "langs"), ("model", "max_positions")):
                continue
            default = getattr(defaults, name)
            assert value == (default.value if hasattr(default, "value") else default), (
                f"{section}.{name}: {value} vs {default}"
            )
