"""cxlm-prepare --parts: the plan here, the parts through submitit's local executor (the engine SLURM runs
behind --executor slurm), gathered into shards the task trains on; a rerun after a failure runs only what is
missing."""

import json
import os
import shutil

import numpy as np
import pytest
from fairseq.data import Dictionary

from fairseq_contrastive_xlm.cli import prepare as prepare_cli
from fairseq_contrastive_xlm.data import indexed
from fairseq_contrastive_xlm.prepare import parts

from corpus import usable_pairs
from helpers import train_in_process


@pytest.fixture(scope="module")
def raw(tmp_path_factory):
    root = tmp_path_factory.mktemp("raw")
    pairs = usable_pairs("de", 900)
    for side, name in ((0, "en"), (1, "de")):
        (root / f"en-de.{name}").write_text("".join(p[side] + "\n" for p in pairs), encoding="utf-8")
    (root / "mono.de").write_text("".join(t + "\n" for _, t in pairs[::-1]), encoding="utf-8")
    return ["--para", f"en-de:{root}/en-de.en,{root}/en-de.de", "--mono", f"de:{root}/mono.de"]


def sentences(directory):
    """Every sentence (its ids) of every split and dataset under a directory."""
    found = set()
    for root, _, names in os.walk(directory):
        for name in names:
            if name.endswith(".idx"):
                prefix = os.path.join(root, name[:-4])
                dtype, sizes = indexed.read_index(prefix + ".idx")
                ids = np.fromfile(prefix + ".bin", dtype=dtype)
                ends = np.cumsum(sizes)
                found |= {
                    (name.split(".")[-2] if "para" in root else "mono", tuple(s)) for s in np.split(ids, ends[:-1])
                }
    return found


def test_parts_give_the_shards_one_machine_gives_and_train(raw, tmp_path, caplog):
    whole = tmp_path / "whole"
    prepare_cli.main([*raw, "--vocab-size", "800", "--valid-size", "40", "--test-size", "40", "--out", str(whole)])
    vocabulary = ["--spm-model", str(whole / "spm.model"), "--dict", str(whole / "dict.txt")]
    out = tmp_path / "parts"
    argv = [*raw, *vocabulary, "--valid-size", "40", "--test-size", "40", "--workers", "1", "--parts", "3"]
    prepare_cli.main([*argv, "--out", str(out)])
    shards = [out / f"shard{i}" for i in range(3)]
    assert sorted(os.listdir(out)) == ["manifest.json", "shard0", "shard1", "shard2"]
    assert not os.path.exists(parts.parts_directory(str(out)))  # the plan and the parts' logs are gone
    # the same sentences as one machine makes (cleaning, encoding and the pair filter are per line)
    assert set().union(*(sentences(s) for s in shards)) == sentences(whole)
    assert {(s / "dict.txt").read_bytes() for s in shards} == {(whole / "dict.txt").read_bytes()}
    assert not os.path.exists(shards[1] / "mono" / "de" / "valid.idx")  # validation and test in shard0 only
    manifest = json.loads((out / "manifest.json").read_text())
    train = manifest["parallel"]["en-de"]["splits"]["train"]["sentences"]
    per_shard = [json.loads((s / "shard.json").read_text())["train_sentences"]["en-de"] for s in shards]
    assert train == sum(per_shard) and min(per_shard) > 200
    assert manifest["parallel"]["en-de"]["lines_read"] == 900
    prepare_cli.main(["--verify", str(out)])
    train_in_process(
        ":".join(map(str, shards)),
        tmp_path / "save",
        *("--tlm-pairs", "en-de", "--mlm-langs", "de", "--batch-size", "8", "--max-update", "2"),
        "--disable-validation",
    )
    assert (tmp_path / "save" / "checkpoint_last.pt").exists()


def test_a_rerun_after_a_failure_runs_only_the_missing_parts(raw, tmp_path, caplog, capsys, monkeypatch):
    out = tmp_path / "data"
    argv = [*raw, "--vocab-size", "800", "--valid-size", "40", "--test-size", "40", "--workers", "1", "--parts", "3"]
    args = prepare_cli.parse_args([*argv, "--out", str(out)])
    options = prepare_cli.PrepareOptions(
        **{f: getattr(args, f) for f in prepare_cli.PrepareOptions.__dataclass_fields__}
    )
    work = parts.parts_directory(str(out))
    parts.make_plan(prepare_cli.corpora_from(args), str(out), options, work)
    parts.run_part(work, 1)  # finished before the failure
    shutil.move(os.path.join(work, "spm.model"), tmp_path / "spm.model")  # every part that runs now fails
    with pytest.raises(SystemExit) as exit_info:
        prepare_cli.main([*argv, "--out", str(out)])
    err = capsys.readouterr().err.strip().splitlines()
    assert exit_info.value.code == 2 and err[-1].startswith("cxlm-prepare: error: 2 of 3 parts failed: part 0 (")
    assert "log: " in err[-1] and "rerun the same command" in err[-1] and not out.exists()
    shutil.move(tmp_path / "spm.model", os.path.join(work, "spm.model"))
    caplog.clear()

    def crash(*args):
        raise RuntimeError("the node went away while gathering")

    monkeypatch.setattr(parts, "finish_shards", crash)
    with pytest.raises(RuntimeError, match="went away"):
        parts.prepare_in_parts(prepare_cli.corpora_from(args), str(out), options)
    assert "3 parts: 1 finished, running 2 on local" in caplog.text
    assert all(os.path.isdir(os.path.join(work, f"part{i}")) for i in range(3)) and not out.exists()  # moved back
    monkeypatch.undo()
    caplog.clear()
    prepare_cli.main([*argv, "--out", str(out)])
    assert "3 parts: 3 finished, running 0 on local" in caplog.text
    dictionary = Dictionary.load(str(out / "shard0" / "dict.txt"))
    counts = sum(dictionary.count[dictionary.nspecial :])
    assert counts > 0  # the counts of the parts' training text, filled in when the dictionary was made here
    with pytest.raises(SystemExit):
        prepare_cli.main([*argv, "--out", str(out)])  # the output exists: --force, as without parts
