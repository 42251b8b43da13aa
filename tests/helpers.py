"""Building real (small) instances of the plugin's components for tests, and running its commands."""

import os
import subprocess
import sys

import pytest
from omegaconf import OmegaConf

import fairseq_contrastive_xlm  # noqa: F401  (registration)
from fairseq_contrastive_xlm.checkpoints import USER_DIR  # noqa: F401  (tests import it from here)
from fairseq_contrastive_xlm.criterions.masked_lm_ntxent import MaskedLmNTXentConfig, MaskedLmNTXentLoss
from fairseq_contrastive_xlm.models.contrastive_xlm import ContrastiveXLMConfig
from fairseq_contrastive_xlm.tasks.cross_lingual_lm_contrastive import (
    CrossLingualLMContrastiveConfig,
    CrossLingualLMContrastiveTask,
)

TINY = dict(
    encoder_layers=2,
    encoder_embed_dim=32,
    encoder_ffn_embed_dim=64,
    encoder_attention_heads=2,
    max_positions=128,
    dropout=0.0,
    attention_dropout=0.0,
    ntxent_proj_dim=16,
)


def build_task(data, **options):
    options = {"mlm_langs": "en,de", "tlm_pairs": "en-de", "tokens_per_sample": 128, **options}
    cfg = CrossLingualLMContrastiveConfig(data=data, seed=1, train_subset="train", **options)
    return CrossLingualLMContrastiveTask.setup_task(cfg)


def build_model(task, **options):
    cfg = OmegaConf.structured(ContrastiveXLMConfig(**{**TINY, **options}))
    cfg._name = "contrastive_xlm"
    return task.build_model(cfg)


def build_criterion(task, **options):
    return MaskedLmNTXentLoss(MaskedLmNTXentConfig(**options), task)


def batch_of(task, split, indices):
    dataset = task.datasets[split]
    return dataset.collater([dataset[i] for i in indices])


REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.dirname(sys.executable)


def run_tool(tool, *argv, check=True, env=None):
    """A command of this environment (fairseq-train, cxlm-prepare, ...) as a user runs it (env: variables to add)."""
    result = subprocess.run(
        [os.path.join(BIN, tool), *argv], capture_output=True, text=True, cwd=REPO, env={**os.environ, **(env or {})}
    )
    if check and result.returncode != 0:
        pytest.fail(f"{tool} failed ({result.returncode}):\n{result.stderr[-4000:]}")
    return result


# The model most command-line tests train: 2 layers, 64 wide (ONE_LAYER makes it smaller where only the
# mechanics matter). Later options win in fairseq's argparse, so a test can override any of these.
SMALL_ARGV = [
    "--encoder-layers",
    "2",
    "--encoder-embed-dim",
    "64",
    "--encoder-ffn-embed-dim",
    "128",
    "--encoder-attention-heads",
    "2",
    "--max-positions",
    "128",
    "--tokens-per-sample",
    "128",
]
ONE_LAYER = ["--encoder-layers", "1", "--encoder-embed-dim", "32", "--encoder-ffn-embed-dim", "64"]


def train_argv(data, save_dir, *options):
    """fairseq-train's arguments for the plugin's task, model and criterion, on CPU, Adam at 1e-3."""
    return [
        str(data),
        "--user-dir",
        USER_DIR,
        "--task",
        "cross_lingual_lm_contrastive",
        "--arch",
        "contrastive_xlm",
        "--criterion",
        "masked_lm_ntxent",
        *SMALL_ARGV,
        "--optimizer",
        "adam",
        "--lr",
        "1e-3",
        "--cpu",
        "--num-workers",
        "0",
        "--save-dir",
        str(save_dir),
        *options,
    ]


def fairseq_train(data, save_dir, *options, check=True, env=None):
    """fairseq-train with train_argv, as a user runs it."""
    return run_tool("fairseq-train", *train_argv(data, save_dir, *options), check=check, env=env)


def fairseq_train_in_process(*argv) -> str:
    """fairseq-train with these arguments in this process, as fairseq's own tests train (tests/test_binaries.py):
    for a run that makes what a test needs or compares against, or whose logged lines are what the test reads (no
    6 s of imports). Returns what it logged, in fairseq-train's format."""
    import logging

    from fairseq import options as fairseq_options
    from fairseq.dataclass.utils import convert_namespace_to_omegaconf
    from fairseq.distributed import utils as distributed_utils
    from fairseq_cli import train

    class Lines(logging.Handler):
        def __init__(self):
            super().__init__(logging.INFO)
            self.setFormatter(logging.Formatter("%(asctime)s | %(levelname)s | %(name)s | %(message)s"))
            self.lines = []

        def emit(self, record):
            self.lines.append(self.format(record))

    lines, root = Lines(), logging.getLogger()
    level = root.level
    root.addHandler(lines)
    root.setLevel(logging.INFO)  # fairseq-train's own level (pytest leaves the root logger at WARNING)
    try:
        args = fairseq_options.parse_args_and_arch(fairseq_options.get_training_parser(), [str(a) for a in argv])
        distributed_utils.call_main(convert_namespace_to_omegaconf(args), train.main)
    finally:
        root.removeHandler(lines)
        root.setLevel(level)
    return "\n".join(lines.lines)


def train_in_process(data, save_dir, *options) -> str:
    """fairseq_train's run (train_argv) in this process; returns what it logged."""
    return fairseq_train_in_process(*train_argv(data, save_dir, *options))


def preprocess_in_process(*argv):
    """fairseq-preprocess with these arguments in this process, as fairseq's own tests binarize their data."""
    from fairseq import options as fairseq_options
    from fairseq_cli import preprocess

    preprocess.main(fairseq_options.get_preprocessing_parser().parse_args([str(a) for a in argv]))


def fairseq_trainer(data, save_dir, *options):
    """fairseq's Trainer in this process (as cxlm-bench builds it) for a one-layer model of the plugin on TLM
    en-de with NT-Xent, Adam on CPU; later options win."""
    from fairseq_contrastive_xlm.benchmarks.trainer import build_trainer

    return build_trainer(
        [
            str(data),
            "--task",
            "cross_lingual_lm_contrastive",
            "--tlm-pairs",
            "en-de",
            "--arch",
            "contrastive_xlm",
            *ONE_LAYER,
            "--encoder-attention-heads",
            "2",
            "--max-positions",
            "128",
            "--tokens-per-sample",
            "128",
            "--criterion",
            "masked_lm_ntxent",
            "--optimizer",
            "adam",
            "--cpu",
            "--num-workers",
            "0",
            "--save-dir",
            str(save_dir),
            "--no-save",
            "--disable-validation",
            *options,
        ]
    )


# A one-layer model on MLM en,de + TLM en-de (+ NT-Xent), without dropout, saving a checkpoint after every update so
# that a test can read each update's weights and logged loss back (update_checkpoints).
EN_DE_NO_DROPOUT = [
    *ONE_LAYER,
    "--mlm-langs",
    "en,de",
    "--tlm-pairs",
    "en-de",
    "--dropout",
    "0",
    "--attention-dropout",
    "0",
]
EVERY_UPDATE = ["--save-interval-updates", "1", "--no-epoch-checkpoints", "--disable-validation", "--log-interval", "1"]


def logged_train_metrics(checkpoint):
    """{metric: its last value} of the train meters a fairseq checkpoint carries (what fairseq last logged)."""
    from fairseq import checkpoint_utils

    state = checkpoint_utils.load_checkpoint_to_cpu(str(checkpoint))
    return {key: meter["val"] for _, key, _, meter in state["extra_state"]["metrics"]["train"] if "val" in meter}


def update_checkpoints(save_dir, updates):
    """For updates 1..updates: (the loss fairseq logged for that update, aggregated over workers and unrounded:
    its train meter's last value, as the checkpoint saved it; the checkpoint's state)."""
    from fairseq import checkpoint_utils

    steps = []
    for update in range(1, updates + 1):
        state = checkpoint_utils.load_checkpoint_to_cpu(os.path.join(str(save_dir), f"checkpoint_1_{update}.pt"))
        meters = {key: meter for _, key, _, meter in state["extra_state"]["metrics"]["train"]}
        steps.append((meters["loss"]["val"], state))
    return steps


def write_binarized(prefix, sentences):
    """prefix.bin/.idx as fairseq-preprocess writes them, from token-id tensors (each ending with </s>)."""
    import numpy as np
    from fairseq.data import indexed_dataset

    builder = indexed_dataset.MMapIndexedDatasetBuilder(str(prefix) + ".bin", dtype=np.uint16)
    for sentence in sentences:
        builder.add_item(sentence)
    builder.finalize(str(prefix) + ".idx")


def synthetic_data_dir(root, langs, pairs, sentences_per_lang, pairs_per_pair, words=200, seed=0, valid=4):
    """A data directory of random sentences over one dictionary of `words` words: mono/<lang> for each of langs
    (sentences_per_lang(k) training sentences for the k-th) and para/en-<lang> for each of pairs."""
    import numpy as np
    import torch
    from fairseq.data import Dictionary

    os.makedirs(root, exist_ok=True)
    dictionary = Dictionary()
    for i in range(words):
        dictionary.add_symbol(f"w{i}")
    dictionary.save(os.path.join(root, "dict.txt"))
    rng = np.random.default_rng(seed)

    def sentences(n):
        return [
            torch.tensor([*rng.integers(4, len(dictionary), rng.integers(3, 12)), dictionary.eos()]) for _ in range(n)
        ]

    for k, lang in enumerate(langs):
        os.makedirs(os.path.join(root, "mono", lang))
        for split, n in (("train", sentences_per_lang(k)), ("valid", valid)):
            write_binarized(os.path.join(root, "mono", lang, split), sentences(n))
    for lang in pairs:
        pair = f"en-{lang}"
        os.makedirs(os.path.join(root, "para", pair))
        for split, n in (("train", pairs_per_pair), ("valid", valid)):
            both = sentences(n)
            for side in ("en", lang):
                write_binarized(os.path.join(root, "para", pair, f"{split}.{pair}.{side}"), both)
    return str(root)


def random_xlmr_folder(path, spm_model, token_types):
    """A small random XLM-R in Hugging Face's layout, over the given SentencePiece model."""
    import shutil

    import sentencepiece as spm
    import torch
    from transformers import XLMRobertaConfig, XLMRobertaForMaskedLM

    from fairseq_contrastive_xlm.interop.hf_layout import HF_SPM_FILE

    torch.manual_seed(0)
    pieces = spm.SentencePieceProcessor(model_file=spm_model).get_piece_size()
    config = XLMRobertaConfig(
        vocab_size=pieces + 2,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=64,
        max_position_embeddings=66,
        type_vocab_size=1,
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
    )
    model = XLMRobertaForMaskedLM(config).eval()
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if "token_type" in name:
                parameter.copy_(token_types(parameter))
            elif "LayerNorm" in name or "layer_norm" in name or name.endswith("bias"):
                parameter.normal_(0, 0.5)
    model.save_pretrained(str(path))
    shutil.copy(spm_model, path / HF_SPM_FILE)
    return model
