"""Retrieval scoring, the Tatoeba reader, perplexity and the embedding map."""

import json
import math
import os

import matplotlib.image
import numpy as np
import pytest
import torch
from fairseq import metrics

from fairseq_contrastive_xlm.cli import embed_plot, perplexity, retrieval
from fairseq_contrastive_xlm.criterions.masked_lm_ntxent import MaskedLmNTXentLoss
from fairseq_contrastive_xlm.evaluation import tatoeba
from fairseq_contrastive_xlm.evaluation.perplexity import masked_lm_loss
from fairseq_contrastive_xlm.evaluation.perplexity import perplexity as ppl
from fairseq_contrastive_xlm.evaluation.retrieval import ratio_margin, retrieval_accuracy, top1_accuracy

from helpers import batch_of, build_criterion, build_model, build_task

SHARED_TATOEBA = os.path.join(
    os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "shared", "data", "tatoeba"
)
needs_tatoeba = pytest.mark.skipif(
    not os.path.isdir(SHARED_TATOEBA), reason="../shared/data/tatoeba is not beside this checkout"
)


def test_identical_embeddings_retrieve_everything():
    x = np.random.default_rng(0).normal(size=(50, 16))
    scores = retrieval_accuracy(x, x.copy())
    assert all(v == 100.0 for method in scores.values() for v in method.values())


def test_a_fixed_permutation_gives_the_accuracy_it_implies():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(40, 32))
    moved = np.arange(40)
    moved[:10] = np.roll(moved[:10], 1)  # rows 0..9 now hold a neighbour's translation
    scores = retrieval_accuracy(x, x[moved])
    assert scores["cosine"] == {"src2tgt_acc": 75.0, "tgt2src_acc": 75.0}
    assert scores["margin"]["src2tgt_acc"] == 75.0


def test_margin_by_hand():
    # cos = [[0.9, 0.5], [0.4, 0.8]], k = 1: each side's nearest neighbour on the other side.
    similarity = np.array([[0.9, 0.5], [0.4, 0.8]])
    # source 0: best 0.9; source 1: best 0.8; target 0: best 0.9; target 1: best 0.8
    expected = np.array([[0.9 / (0.45 + 0.45), 0.5 / (0.45 + 0.4)], [0.4 / (0.4 + 0.45), 0.8 / (0.4 + 0.4)]])
    np.testing.assert_allclose(ratio_margin(similarity, k=1), expected)
    # With k = 2 every neighbourhood is the whole row or column.
    expected_k2 = similarity / (similarity.sum(axis=1, keepdims=True) / 4 + similarity.sum(axis=0, keepdims=True) / 4)
    np.testing.assert_allclose(ratio_margin(similarity, k=2), expected_k2)


def test_margin_discounts_a_hub():
    """Target 0 is near every source (0.8); sources 1 and 2 are at 0.75 from their own translations. Cosine
    sends both to the hub; with k = 2 the margin divides the hub's score by its crowded neighbourhood:
    margin(1, 0) = 0.8 / (1.55/4 + 1.6/4) = 1.016 < margin(1, 1) = 0.75 / (1.55/4 + 0.85/4) = 1.25."""
    similarity = np.array([[0.80, 0.10, 0.10], [0.80, 0.75, 0.10], [0.80, 0.10, 0.75]])
    assert top1_accuracy(similarity) == pytest.approx(100 / 3)
    margin = ratio_margin(similarity, k=2)
    assert margin[1, 0] == pytest.approx(0.8 / (1.55 / 4 + 1.6 / 4)) and margin[1, 1] == pytest.approx(
        0.75 / (1.55 / 4 + 0.85 / 4)
    )
    assert top1_accuracy(margin) == 100.0


@needs_tatoeba
def test_tatoeba_reader_on_the_shared_files():
    assert tatoeba.available(SHARED_TATOEBA) == [
        "ar",
        "bg",
        "de",
        "el",
        "es",
        "fr",
        "hi",
        "ru",
        "sw",
        "th",
        "tr",
        "ur",
        "vi",
        "zh",
    ]
    german, english = tatoeba.pairs(SHARED_TATOEBA, "de")
    assert len(german) == len(english) == 1000
    assert len(tatoeba.pairs(SHARED_TATOEBA, "sw")[0]) == 390 and len(tatoeba.pairs(SHARED_TATOEBA, "th")[0]) == 548


def test_perplexity_is_exp2_of_the_logged_loss(data_dir):
    """cxlm-perplexity's numbers and the criterion's logged mlm_ppl/tlm_ppl agree on the same items."""
    task = build_task(data_dir)
    task.load_dataset("valid")
    torch.manual_seed(0)
    model = build_model(task).eval()
    criterion = build_criterion(task)
    rows = range(12)
    with torch.no_grad():
        _, _, log = criterion(model, batch_of(task, "valid", rows))
    with metrics.aggregate() as agg:
        MaskedLmNTXentLoss.reduce_metrics([log])
        logged = agg.get_smoothed_values()
    dataset = task.datasets["valid"]
    for objective in ("mlm", "tlm"):
        which, item = dataset.draws[objective]
        items = [dataset.objectives[objective][which[i]][item[i]] for i in rows]
        batch = dataset.objectives[objective][0].collater(items)
        with torch.no_grad():
            loss, tokens = criterion.masked_lm_loss(model, batch)
        assert ppl(float(loss), int(tokens)) == pytest.approx(2 ** logged[f"{objective}_loss"], rel=2e-3)
        assert ppl(float(loss), int(tokens)) == pytest.approx(math.exp(float(loss) / int(tokens)))


def test_perplexity_command(trained_checkpoint, data_dir, tmp_path, capsys):
    out = tmp_path / "ppl.json"
    perplexity.main(
        [
            "--checkpoint",
            trained_checkpoint,
            "--data",
            data_dir,
            "--split",
            "valid",
            "--tlm-pairs",
            "en-fr",
            "--json",
            str(out),
        ]
    )
    results = json.loads(out.read_text())["results"]
    assert set(results) == {"mlm en", "mlm de", "tlm en-fr"}
    assert all(r["ppl"] == pytest.approx(2 ** r["loss_bits"]) and r["masked_tokens"] > 0 for r in results.values())
    again = tmp_path / "again.json"
    perplexity.main(
        ["--checkpoint", trained_checkpoint, "--data", data_dir, "--tlm-pairs", "en-fr", "--json", str(again)]
    )
    assert json.loads(again.read_text())["results"] == results  # fixed masks: the same numbers every time


@needs_tatoeba
def test_retrieval_command_on_tatoeba(trained_checkpoint, data_dir, tmp_path, capsys):
    out = tmp_path / "tatoeba.json"
    retrieval.main(
        [
            "--checkpoint",
            trained_checkpoint,
            "--data",
            data_dir,
            "--tatoeba",
            SHARED_TATOEBA,
            "--langs",
            "de,fr",
            "--pooling",
            "max",
            "--json",
            str(out),
        ]
    )
    report = json.loads(out.read_text())
    assert set(report["results"]) == {"de", "fr"} and report["results"]["de"]["pairs"] == 1000
    for method in ("cosine", "margin"):
        assert set(report["average"][method]) == {"xx2en_acc", "en2xx_acc"}
        assert all(0 <= v <= 100 for v in report["average"][method].values())
    assert report["pooling"] == "max"
    assert "average" in capsys.readouterr().out


def test_retrieval_command_on_two_files_and_its_errors(trained_checkpoint, data_dir, tmp_path, capsys):
    src, tgt = tmp_path / "s.txt", tmp_path / "t.txt"
    src.write_text("Open the file\nSave the file\nClose the window\n")
    tgt.write_text("Datei öffnen\nDatei speichern\nFenster schließen\n")
    out = tmp_path / "r.json"
    retrieval.main(
        [
            "--checkpoint",
            trained_checkpoint,
            "--data",
            data_dir,
            "--src",
            str(src),
            "--tgt",
            str(tgt),
            "--src-lang",
            "en",
            "--tgt-lang",
            "de",
            "--layer",
            "1",
            "--projection",
            "--json",
            str(out),
        ]
    )
    result = json.loads(out.read_text())["results"]["en-de"]
    assert result["pairs"] == 3 and set(result["cosine"]) == {"src2tgt_acc", "tgt2src_acc"}
    tgt.write_text("nur eine Zeile\n")
    with pytest.raises(SystemExit):
        retrieval.main(["--checkpoint", trained_checkpoint, "--data", data_dir, "--src", str(src), "--tgt", str(tgt)])
    assert "has 3 lines and" in capsys.readouterr().err


@needs_tatoeba
def test_embedding_map(trained_checkpoint, data_dir, tmp_path, capsys):
    out = tmp_path / "map.png"
    embed_plot.main(
        [
            "--checkpoint",
            trained_checkpoint,
            "--data",
            data_dir,
            "--tatoeba",
            SHARED_TATOEBA,
            "--langs",
            "de,ru",
            "--sentences",
            "60",
            "--out",
            str(out),
        ]
    )
    image = matplotlib.image.imread(str(out))
    assert image.shape[0] > 400 and image.shape[1] > 400 and image.std() > 0.05
    assert "mean cosine: translations" in capsys.readouterr().out


def test_retrieval_and_map_of_a_pairs_directory(trained_checkpoint, data_dir, tmp_path):
    from fairseq_contrastive_xlm.cli import gettext_corpus

    raw = tmp_path / "raw"
    gettext_corpus.main(["--langs", "de,fr", "--max-pairs", "300", "--heldout", "40", "--out", str(raw)])
    out = tmp_path / "heldout.json"
    retrieval.main(
        ["--checkpoint", trained_checkpoint, "--data", data_dir, "--pairs", str(raw / "heldout"), "--json", str(out)]
    )
    report = json.loads(out.read_text())
    assert set(report["results"]) == {"de", "fr"} and report["results"]["fr"]["pairs"] == 40
    assert set(report["average"]["margin"]) == {"xx2en_acc", "en2xx_acc"}
    embed_plot.main(
        [
            "--checkpoint",
            trained_checkpoint,
            "--data",
            data_dir,
            "--pairs",
            str(raw / "heldout"),
            "--method",
            "tsne",
            "--out",
            str(tmp_path / "map.png"),
        ]
    )
    assert matplotlib.image.imread(str(tmp_path / "map.png")).shape[0] > 400


def test_retrieval_of_every_checkpoint_of_a_run_in_one_process(trained_checkpoint, data_dir, tmp_path, capsys):
    run, pairs = os.path.dirname(trained_checkpoint), tmp_path / "pairs"
    pairs.mkdir()
    translations = {
        "de": "Datei öffnen\nSpeichern unter\nBeenden\n",
        "fr": "Ouvrir le fichier\nEnregistrer sous\nQuitter\n",
    }
    for lang, text in translations.items():
        (pairs / f"en-{lang}.en").write_text("Open file\nSave as\nQuit\n")
        (pairs / f"en-{lang}.{lang}").write_text(text, encoding="utf-8")
    argv = ["--data", data_dir, "--pairs", str(pairs)]
    retrieval.main(["--checkpoint", run, *argv, "--json", str(tmp_path / "out" / "heldout_{updates}.json")])
    assert sorted(os.listdir(tmp_path / "out")) == ["heldout_30.json", "heldout_60.json"]
    assert capsys.readouterr().out.count("== ") == 2
    for updates in (30, 60):  # each as a run on that checkpoint alone reports it
        alone = tmp_path / f"alone_{updates}.json"
        retrieval.main(["--checkpoint", os.path.join(run, f"checkpoint_1_{updates}.pt"), *argv, "--json", str(alone)])
        assert json.loads((tmp_path / "out" / f"heldout_{updates}.json").read_text()) == json.loads(alone.read_text())
    with pytest.raises(SystemExit) as exit_:  # one file for several checkpoints: refused before any work
        retrieval.main(["--checkpoint", run, *argv, "--json", str(tmp_path / "one.json")])
    assert exit_.value.code == 2 and "{updates} or {name}" in capsys.readouterr().err
    assert not (tmp_path / "one.json").exists()


def test_masked_lm_loss_counts_every_item(data_dir):
    task = build_task(data_dir)
    task.load_dataset("valid")
    model = build_model(task).eval()
    dataset = task.datasets["valid"].objectives["mlm"][0]
    _, tokens = masked_lm_loss(model, build_criterion(task), dataset, batch_size=7)
    expected = sum(int((dataset[i]["target"] != task.dictionary.pad()).sum()) for i in range(len(dataset)))
    assert tokens == expected


def test_summary_over_runs_reads_what_the_commands_wrote(trained_checkpoint, data_dir, tmp_path, capsys):
    from fairseq_contrastive_xlm.cli import gettext_corpus, summarize

    raw = tmp_path / "raw"
    gettext_corpus.main(["--langs", "de", "--max-pairs", "200", "--heldout", "30", "--out", str(raw)])
    runs = tmp_path / "runs"
    for name in ("contrastive_se_tlm", "baseline"):
        perplexity.main(
            [
                "--checkpoint",
                trained_checkpoint,
                "--data",
                data_dir,
                "--tlm-pairs",
                "en-fr",
                "--json",
                str(runs / name / "perplexity.json"),
            ]
        )
    retrieval.main(
        [
            "--checkpoint",
            trained_checkpoint,
            "--data",
            data_dir,
            "--pairs",
            str(raw / "heldout"),
            "--json",
            str(runs / "contrastive_se_tlm" / "heldout.json"),
        ]
    )
    (runs / "notes").mkdir()  # a folder without results is left out
    capsys.readouterr()
    summarize.main(["--runs", str(runs)])
    table = capsys.readouterr().out.splitlines()
    assert table[0] == "| run | MLM ppl | TLM ppl | held-out xx→en | held-out en→xx |"
    assert [line.split(" | ")[0] for line in table[2:]] == ["| baseline", "| contrastive_se_tlm"]  # the paper's order
    summary = json.loads((runs / "summary.json").read_text())
    rows = summary["rows"]
    ppl_results = json.loads((runs / "baseline" / "perplexity.json").read_text())["results"]
    assert rows["baseline"]["mlm_ppl"] == pytest.approx(
        (ppl_results["mlm en"]["ppl"] + ppl_results["mlm de"]["ppl"]) / 2
    )
    heldout = json.loads((runs / "contrastive_se_tlm" / "heldout.json").read_text())
    assert rows["contrastive_se_tlm"]["heldout"]["de"] == {
        "xx2en": heldout["results"]["de"]["cosine"]["xx2en_acc"],
        "en2xx": heldout["results"]["de"]["cosine"]["en2xx_acc"],
    }
    assert rows["contrastive_se_tlm"]["heldout"]["mean"] == pytest.approx(
        (heldout["average"]["cosine"]["xx2en_acc"] + heldout["average"]["cosine"]["en2xx_acc"]) / 2
    )
    assert rows["baseline"]["heldout"] is None and rows["baseline"]["mining_f1"] is None  # null, not left out
    assert summary["forgetting"] is None and summary["seconds"] is None
    assert "held-out xx→en" not in table[2] and table[2].endswith("|  |  |")
    assert (runs / "summary.md").read_text().splitlines() == table

    # the demo's form: chosen rows in order, each language, the forgetting ratio and the durations
    (runs / "seconds.json").write_text('{"stage1": 12.5, "total": 30}')
    argv = ["--runs", str(runs), "--order", "contrastive_se_tlm,baseline", "--per-language"]
    summarize.main([*argv, "--forgetting", "contrastive_se_tlm/baseline", "--seconds", str(runs / "seconds.json")])
    table = capsys.readouterr().out.splitlines()
    assert table[0].startswith("| run | MLM ppl | TLM ppl | held-out de→en | held-out en→de | held-out xx→en")
    assert table[0].endswith("| held-out mean |") and table[2].startswith("| contrastive_se_tlm |")
    summary = json.loads((runs / "summary.json").read_text())
    mlm = {name: summary["rows"][name]["mlm_ppl"] for name in ("contrastive_se_tlm", "baseline")}
    assert summary["forgetting"] == pytest.approx(mlm["contrastive_se_tlm"] / mlm["baseline"])
    assert f"= {summary['forgetting']:.3f}" in table[-1] and summary["seconds"] == {"stage1": 12.5, "total": 30}
    for bad, message in ((["--order", "nothing"], "no run nothing"), (["--seconds", str(raw)], "not a JSON file")):
        with pytest.raises(SystemExit):
            summarize.main(["--runs", str(runs), *bad])
        assert message in capsys.readouterr().err
    with pytest.raises(SystemExit):
        summarize.main(["--runs", str(runs / "notes")])
    assert "no results under" in capsys.readouterr().err


def test_retrieval_cuts_sentences_longer_than_the_model_and_counts_them(trained_checkpoint, data_dir, tmp_path, caplog):
    """Data prepared once may meet a model with fewer positions (128 here): every sentence is still embedded and
    scored, cut to fit, and the report says how many were cut."""
    long_en = " ".join(["Open the file and save the window"] * 60)  # far beyond 128 pieces
    long_de = " ".join(["Datei öffnen und Fenster speichern"] * 60)
    src, tgt = tmp_path / "s.txt", tmp_path / "t.txt"
    src.write_text(f"Open the file\n{long_en}\nClose the window\n")
    tgt.write_text(f"Datei öffnen\n{long_de}\nFenster schließen\n")
    out = tmp_path / "r.json"
    argv = ["--checkpoint", trained_checkpoint, "--data", data_dir, "--src", str(src), "--tgt", str(tgt)]
    retrieval.main([*argv, "--src-lang", "en", "--tgt-lang", "de", "--json", str(out)])
    report = json.loads(out.read_text())
    assert report["truncated_sentences"] == 2 and report["max_positions"] == 128
    assert report["results"]["en-de"]["pairs"] == 3
    assert "2 sentences are longer than the model's 128 positions" in caplog.text
