"""The contrastive settings the ablation study varies: the views' own dropout, a learned temperature, the
projection head's shape, and the character n-gram reference row of every retrieval table."""

import json
import math

import numpy as np
import pytest
import torch
from fairseq.modules.fairseq_dropout import FairseqDropout

from fairseq_contrastive_xlm.cli import retrieval
from fairseq_contrastive_xlm.evaluation.retrieval import accuracy_of_similarity, char_ngram_similarity, ratio_margin
from fairseq_contrastive_xlm.losses import nt_xent

from helpers import batch_of, build_criterion, build_model, build_task


@pytest.fixture(scope="module")
def task(data_dir):
    task = build_task(data_dir, mlm_langs="en", tlm_pairs="en-de", ntxent_pack_views=False)  # one row a view
    task.load_dataset("train")
    return task


def views_of(task, n=6):
    return batch_of(task, "train", range(n))["ntxent"]["net_input"]


def test_views_dropout_zero_makes_the_views_forward_deterministic_and_leaves_the_lm_forward_alone(task):
    torch.manual_seed(0)
    model = build_model(task, dropout=0.3, attention_dropout=0.3).train()  # the default: --ntxent-dropout 0
    views = views_of(task)
    first, second = (model(**views, ntxent_projection=True)[0] for _ in range(2))
    torch.testing.assert_close(first, second, rtol=0, atol=0)
    lm_a, lm_b = (model(views["src_tokens"])[0] for _ in range(2))
    assert not torch.equal(lm_a, lm_b)  # the MLM/TLM forwards keep their dropout
    assert {m.p for m in model.modules() if isinstance(m, FairseqDropout)} == {0.0, 0.3}  # restored after


def test_the_views_can_keep_the_models_dropout(task):
    torch.manual_seed(0)
    model = build_model(task, dropout=0.3, ntxent_dropout=0.3).train()
    views = views_of(task)
    assert not torch.equal(*(model(**views, ntxent_projection=True)[0] for _ in range(2)))


def test_a_learned_temperature_is_used_clamped_and_trained(task):
    torch.manual_seed(0)
    model = build_model(task, ntxent_learned_temperature=0.05, ntxent_temperature=0.5)
    assert model.ntxent_temperature().item() == pytest.approx(0.05)
    batch = batch_of(task, "train", range(6))
    criterion = build_criterion(task, ntxent_weight=1.0)
    loss, _, log = criterion(model, batch)
    projections = model(**batch["ntxent"]["net_input"], ntxent_projection=True)[0]
    expected = nt_xent(projections[:6], projections[6:], 0.05).loss
    torch.testing.assert_close(log["ntxent_loss"], expected.detach())  # 0.05, not the fixed 0.5
    assert log["ntxent_temperature"] == pytest.approx(0.05 * log["ntxent_views"])
    loss.backward()
    assert model.ntxent_log_scale.grad is not None and model.ntxent_log_scale.grad.abs() > 0
    with torch.no_grad():
        model.ntxent_log_scale.fill_(math.log(1000.0))
    assert model.ntxent_temperature().item() == pytest.approx(0.01)  # CLIP's clamp: scale at most 100


@pytest.mark.parametrize(
    "head, hidden, width", [("mlp", 0, 32), ("mlp", 48, 48), ("linear", 0, None), ("none", 0, None)]
)
def test_projection_head_shapes(task, head, hidden, width):
    model = build_model(task, ntxent_head=head, ntxent_head_hidden=hidden)
    views = views_of(task)
    projections = model(**views, ntxent_projection=True)[0]
    if head == "none":
        assert model.ntxent_head is None
        torch.testing.assert_close(
            projections, model.sentence_embedding(views["src_tokens"], lang_ids=views["lang_ids"])
        )
    elif head == "linear":
        assert model.ntxent_head.dense is None and projections.shape == (12, 16)
    else:
        assert model.ntxent_head.dense.out_features == width and projections.shape == (12, 16)


def test_char_ngram_similarity_by_hand():
    similarity = char_ngram_similarity(["abc abc", "xyz"], ["abc", "xyq"], n=3)
    # 'abc abc' and 'abc' share every trigram (' ab', 'abc', 'bc '): the same direction, cosine 1
    assert similarity[0, 0] == pytest.approx(1.0) and similarity[0, 1] == pytest.approx(0.0)
    assert 0 < similarity[1, 1] < 1 and similarity[1, 0] == pytest.approx(0.0)
    scores = accuracy_of_similarity(similarity, k=1)
    assert scores["cosine"] == {"src2tgt_acc": 100.0, "tgt2src_acc": 100.0}
    # a sentence that shares no trigram with any candidate: its margins are 0, not 0/0
    margin = ratio_margin(np.array([[1.0, 0.0], [0.0, 0.0]]), k=1)
    assert np.isfinite(margin).all() and margin[1].tolist() == [0.0, 0.0]


def test_the_baseline_row_from_the_command(tmp_path, capsys):
    (tmp_path / "en-de.en").write_text("Open the file\nSave as PDF\nQuit\n")
    (tmp_path / "en-de.de").write_text("Datei öffnen\nAls PDF speichern\nBeenden\n")
    retrieval.main(["--baseline", "char-ngram", "--pairs", str(tmp_path), "--json", str(tmp_path / "b.json")])
    report = json.loads((tmp_path / "b.json").read_text())
    assert report["baseline"] == "char-ngram" and "checkpoint" not in report
    assert report["results"]["de"]["pairs"] == 3 and report["average"]["cosine"]["xx2en_acc"] >= 100 / 3
    with pytest.raises(SystemExit):
        retrieval.main(["--baseline", "char-ngram", "--checkpoint", "x.pt", "--pairs", str(tmp_path)])
    assert "give --checkpoint and --data, or --st-model, or --baseline char-ngram" in capsys.readouterr().err
    assert np.isfinite(report["average"]["margin"]["en2xx_acc"])
