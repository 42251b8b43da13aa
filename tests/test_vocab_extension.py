"""cxlm-extend-vocab on the suite's stand-in (trained_checkpoint: a tokenizer of en, de and fr): Greek, a script
it never saw, and Turkish, a Latin script it splits finely, added; nothing old moved; a short continuation from
the extended model and from the original; the export to Hugging Face and back."""

import json
import os

import pytest
import sentencepiece as spm
import torch
import torch.nn.functional as F
from fairseq.data import data_utils
from sentencepiece import sentencepiece_model_pb2 as model_pb2
from transformers import AutoTokenizer, XLMRobertaTokenizer

from fairseq_contrastive_xlm.checkpoints import load, read
from fairseq_contrastive_xlm.modules import SENTENCE_ENCODER
from fairseq_contrastive_xlm.prepare.pipeline import Corpus, PrepareOptions, prepare

from corpus import usable_pairs
from helpers import train_in_process

PIECES = 600
OLD = ("de", "fr")
RESETS = ("--reset-optimizer", "--reset-dataloader", "--reset-meters", "--reset-lr-scheduler")


def sentences(lang, count=3000):
    return [target for _, target in usable_pairs(lang, count)]


def write(path, lines):
    with open(path, "w", encoding="utf-8") as f:
        f.writelines(line + "\n" for line in lines)
    return str(path)


def unk_share_and_pieces_per_word(spm_model, lines):
    processor = spm.SentencePieceProcessor(model_file=spm_model)
    ids = [processor.encode(line) for line in lines]
    pieces = sum(len(i) for i in ids)
    unknown = sum(piece == processor.unk_id() for i in ids for piece in i)
    return unknown / pieces, pieces / sum(len(line.split()) for line in lines)


@pytest.fixture(scope="module")
def extended(data_dir, trained_checkpoint, tmp_path_factory, run_command_module):
    """(texts: lang -> (extension text, held-out lines), OUT) of the stand-in extended with el and tr."""
    root = tmp_path_factory.mktemp("extend")
    texts = {}
    for lang in ("el", "tr"):
        lines = sentences(lang)
        texts[lang] = (write(root / f"{lang}.txt", lines[:2500]), lines[2500:])
    out = root / "extended"
    run_command_module(
        "cxlm-extend-vocab",
        *("--checkpoint", trained_checkpoint, "--data", data_dir, "--pieces", PIECES, "--out", out),
        *("--text", f"el:{texts['el'][0]}", "--text", f"tr:{texts['tr'][0]}"),
    )
    return texts, str(out)


@pytest.fixture(scope="module")
def run_command_module():
    """run_command for a module-scoped fixture: the command's main(argv) in this process."""
    from importlib.metadata import entry_points

    def run(tool, *argv):
        (entry,) = entry_points(group="console_scripts", name=tool)
        entry.load()([str(a) for a in argv])

    return run


def test_new_scripts_are_covered_and_a_finely_split_language_takes_fewer_pieces(data_dir, extended):
    texts, out = extended
    before = {
        lang: unk_share_and_pieces_per_word(os.path.join(data_dir, "spm.model"), texts[lang][1]) for lang in texts
    }
    after = {lang: unk_share_and_pieces_per_word(os.path.join(out, "spm.model"), texts[lang][1]) for lang in texts}
    assert before["el"][0] > 0.3 and after["el"][0] <= 0.01, (before, after)  # Greek: <unk> share
    assert after["tr"][1] <= 0.7 * before["tr"][1], (before, after)  # Turkish: pieces per word
    manifest = json.load(open(os.path.join(out, "manifest.json"), encoding="utf-8"))
    assert manifest["pieces_added"] == PIECES and len(manifest["pieces"]) == PIECES
    assert manifest["texts"] == {lang: os.path.abspath(texts[lang][0]) for lang in texts}
    assert read(os.path.join(out, "checkpoint.pt"))["cfg"]["model"]["vocab_extension"]["pieces_added"] == PIECES


def test_nothing_old_moved(data_dir, trained_checkpoint, extended):
    _, out = extended
    old_proto, new_proto = model_pb2.ModelProto(), model_pb2.ModelProto()
    old_proto.ParseFromString(open(os.path.join(data_dir, "spm.model"), "rb").read())
    new_proto.ParseFromString(open(os.path.join(out, "spm.model"), "rb").read())
    old_pieces = [(p.piece, p.score, p.type) for p in old_proto.pieces]
    assert [(p.piece, p.score, p.type) for p in new_proto.pieces[: len(old_pieces)]] == old_pieces
    assert len(new_proto.pieces) == len(old_pieces) + PIECES
    old_dict = open(os.path.join(data_dir, "dict.txt"), encoding="utf-8").read().splitlines()
    new_dict = open(os.path.join(out, "dict.txt"), encoding="utf-8").read().splitlines()
    assert new_dict[: len(old_dict)] == old_dict and len(new_dict) == len(old_dict) + PIECES

    original, old_task, _ = load(trained_checkpoint, data=data_dir, cpu=True)
    grown, new_task, _ = load(os.path.join(out, "checkpoint.pt"), data=out, cpu=True)
    old_mask, new_mask = old_task.source_dictionary.index("<mask>"), new_task.source_dictionary.index("<mask>")
    assert new_mask == old_mask + PIECES
    embeddings = SENTENCE_ENCODER + "embed_tokens.weight"
    assert torch.equal(grown.state_dict()[embeddings][new_mask], original.state_dict()[embeddings][old_mask])

    d = old_task.source_dictionary
    processor = spm.SentencePieceProcessor(model_file=os.path.join(data_dir, "spm.model"))
    rows = [[d.bos(), *(d.index(p) for p in processor.encode(s, out_type=str)), d.eos()] for s in sentences("de")[:16]]
    tokens = data_utils.collate_tokens([torch.tensor(r) for r in rows], d.pad())
    masked = (torch.rand(tokens.shape, generator=torch.Generator().manual_seed(0)) < 0.15) & tokens.gt(3)
    with torch.no_grad():
        features, _ = original.encoder.extract_features(tokens.masked_fill(masked, old_mask))
        new_features, _ = grown.encoder.extract_features(tokens.masked_fill(masked, new_mask))
        logits = original.encoder.output_layer(features)
        new_logits = grown.encoder.output_layer(new_features)
    old_ids = torch.cat([torch.arange(old_mask), torch.arange(new_mask, new_logits.size(-1))])
    assert (new_features - features).abs().max() <= 1e-6
    assert (new_logits[..., old_ids] - logits).abs().max() <= 1e-6
    targets = tokens[masked]
    loss = F.cross_entropy(logits[masked], targets)
    # The masked-LM loss over the old words is the same; the new pieces take a little of the mass (their output
    # bias starts at log(--new-text-share)), so the full loss rises a little, and far less than with share 1.
    assert abs(F.cross_entropy(new_logits[..., old_ids][masked], targets) - loss) <= 1e-6
    full = F.cross_entropy(new_logits[masked], targets)
    assert 0 <= full - loss <= 0.02 * loss, (full, loss)


def prepared(vocabulary, corpora, out):
    options = PrepareOptions(
        spm_model=os.path.join(vocabulary, "spm.model"),
        dict=os.path.join(vocabulary, "dict.txt"),
        valid_size=0,
        test_size=0,
        workers=1,
    )
    prepare(corpora, str(out), options)
    return str(out)


def bits_per_character(run_command, checkpoint, data, langs):
    out = os.path.join(os.path.dirname(checkpoint), "bpc.json")
    run_command(
        "cxlm-perplexity", "--checkpoint", checkpoint, "--data", data, "--split", "train", "--mlm-langs",
        ",".join(langs), "--tlm-pairs", "", "--json", out, "--cpu",
    )  # fmt: skip
    results = json.load(open(out, encoding="utf-8"))["results"]
    return {lang: results[f"mlm {lang}"]["bpc"] for lang in langs}


def test_a_continuation_learns_the_new_language_better_and_keeps_the_old_ones(
    data_dir, trained_checkpoint, extended, tmp_path, run_command
):
    """The same 100 updates of MLM on de, fr and tr from the original and from the extended model, each with its
    own tokenizer; bits per character on held-out lines of each language."""
    texts, out = extended
    langs = (*OLD, "tr")
    train, held = {"tr": texts["tr"][0]}, {"tr": write(tmp_path / "tr.held", texts["tr"][1])}
    for lang in OLD:
        lines = sentences(lang)
        train[lang], held[lang] = (
            write(tmp_path / f"{lang}.txt", lines[-1500:-300]),
            write(tmp_path / f"{lang}.held", lines[-300:]),
        )
    bpc, continued = {}, {}
    for name, vocabulary, start in (
        ("original", data_dir, trained_checkpoint),
        ("extended", out, os.path.join(out, "checkpoint.pt")),
    ):
        data = prepared(vocabulary, [Corpus((lang,), (train[lang],)) for lang in langs], tmp_path / f"{name}-data")
        heldout = prepared(vocabulary, [Corpus((lang,), (held[lang],)) for lang in langs], tmp_path / f"{name}-held")
        save = tmp_path / name
        train_in_process(
            data, save, "--mlm-langs", ",".join(langs), "--tlm-pairs", "", "--ntxent-pairs", "none",
            "--ntxent-weight", "0", "--batch-size", "16", "--max-update", "100", "--no-epoch-checkpoints",
            "--disable-validation", "--restore-file", start, *RESETS,
        )  # fmt: skip
        continued[name] = (str(save / "checkpoint_last.pt"), data)
        bpc[name] = bits_per_character(run_command, continued[name][0], heldout, langs)
    assert bpc["extended"]["tr"] < bpc["original"]["tr"], bpc
    for lang in OLD:
        assert abs(bpc["extended"][lang] / bpc["original"][lang] - 1) <= 0.02, bpc

    # Export -> Hugging Face -> import: the tokenizers agree with ours on old and new text, and every tensor comes back.
    checkpoint, data = continued["extended"]
    hf = tmp_path / "hf"
    run_command("cxlm-export-hf", "--checkpoint", checkpoint, "--data", data, "--out", hf)
    _, task, _ = load(checkpoint, data=data, cpu=True)
    d = task.source_dictionary
    processor = spm.SentencePieceProcessor(model_file=os.path.join(data, "spm.model"))
    slow, fast = XLMRobertaTokenizer.from_pretrained(str(hf)), AutoTokenizer.from_pretrained(str(hf))
    assert fast.is_fast
    for lang, lines in (("de", sentences("de")[-50:]), ("tr", texts["tr"][1][:50]), ("el", texts["el"][1][:50])):
        ours = [[d.bos(), *(d.index(p) for p in processor.encode(s, out_type=str)), d.eos()] for s in lines]
        assert [slow(s)["input_ids"] for s in lines] == ours, lang
        assert [fast(s)["input_ids"] for s in lines] == ours, lang
    run_command("cxlm-import", "hf", hf, "--out", tmp_path / "back")
    back = read(str(tmp_path / "back" / "model.pt"))["model"]
    ours = read(checkpoint)["model"]
    assert set(back) <= set(ours)
    for name, tensor in back.items():
        assert torch.equal(tensor, ours[name]), name


def test_bpe_codes_are_refused_in_one_line(trained_checkpoint, tmp_path, run_command):
    (tmp_path / "xlm").mkdir()
    (tmp_path / "xlm" / "codes").write_text("a b 1\n")
    (tmp_path / "xlm" / "dict.txt").write_text("a 1\n")
    text = write(tmp_path / "el.txt", ["καλημέρα"])
    result = run_command(
        "cxlm-extend-vocab", "--checkpoint", trained_checkpoint, "--data", tmp_path / "xlm", "--text", f"el:{text}",
        "--pieces", "10", "--out", tmp_path / "out", check=False,
    )  # fmt: skip
    assert result.returncode == 2 and "BPE codes" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


def test_random_init_keeps_a_tied_head_tied_and_a_dictionary_without_its_last_newline(
    data_dir, trained_checkpoint, tmp_path
):
    from fairseq_contrastive_xlm.vocab_extension import extend_vocabulary

    vocabulary = tmp_path / "vocabulary"
    vocabulary.mkdir()
    (vocabulary / "spm.model").write_bytes(open(os.path.join(data_dir, "spm.model"), "rb").read())
    lines = open(os.path.join(data_dir, "dict.txt"), encoding="utf-8").read().rstrip("\n")
    (vocabulary / "dict.txt").write_text(lines, encoding="utf-8")  # no newline at its end
    text = write(tmp_path / "el.txt", sentences("el", 500))
    out = tmp_path / "out"
    extend_vocabulary(trained_checkpoint, str(vocabulary), [("el", text)], 20, str(out), init="random")
    new_dict = (out / "dict.txt").read_text(encoding="utf-8").split("\n")
    assert new_dict[: len(lines.split("\n"))] == lines.split("\n") and len(new_dict) == len(lines.split("\n")) + 21
    model = read(str(out / "checkpoint.pt"))["model"]
    embeddings = model[SENTENCE_ENCODER + "embed_tokens.weight"]
    assert torch.equal(model["encoder.lm_head.weight"], embeddings)
    first_new = len(lines.split("\n")) + 4
    rows = embeddings[first_new : first_new + 20]
    # fairseq's normal(0, 0.02): every row its own (the mean rule gives Greek's characters, spelled by no old piece,
    # one and the same row)
    assert torch.unique(rows, dim=0).size(0) == 20 and 0.015 < rows.std() < 0.025
