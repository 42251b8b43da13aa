"""examples/ablation/run.sh at toy size on the tests' corpus, and cxlm-ablation-report's table and curves."""

import json
import os
import subprocess
import sys

import matplotlib.image

from corpus import usable_pairs
from helpers import REPO


def test_the_ablation_script_and_its_report(data_dir, trained_checkpoint, tmp_path):
    demo = tmp_path / "demo"
    (demo / "raw" / "heldout").mkdir(parents=True)
    os.symlink(data_dir, demo / "data")
    for lang in ("de", "fr"):  # held-out pairs in cxlm-gettext-corpus --heldout's layout
        pairs = usable_pairs(lang, 3000)[-40:]
        for side, name in ((0, "en"), (1, lang)):
            (demo / "raw" / "heldout" / f"en-{lang}.{name}").write_text("".join(p[side] + "\n" for p in pairs))
    variants = tmp_path / "variants.tsv"
    variants.write_text("# name\toptions\ndefault\t\nviews_dropout_0\t--ntxent-dropout 0\nunused\t--lr 1\n")
    env = {
        **os.environ,
        "PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"],
        "DEMO": str(demo),
        "RUN": str(tmp_path / "ablation"),
        "VARIANTS": str(variants),
        "ONLY": "default views_dropout_0",
        "SEEDS": "1",
        "UPDATES": "4",
        "INTERVAL": "2",
        "LANGS": "de,fr",
        "SPLIT": "valid",  # the tests' corpus has no test split
        "TATOEBA": str(tmp_path / "none"),
        "MODEL": "--encoder-layers 1 --encoder-embed-dim 32 --encoder-ffn-embed-dim 64 --encoder-attention-heads 2",
    }
    script = ["bash", "examples/ablation/run.sh"]
    first = subprocess.run(script, cwd=REPO, env=env, capture_output=True, text=True)
    assert first.returncode == 0, first.stdout[-2000:] + first.stderr[-3000:]
    runs = tmp_path / "ablation"
    assert sorted(os.listdir(runs / "default" / "seed1")) == [
        "heldout.json",
        "heldout_2.json",
        "heldout_4.json",
        "perplexity.json",
        "seconds.txt",
        "train.log",
    ]
    assert not (runs / "unused").exists()
    log = (runs / "views_dropout_0" / "seed1" / "train.log").read_text()
    assert "'ntxent_dropout': 0.0" in log or "ntxent_dropout=0.0" in log
    again = subprocess.run(
        script, cwd=REPO, env={**env, "SEEDS": "1 2", "ONLY": "default"}, capture_output=True, text=True
    )
    assert again.returncode == 0 and "default seed 1: done before" in again.stdout
    # START: every run continues that checkpoint (the study on the paper's protocol), with fresh schedules
    small = "--encoder-layers 2 --encoder-embed-dim 64 --encoder-ffn-embed-dim 128 --encoder-attention-heads 2"
    continued = subprocess.run(
        script,
        cwd=REPO,
        env={
            **env,
            "ONLY": "default",
            "START": trained_checkpoint,
            "BASELINE": "",
            "MODEL": small,
            "RUN": str(runs) + "_c",
        },
        capture_output=True,
        text=True,
    )
    assert continued.returncode == 0, continued.stdout[-2000:] + continued.stderr[-3000:]
    log = (tmp_path / "ablation_c" / "default" / "seed1" / "train.log").read_text()
    assert f"Loaded checkpoint {trained_checkpoint}" in log  # from its 60 updates, counted again from 0:
    assert {"heldout_2.json", "heldout_4.json"} <= set(os.listdir(tmp_path / "ablation_c" / "default" / "seed1"))
    report = json.loads((runs / "ablation.json").read_text())
    rows = report["rows"]
    assert set(rows) == {"default", "views_dropout_0", "char_ngram"}
    assert rows["default"]["seeds"] == 2 and rows["views_dropout_0"]["seeds"] == 1
    assert "held-out spread" in rows["default"] and "MLM ppl" in rows["default"] and "train s" in rows["default"]
    assert set(report["curves"]["default"]) == {"2", "4"}
    table = (runs / "ablation.md").read_text()
    assert table.splitlines()[0].startswith("| variant | seeds | held-out |") and "| char_ngram | 1 |" in table
    image = matplotlib.image.imread(str(runs / "retrieval_curves.png"))
    assert image.shape[0] > 300 and image.std() > 0.05
