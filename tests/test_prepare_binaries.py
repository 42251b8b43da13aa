"""cxlm-prepare's one pass from text to ids against the slow road it replaced: piece strings written as text, pairs
filtered on piece counts, the dictionary counted piece by piece, and fairseq-preprocess itself binarizing each
split. Byte for byte, on a trained model, on a 250,000-entry dictionary (a 32-bit dtype) and on corpora read
from gzip, xz, bzip2 and zstd archives; a truncated archive is one line naming it."""

import bz2
import collections
import gzip
import json
import lzma
import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import zstandard

from fairseq_contrastive_xlm.cli import prepare as prepare_cli
from fairseq_contrastive_xlm.data import indexed
from fairseq_contrastive_xlm.errors import UserInputError
from fairseq_contrastive_xlm.prepare import pipeline
from fairseq_contrastive_xlm.prepare.layout import SPLITS, dataset_prefix
from fairseq_contrastive_xlm.text_files import read_lines
from fairseq_contrastive_xlm.tokenization import tokenizers

from corpus import usable_pairs
from helpers import preprocess_in_process

HELD_OUT = ["--valid-size", "60", "--test-size", "40"]


@pytest.fixture(scope="module")
def raw(tmp_path_factory):
    """en-de and en-ru pairs of real text (with a repeated pair and an over-long line), mono de and ru."""
    root = tmp_path_factory.mktemp("raw")
    argv = []
    for lang in ("de", "ru"):
        pairs = usable_pairs(lang, 700)
        pairs = pairs + pairs[:5] + [("x " * 1500, "y")]
        for side, name in ((0, "en"), (1, lang)):
            (root / f"en-{lang}.{name}").write_text("".join(p[side] + "\n" for p in pairs), encoding="utf-8")
        (root / f"mono.{lang}").write_text("".join(t + "\n" for _, t in pairs[::-1]), encoding="utf-8")
        argv += [
            "--para",
            f"en-{lang}:{root}/en-{lang}.en,{root}/en-{lang}.{lang}",
            "--mono",
            f"{lang}:{root}/mono.{lang}",
        ]
    return root, argv


@pytest.fixture(scope="module")
def trained(raw, tmp_path_factory):
    out = tmp_path_factory.mktemp("trained") / "data"
    prepare_cli.main([*raw[1], "--vocab-size", "1200", *HELD_OUT, "--workers", "2", "--out", str(out)])
    return out


def slow_road(argv, data, tmp):
    """The data directory's datasets as the old pipeline made them: the same cleaned lines and held-out lines
    (clean and split), then each line's pieces as text, the length-ratio filter on piece counts, and
    fairseq-preprocess with the directory's dictionary. Returns (relative dataset prefix -> our .bin/.idx bytes and
    fairseq-preprocess's), and the piece counts of the training text."""
    args = prepare_cli.parse_args([*argv, "--out", str(tmp / "unused")])
    options = pipeline.PrepareOptions(**{f: getattr(args, f) for f in pipeline.PrepareOptions.__dataclass_fields__})
    tokenizer = tokenizers.load("sentencepiece", str(data / "spm.model"))
    compared, train_pieces = {}, collections.Counter()
    for corpus in prepare_cli.corpora_from(args):
        work = tmp / corpus.name
        work.mkdir(parents=True)
        cleaned = pipeline.clean(corpus, options, str(work), map)
        held = pipeline.split(corpus, options)
        part_of = dict(zip(held.lines.tolist(), held.parts.tolist()))
        sides = [read_lines(cleaned.path(lang)) for lang in corpus.langs]
        pieces = [[" ".join(tokenizer.pieces(text)) for text in side] for side in sides]
        for side, lang in enumerate(corpus.langs):
            for part, split in enumerate(SPLITS):
                with open(work / f"{split}.{lang}", "w", encoding="utf-8") as out:
                    for number in range(len(sides[0])):
                        lengths = [len(p[number].split()) for p in pieces]
                        if part_of.get(number, 0) == part and (
                            not corpus.parallel or pipeline.ratio_ok(*lengths, options.max_length_ratio)
                        ):
                            out.write(pieces[side][number] + "\n")
                            if split == "train":
                                train_pieces.update(pieces[side][number].split())
            preprocess_in_process(
                *("--only-source", "--srcdict", data / "dict.txt", "--destdir", work / lang, "--workers", "1"),
                *("--trainpref", work / f"train.{lang}", "--validpref", work / f"valid.{lang}"),
                *("--testpref", work / f"test.{lang}"),
            )
            for split in SPLITS:
                ours = data / dataset_prefix(corpus, split, lang)
                for ext in ("bin", "idx"):
                    theirs = work / lang / f"{split}.{ext}"
                    compared[f"{dataset_prefix(corpus, split, lang)}.{ext}"] = (
                        (ours.parent / f"{ours.name}.{ext}").read_bytes(),
                        theirs.read_bytes(),
                    )
    return compared, train_pieces


def test_a_trained_model_s_binaries_are_fairseq_preprocess_bytes(raw, trained, tmp_path):
    compared, train_pieces = slow_road([*raw[1], "--vocab-size", "1200", *HELD_OUT], trained, tmp_path)
    assert len(compared) == 2 * 3 * (2 * 2 + 2)  # .bin and .idx; three splits; two pairs and two mono corpora
    for name, (ours, theirs) in compared.items():
        assert ours == theirs, name
    assert all(ours for ours, _ in compared.values())
    # dict.txt: the model's pieces in its order, with their counts in the training text (bincount of ids)
    processor = tokenizers.load_sentencepiece(str(trained / "spm.model"))
    expected = [
        f"{processor.id_to_piece(i)} {train_pieces[processor.id_to_piece(i)]}" for i in range(3, len(processor))
    ]
    assert (trained / "dict.txt").read_text(encoding="utf-8").splitlines() == expected
    assert sum(train_pieces.values()) > 10_000


def test_a_250k_dictionary_gives_32_bit_ids_and_the_same_bytes(raw, trained, tmp_path):
    """XLM-R's dictionary size: ids above 65,500 need uint32, as fairseq-preprocess picks; the pairs filtered
    harder (--max-length-ratio 1.5), in one worker."""
    big = tmp_path / "dict.txt"
    with open(big, "w", encoding="utf-8") as out:
        out.write((trained / "dict.txt").read_text(encoding="utf-8"))
        out.writelines(f"filler{i} 0\n" for i in range(250_000))
    out = tmp_path / "big"
    options = ["--spm-model", str(trained / "spm.model"), "--dict", str(big), *HELD_OUT, "--max-length-ratio", "1.5"]
    prepare_cli.main([*raw[1], *options, "--workers", "1", "--out", str(out)])
    compared, _ = slow_road([*raw[1], *options], out, tmp_path / "slow")
    for name, (ours, theirs) in compared.items():
        assert ours == theirs, name
    dtype, sizes = indexed.read_index(str(out / "para" / "en-ru" / "train.en-ru.ru.idx"))
    assert dtype == np.uint32 and len(sizes) > 500
    # the harder filter drops pairs the default keeps
    assert len(sizes) < len(indexed.read_index(str(trained / "para" / "en-ru" / "train.en-ru.ru.idx"))[1])


COMPRESSORS = {
    "gz": gzip.compress,
    "xz": lzma.compress,
    "bz2": bz2.compress,
    "zst": lambda data: zstandard.ZstdCompressor().compress(data),
}


def compressed_inputs(raw_root, tmp_path):
    """The raw corpora, each file in another of the four formats (some named without their extension: the
    format is told by the first bytes)."""
    names = sorted(p.name for p in raw_root.iterdir())
    formats = list(COMPRESSORS) * 2
    renamed = {}
    for index, name in enumerate(names):
        kind = formats[index % len(formats)]
        target = tmp_path / (f"{name}.{kind}" if index < 4 else name)
        target.write_bytes(COMPRESSORS[kind]((raw_root / name).read_bytes()))
        renamed[str(raw_root / name)] = str(target)
    return renamed


def test_compressed_corpora_give_the_same_data_directory(raw, trained, tmp_path):
    root, argv = raw
    renamed = compressed_inputs(root, tmp_path)
    compressed_argv = []
    for arg in argv:
        for plain, packed in renamed.items():
            arg = arg.replace(plain, packed)
        compressed_argv.append(arg)
    assert compressed_argv != argv
    out = tmp_path / "from-archives"
    prepare_cli.main([*compressed_argv, "--vocab-size", "1200", *HELD_OUT, "--workers", "2", "--out", str(out)])
    for directory, _, files in os.walk(trained):
        for name in files:
            path = os.path.join(directory, name)
            relative = os.path.relpath(path, trained)
            if name != "manifest.json":
                assert open(path, "rb").read() == open(out / relative, "rb").read(), relative
    assert read_lines(renamed[str(root / "mono.de")]) == read_lines(str(root / "mono.de"))


@pytest.mark.parametrize("kind", sorted(COMPRESSORS))
def test_a_truncated_archive_is_one_line_naming_it_and_leaves_nothing(raw, tmp_path, capsys, kind):
    root, _ = raw
    data = COMPRESSORS[kind]((root / "mono.de").read_bytes() * 4)
    broken = tmp_path / f"mono.de.{kind}"
    broken.write_bytes(data[: len(data) // 2])
    out = tmp_path / "out"
    with pytest.raises(SystemExit) as exit_info:
        prepare_cli.main(["--mono", f"de:{broken}", "--vocab-size", "300", "--workers", "2", "--out", str(out)])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith(f"cxlm-prepare: error: {broken}: the ") and "archive is truncated or damaged" in err[-1]
    assert "Traceback" not in "\n".join(err)
    assert sorted(os.listdir(tmp_path)) == [broken.name]  # no output, no staging directory
    with pytest.raises(UserInputError, match="truncated or damaged"):
        read_lines(str(broken))


def test_verify_checks_every_file_against_the_manifest(trained, tmp_path, capsys):
    copy = tmp_path / "copy"
    shutil.copytree(trained, copy)
    recorded = json.loads((copy / "manifest.json").read_text())["files"]
    assert "dict.txt" in recorded and "mono/de/train.bin" in recorded and "manifest.json" not in recorded
    prepare_cli.main(["--verify", str(copy)])
    assert f"{copy}: {len(recorded)} files" in capsys.readouterr().out
    data = bytearray((copy / "mono/de/train.bin").read_bytes())
    data[5] ^= 1
    (copy / "mono/de/train.bin").write_bytes(bytes(data))
    (copy / "para/en-ru/valid.en-ru.ru.idx").unlink()
    with pytest.raises(SystemExit) as exit_info:
        prepare_cli.main(["--verify", str(copy)])
    err = capsys.readouterr().err.strip()
    assert exit_info.value.code == 2 and len(err.splitlines()) == 1
    assert f"{copy}/mono/de/train.bin has another checksum" in err and "(and 1 more)" in err


def test_a_killed_run_s_staging_directory_is_removed_by_the_next(raw, tmp_path, caplog):
    """kill -9 runs no handler: OUT.partial-PID stays; the next run into OUT removes it and says so."""
    out = tmp_path / "data"
    argv = [*raw[1], "--vocab-size", "1200", *HELD_OUT, "--workers", "1", "--out", str(out)]
    child = subprocess.Popen([sys.executable, "-m", "fairseq_contrastive_xlm.cli.prepare", *argv])
    staging = tmp_path / f"data.partial-{child.pid}"
    deadline = time.monotonic() + 60
    while not staging.exists() and child.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    child.send_signal(signal.SIGKILL)
    child.wait()
    assert staging.is_dir() and not out.exists()
    prepare_cli.main(argv)
    assert not staging.exists() and out.is_dir()
    assert f"removed {staging}, left by a run that ended without finishing (process {child.pid} is gone)" in caplog.text


def test_xnli_and_retrieval_files_are_read_from_archives(tmp_path):
    """The other commands that take a corpus path read archives through the same reader."""
    from fairseq_contrastive_xlm.xnli import formats

    from xnli_fixtures import write_multinli_jsonl, write_xnli_dir

    write_multinli_jsonl(tmp_path / "train.jsonl")
    (tmp_path / "train.jsonl.zst").write_bytes(COMPRESSORS["zst"]((tmp_path / "train.jsonl").read_bytes()))
    assert formats.read(str(tmp_path / "train.jsonl.zst")) == formats.read(str(tmp_path / "train.jsonl"))
    write_xnli_dir(tmp_path / "xnli")
    dev = next((tmp_path / "xnli").rglob("*.dev.tsv"))
    packed = tmp_path / "dev.tsv.gz"
    packed.write_bytes(COMPRESSORS["gz"](dev.read_bytes()))
    assert formats.read(str(packed)) == formats.read(str(dev)) and formats.read(str(dev)).examples
