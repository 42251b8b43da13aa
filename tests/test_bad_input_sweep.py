"""Every cxlm-* command, and fairseq-train with the plugin, against the standard bad inputs: a missing path, an empty
file, a directory where a file is expected, a device where a file is expected, a truncated checkpoint, a checkpoint
of another kind, a data directory that is not the checkpoint's, a truncated .npy or safetensors file, a tokenizer
file of the wrong kind, text that is not UTF-8. Each must end with exit status 2 and one line on stderr naming the
input, no traceback, and nothing where the output would have gone.

The commands run in this process (their main(), as the console scripts call it), so the sweep costs a model load
at most per case; fairseq-train runs as a user runs it. The inputs are built once for the module."""

import os
import shutil

import numpy as np
import pytest
import torch

from fairseq_contrastive_xlm.cli import (
    ablation_report,
    attention,
    bench,
    bench_mining,
    download,
    embed,
    embed_plot,
    export_hf,
    extend_vocab,
    gettext_corpus,
    import_checkpoint,
    mine,
    perplexity,
    prepare,
    retrieval,
    summarize,
    xnli_eval,
    xnli_grid,
    xnli_prepare,
)

from helpers import fairseq_train, train_in_process

COMMANDS = {
    "cxlm-prepare": prepare,
    "cxlm-gettext-corpus": gettext_corpus,
    "cxlm-download": download,
    "cxlm-xnli-prepare": xnli_prepare,
    "cxlm-xnli-eval": xnli_eval,
    "cxlm-xnli-grid": xnli_grid,
    "cxlm-attention": attention,
    "cxlm-retrieval": retrieval,
    "cxlm-perplexity": perplexity,
    "cxlm-embed-plot": embed_plot,
    "cxlm-summarize": summarize,
    "cxlm-bench": bench,
    "cxlm-import": import_checkpoint,
    "cxlm-export-hf": export_hf,
    "cxlm-ablation-report": ablation_report,
    "cxlm-embed": embed,
    "cxlm-mine": mine,
    "cxlm-bench-mining": bench_mining,
    "cxlm-extend-vocab": extend_vocab,
}


@pytest.fixture(scope="module")
def bad(data_dir, tmp_path_factory):
    """The bad inputs, and the good ones they are mixed with: a trained checkpoint, its data directory, text."""
    root = tmp_path_factory.mktemp("bad_inputs")
    checkpoint = root / "good" / "checkpoint_last.pt"
    train_in_process(
        data_dir,
        root / "good",
        "--tlm-pairs",
        "en-de",
        "--batch-size",
        "8",
        "--max-update",
        "2",
        "--disable-validation",
    )
    paths = {"data": str(data_dir), "checkpoint": str(checkpoint), "missing": str(root / "missing.txt")}
    (root / "empty.txt").write_text("")
    (root / "a_directory").mkdir()
    (root / "text.txt").write_text("Hello world.\nThe file could not be opened.\n", encoding="utf-8")
    (root / "latin1.txt").write_bytes("Grüße aus Köln\n".encode("latin-1"))
    whole = checkpoint.read_bytes()
    (root / "truncated.pt").write_bytes(whole[: len(whole) // 2])
    torch.save({"weights": torch.zeros(3)}, root / "other_kind.pt")  # a PyTorch file fairseq did not write
    np.save(root / "vectors.npy", np.zeros((2, 8), dtype=np.float32))
    vectors = (root / "vectors.npy").read_bytes()
    (root / "truncated.npy").write_bytes(vectors[: len(vectors) - 20])
    (root / "not_spm.model").write_bytes(os.urandom(256))
    hf = root / "hf_partial"
    hf.mkdir()
    (hf / "config.json").write_text('{"model_type": "xlm-roberta"}')
    (hf / "model.safetensors").write_bytes(b'\x40\x00\x00\x00\x00\x00\x00\x00{"a": 1')  # a cut header
    other = root / "other_data"  # another run's data directory: its dictionary is not the checkpoint's
    shutil.copytree(data_dir, other)
    lines = (other / "dict.txt").read_text(encoding="utf-8").splitlines()
    (other / "dict.txt").write_text("\n".join(lines[: len(lines) // 2]) + "\n", encoding="utf-8")
    for name in ("empty.txt", "a_directory", "text.txt", "latin1.txt", "truncated.pt", "other_kind.pt"):
        paths[name.split(".")[0]] = str(root / name)
    paths.update(
        truncated_npy=str(root / "truncated.npy"),
        vectors=str(root / "vectors.npy"),
        not_spm=str(root / "not_spm.model"),
        hf_partial=str(hf),
        other_data=str(other),
        device="/dev/null",
    )
    return paths


def with_model(checkpoint, data):
    return ["--checkpoint", checkpoint, "--data", data]


def extend_vocab_argv(p, checkpoint, data, text):
    """cxlm-extend-vocab of 5 pieces from one LANG:TEXT."""
    return [*with_model(checkpoint, data), "--text", text, "--pieces", "5", "--out", p["out"]]


# (command, what is bad, its argv from the paths of `bad`, words the one line must hold)
CASES = [
    (
        "cxlm-prepare",
        "no shards",
        lambda p: ["--mono", f"en:{p['text']}", "--vocab-size", "100", "--shards", "0", "--out", p["out"]],
        "--shards must be at least 1",
    ),
    (
        "cxlm-retrieval",
        "a folder that is not sentence-transformers'",
        lambda p: ["--st-model", p["a_directory"], "--src", p["text"], "--tgt", p["text"]],
        "is not a sentence-transformers folder",
    ),
    (
        "cxlm-bench",
        "--data-only without the language's text",
        lambda p: ["--data", p["data"], "--lang", "xx", "--data-only"],
        "train.bin is missing",
    ),
    (
        "cxlm-export-hf",
        "a layer the model does not have",
        lambda p: [*with_model(p["checkpoint"], p["data"]), "--layer", "9", "--out", p["out"]],
        "outside the model's layers",
    ),
    (
        "cxlm-prepare",
        "missing text",
        lambda p: ["--mono", f"en:{p['missing']}", "--vocab-size", "100", "--out", p["out"]],
        "does not exist",
    ),
    (
        "cxlm-prepare",
        "a directory as text",
        lambda p: ["--mono", f"en:{p['a_directory']}", "--vocab-size", "100", "--out", p["out"]],
        "is a directory",
    ),
    (
        "cxlm-prepare",
        "a device as text",
        lambda p: ["--mono", f"en:{p['device']}", "--vocab-size", "100", "--out", p["out"]],
        "not a regular file",
    ),
    (
        "cxlm-prepare",
        "a tokenizer of the wrong kind",
        lambda p: [
            "--mono",
            f"en:{p['text']}",
            "--spm-model",
            p["not_spm"],
            "--dict",
            os.path.join(p["data"], "dict.txt"),
            "--out",
            p["out"],
        ],
        "is not a SentencePiece model",
    ),
    (
        "cxlm-gettext-corpus",
        "missing locale directory",
        lambda p: ["--langs", "de", "--locale-dir", p["missing"], "--out", p["out"]],
        "does not exist",
    ),
    (
        "cxlm-xnli-prepare",
        "missing training file",
        lambda p: ["--train", p["missing"], "--xnli-dir", p["a_directory"], "--data", p["data"], "--out", p["out"]],
        "does not exist",
    ),
    (
        "cxlm-xnli-prepare",
        "an empty training file",
        lambda p: ["--train", p["empty"], "--xnli-dir", p["a_directory"], "--data", p["data"], "--out", p["out"]],
        "empty",
    ),
    (
        "cxlm-xnli-prepare",
        "a tokenizer of the wrong kind",
        lambda p: ["--train", p["text"], "--xnli-dir", p["a_directory"], "--data", p["a_directory"], "--out", p["out"]],
        "dict.txt is missing",
    ),
    (
        "cxlm-xnli-eval",
        "a data directory that is not XNLI's",
        lambda p: ["--checkpoint", p["checkpoint"], "--data", p["data"], "--out", p["out"]],
        "cxlm-xnli-prepare",
    ),
    (
        "cxlm-xnli-grid",
        "a data directory that is not XNLI's",
        lambda p: ["--data", p["a_directory"], "--pretrained", p["checkpoint"], "--out", p["out"]],
        "cxlm-xnli-prepare",
    ),
    (
        "cxlm-attention",
        "a truncated checkpoint",
        lambda p: [*with_model(p["truncated"], p["data"]), "--premise", "Hi.", "--out", p["out"] + ".png"],
        "cannot be read",
    ),
    (
        "cxlm-attention",
        "another run's data directory",
        lambda p: [*with_model(p["checkpoint"], p["other_data"]), "--premise", "Hi.", "--out", p["out"] + ".png"],
        "does not belong to checkpoint",
    ),
    (
        "cxlm-retrieval",
        "a truncated checkpoint",
        lambda p: [*with_model(p["truncated"], p["data"]), "--src", p["text"], "--tgt", p["text"], "--json", p["out"]],
        "cannot be read",
    ),
    (
        "cxlm-retrieval",
        "a checkpoint of another kind",
        lambda p: [*with_model(p["other_kind"], p["data"]), "--src", p["text"], "--tgt", p["text"], "--json", p["out"]],
        "not a fairseq checkpoint",
    ),
    (
        "cxlm-retrieval",
        "another run's data directory",
        lambda p: [
            *with_model(p["checkpoint"], p["other_data"]),
            "--src",
            p["text"],
            "--tgt",
            p["text"],
            "--json",
            p["out"],
        ],
        "does not belong to checkpoint",
    ),
    (
        "cxlm-retrieval",
        "text that is not UTF-8",
        lambda p: [
            *with_model(p["checkpoint"], p["data"]),
            "--src",
            p["latin1"],
            "--tgt",
            p["text"],
            "--json",
            p["out"],
        ],
        "not UTF-8",
    ),
    (
        "cxlm-perplexity",
        "a truncated checkpoint",
        lambda p: [*with_model(p["truncated"], p["data"]), "--json", p["out"]],
        "cannot be read",
    ),
    (
        "cxlm-perplexity",
        "another run's data directory",
        lambda p: [*with_model(p["checkpoint"], p["other_data"]), "--json", p["out"]],
        "does not belong to checkpoint",
    ),
    (
        "cxlm-embed-plot",
        "a truncated checkpoint",
        lambda p: [
            *with_model(p["truncated"], p["data"]),
            "--src",
            p["text"],
            "--tgt",
            p["text"],
            "--out",
            p["out"] + ".png",
        ],
        "cannot be read",
    ),
    ("cxlm-summarize", "a missing directory", lambda p: ["--runs", p["missing"]], "does not exist"),
    (
        "cxlm-bench",
        "a missing data directory",
        lambda p: ["--data", p["missing"], "--smoke", "--json", p["out"]],
        "is missing",
    ),
    (
        "cxlm-import",
        "a truncated safetensors file",
        lambda p: ["hf", p["hf_partial"], "--out", p["out"]],
        "download it again",
    ),
    ("cxlm-import", "a missing folder", lambda p: ["hf", p["missing"], "--out", p["out"]], "config.json is missing"),
    ("cxlm-import", "a truncated XLM checkpoint", lambda p: ["xlm", p["truncated"], "--out", p["out"]], "truncated.pt"),
    (
        "cxlm-export-hf",
        "a truncated checkpoint",
        lambda p: [*with_model(p["truncated"], p["data"]), "--out", p["out"]],
        "cannot be read",
    ),
    (
        "cxlm-export-hf",
        "a checkpoint of another kind",
        lambda p: [*with_model(p["other_kind"], p["data"]), "--out", p["out"]],
        "not a fairseq checkpoint",
    ),
    ("cxlm-ablation-report", "a missing directory", lambda p: ["--runs", p["missing"]], "does not exist"),
    (
        "cxlm-embed",
        "a directory as input",
        lambda p: [*with_model(p["checkpoint"], p["data"]), "--input", p["a_directory"], "--out", p["out"] + ".npy"],
        "is a directory",
    ),
    (
        "cxlm-embed",
        "a device as input",
        lambda p: [*with_model(p["checkpoint"], p["data"]), "--input", p["device"], "--out", p["out"] + ".npy"],
        "not a regular file",
    ),
    (
        "cxlm-embed",
        "text that is not UTF-8",
        lambda p: [*with_model(p["checkpoint"], p["data"]), "--input", p["latin1"], "--out", p["out"] + ".npy"],
        "not UTF-8",
    ),
    (
        "cxlm-embed",
        "another run's data directory",
        lambda p: [*with_model(p["checkpoint"], p["other_data"]), "--input", p["text"], "--out", p["out"] + ".npy"],
        "does not belong to checkpoint",
    ),
    (
        "cxlm-embed",
        "a truncated checkpoint",
        lambda p: [*with_model(p["truncated"], p["data"]), "--input", p["text"], "--out", p["out"] + ".npy"],
        "cannot be read",
    ),
    (
        "cxlm-mine",
        "a truncated .npy file",
        lambda p: [
            "--src",
            p["text"],
            "--tgt",
            p["text"],
            "--src-emb",
            p["truncated_npy"],
            "--tgt-emb",
            p["vectors"],
            "--out",
            p["out"],
        ],
        "npy",
    ),
    (
        "cxlm-mine",
        "an empty text",
        lambda p: [
            "--src",
            p["empty"],
            "--tgt",
            p["text"],
            "--src-emb",
            p["vectors"],
            "--tgt-emb",
            p["vectors"],
            "--out",
            p["out"],
        ],
        "empty",
    ),
    (
        "cxlm-bench-mining",
        "a truncated checkpoint",
        lambda p: ["--smoke", *with_model(p["truncated"], p["data"]), "--text", p["text"], "--json", p["out"]],
        "cannot be read",
    ),
    (
        "cxlm-extend-vocab",
        "another run's data directory",
        lambda p: extend_vocab_argv(p, p["checkpoint"], p["other_data"], f"el:{p['text']}"),
        "word embeddings",
    ),
    (
        "cxlm-extend-vocab",
        "text that is not UTF-8",
        lambda p: extend_vocab_argv(p, p["checkpoint"], p["data"], f"de:{p['latin1']}"),
        "not UTF-8",
    ),
    (
        "cxlm-extend-vocab",
        "a truncated checkpoint",
        lambda p: extend_vocab_argv(p, p["truncated"], p["data"], f"el:{p['text']}"),
        "cannot be read",
    ),
    (
        "cxlm-download",
        "a file where the output directory goes",
        lambda p: ["tatoeba", "--out", p["text"]],
        "not a directory",
    ),
]


@pytest.mark.parametrize("name, what, argv, words", CASES, ids=[f"{c[0]}: {c[1]}" for c in CASES])
def test_bad_input_is_one_line_and_exit_status_2(bad, tmp_path, capsys, name, what, argv, words):
    out = str(tmp_path / "out")
    with pytest.raises(SystemExit) as exit_:
        COMMANDS[name].main(argv({**bad, "out": out}))
    stderr = capsys.readouterr().err
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert exit_.value.code == 2, stderr
    assert len(lines) == 1 and lines[0].startswith(f"{name}: error: ") and words in lines[0], stderr
    assert "Traceback" not in stderr
    for path in (out, out + ".png", out + ".npy"):
        assert not os.path.exists(path), f"{path} was written"


def test_every_command_is_swept():
    import setuptools  # noqa: F401  (setup.py's import)

    setup = open(os.path.join(os.path.dirname(os.path.dirname(__file__)), "setup.py"), encoding="utf-8").read()
    listed = {line.split("=")[0].strip().strip('"') for line in setup.splitlines() if line.strip().startswith('"cxlm-')}
    assert listed == set(COMMANDS) == {case[0] for case in CASES}


def train_fails_in_one_line(data, save_dir, words, *options):
    """fairseq-train with the plugin, one update of TLM en-de: exit status 2, one error line holding `words`, no
    traceback, no checkpoint. Returns the line."""
    result = fairseq_train(
        data, save_dir, "--tlm-pairs", "en-de", "--batch-size", "8", "--max-update", "1", *options, check=False
    )
    lines = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert result.returncode == 2, result.stderr[-2000:]
    assert len(lines) == 1 and words in lines[0] and "Traceback" not in result.stderr, lines
    assert not os.path.exists(os.path.join(save_dir, "checkpoint_last.pt"))
    return lines[0]


@pytest.mark.parametrize(
    "what, options, words",
    [
        ("a truncated checkpoint to restore", lambda p: ["--restore-file", p["truncated"]], "cannot be read"),
        ("a checkpoint of another kind to restore", lambda p: ["--restore-file", p["other_kind"]], "not a fairseq"),
    ],
)
def test_fairseq_train_with_the_plugin(bad, tmp_path, what, options, words):
    train_fails_in_one_line(bad["data"], tmp_path / "save", words, *options(bad))


DAMAGE = {
    "a .bin cut to half its length": (
        "para/en-de/train.en-de.de.bin",
        lambda data: data[: len(data) // 2],
        "cut short",
    ),
    "a malformed line in dict.txt": ("dict.txt", lambda data: data.replace(b"\n", b"\nno-count-here\n", 1), "line 2"),
    "an .idx cut to 20 bytes": ("mono/de/train.idx", lambda data: data[:20], "shorter than an index's header"),
}


@pytest.mark.parametrize("what", sorted(DAMAGE))
def test_fairseq_train_on_a_damaged_data_directory_says_so_before_training(bad, tmp_path, what):
    """A copy of a prepared directory with one file damaged: one line naming the file, before the first step."""
    name, damage, words = DAMAGE[what]
    data = tmp_path / "data"
    shutil.copytree(bad["data"], data)
    (data / name).write_bytes(damage((data / name).read_bytes()))
    line = train_fails_in_one_line(data, tmp_path / "save", words, "--mlm-langs", "de")
    assert str(data / name) in line
