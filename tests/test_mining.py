"""Bitext mining (cxlm-embed, cxlm-mine, the BUCC reader): the margin is the formula, each strategy is its brute-force
definition, and on a real mining set (held-out gettext translations hidden among sentences without one) the
command's precision, recall and F1 equal a computation by hand on the same embeddings."""

import json
import os

import numpy as np
import pytest

from fairseq_contrastive_xlm.evaluation import bucc, mining
from fairseq_contrastive_xlm.evaluation.retrieval import cosine, ratio_margin

from corpus import usable_pairs


def test_margin_is_the_formula_on_a_hand_made_example():
    x = np.array([[1.0, 0.0], [0.6, 0.8], [0.0, 1.0]])
    y = np.array([[0.8, 0.6], [0.0, 1.0], [1.0, 0.1]])
    found = mining.margin_candidates(x, y, k=2, strategy="forward", kind="flat")
    c = cosine(x, y)
    # x0's two nearest targets: y2 (0.995) and y0 (0.8); y2's two nearest sources: x0 (0.995) and x1 (0.676)
    i = int(np.where(found.source == 0)[0][0])
    assert found.target[i] == 2
    expected = c[0, 2] / ((np.sort(c[0])[-2:].mean() + np.sort(c[:, 2])[-2:].mean()) / 2)
    assert found.scores[i] == pytest.approx(expected, rel=1e-5)
    # the same number as the retrieval tables' dense ratio margin
    assert found.scores[i] == pytest.approx(ratio_margin(c, k=2)[0, 2], rel=1e-5)


def brute_force(x, y, k, strategy):
    """Each strategy from the dense margin matrix: {(source row, target row): score}."""
    m = ratio_margin(cosine(x, y), k)
    forward = {(i, int(m[i].argmax())): m[i].max() for i in range(len(x))}
    backward = {(int(m[:, j].argmax()), j): m[:, j].max() for j in range(len(y))}
    if strategy == "forward":
        return forward
    if strategy == "backward":
        return backward
    if strategy == "intersect":
        return {pair: s for pair, s in forward.items() if pair in backward}
    kept, used_x, used_y = {}, set(), set()
    for (i, j), s in sorted([*forward.items(), *backward.items()], key=lambda item: -item[1]):
        if i not in used_x and j not in used_y:
            kept[(i, j)] = s
            used_x.add(i)
            used_y.add(j)
    return kept


@pytest.mark.parametrize("strategy", mining.STRATEGIES)
def test_each_strategy_is_its_brute_force_definition(strategy):
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(40, 8)), rng.normal(size=(55, 8))
    y[:30] = x[:30] + 0.3 * rng.normal(size=(30, 8))  # 30 translations among unrelated sentences
    found = mining.margin_candidates(x, y, k=4, strategy=strategy, kind="flat")
    mined = {(int(i), int(j)): float(s) for s, i, j in zip(*found)}
    expected = brute_force(x, y, 4, strategy)
    assert mined.keys() == expected.keys()
    for pair, score in expected.items():
        assert mined[pair] == pytest.approx(score, rel=1e-5)
    assert list(found.scores) == sorted(found.scores, reverse=True)


def test_ivf_index_finds_what_the_exact_one_finds_on_clustered_data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3000, 16)).astype(np.float32)
    exact = mining.knn(mining.unit_rows(x[:200]), mining.unit_rows(x), 4, "flat")[1]
    approximate = mining.knn(mining.unit_rows(x[:200]), mining.unit_rows(x), 4, "ivf")[1]
    assert (exact[:, 0] == np.arange(200)).all()
    assert np.mean(exact[:, 0] == approximate[:, 0]) > 0.95


def test_tune_threshold_maximises_f1():
    scores = [0.9, 0.8, 0.7, 0.6, 0.5]
    pairs = [("a", "1"), ("b", "2"), ("x", "9"), ("c", "3"), ("y", "8")]
    gold = {("a", "1"), ("b", "2"), ("c", "3"), ("d", "4")}
    threshold, measured = mining.tune_threshold(scores, pairs, gold)
    # keeping 2: P 1, R .5, F1 .667; 4: P .75, R .75, F1 .75 (best); 5: P .6, R .75, F1 .667
    assert threshold == 0.6 and measured["f1"] == pytest.approx(75.0) and measured["found"] == 3


@pytest.fixture(scope="module")
def mining_set(tmp_path_factory):
    """60 held-out gettext translations (not among the 2,500 pairs the corpus trains on) hidden among 200 German
    and 200 English sentences whose translations are not there; both sides shuffled; gold as line numbers."""
    pairs = usable_pairs("de", 3200)[2500:2960]
    found = mining.hide_translations([p[1] for p in pairs], [p[0] for p in pairs], hidden=60)
    assert len(found.foreign) == len(found.english) == 260 and len(found.gold) == 60
    out = tmp_path_factory.mktemp("mining_set")
    (out / "de.txt").write_text("".join(s + "\n" for s in found.foreign), encoding="utf-8")
    (out / "en.txt").write_text("".join(s + "\n" for s in found.english), encoding="utf-8")
    (out / "gold.tsv").write_text("".join(f"{i + 1}\t{j + 1}\n" for i, j in sorted(found.gold)))
    return out


def test_mining_a_real_set_equals_a_computation_by_hand(
    trained_checkpoint, data_dir, mining_set, tmp_path, run_command
):
    model = ["--checkpoint", trained_checkpoint, "--data", data_dir]
    run_command(
        "cxlm-embed",
        *model,
        "--input",
        str(mining_set / "de.txt"),
        str(mining_set / "en.txt"),
        "--out",
        str(tmp_path / "de.npy"),
        str(tmp_path / "en.npy"),
        "--dtype",
        "float32",
        "--chunk",
        "37",
    )
    x, y = np.load(tmp_path / "de.npy"), np.load(tmp_path / "en.npy")
    assert x.shape == (260, 64) and y.shape == (260, 64) and x.dtype == np.float32

    result = run_command(
        "cxlm-mine",
        "--src",
        str(mining_set / "de.txt"),
        "--tgt",
        str(mining_set / "en.txt"),
        "--src-emb",
        str(tmp_path / "de.npy"),
        "--tgt-emb",
        str(tmp_path / "en.npy"),
        "--gold",
        str(mining_set / "gold.tsv"),
        "--tune",
        "--out",
        str(tmp_path / "mined.tsv"),
        "--json",
        str(tmp_path / "mined.json"),
    )
    report = json.loads((tmp_path / "mined.json").read_text())

    # By hand: dense margin matrix, LASER's max strategy, every threshold tried.
    german = (mining_set / "de.txt").read_text(encoding="utf-8").splitlines()
    english = (mining_set / "en.txt").read_text(encoding="utf-8").splitlines()
    assert len(set(german)) == len(german) and len(set(english)) == len(english)  # no duplicates to merge here
    gold = {
        (int(a) - 1, int(b) - 1)
        for a, b in (line.split("\t") for line in (mining_set / "gold.tsv").read_text().splitlines())
    }
    mined = sorted(brute_force(x.astype(np.float64), y.astype(np.float64), 4, "max").items(), key=lambda it: -it[1])
    best = None
    for n in range(1, len(mined) + 1):
        found = sum(pair in gold for pair, _ in mined[:n])
        precision, recall = found / n, found / len(gold)
        f1 = 2 * precision * recall / (precision + recall) if found else 0.0
        if best is None or f1 > best[0] + 1e-12:
            best = (f1, precision, recall, mined[n - 1][1], n)
    f1, precision, recall, threshold, kept = best
    assert report["scores"]["f1"] == pytest.approx(100 * f1, abs=1e-6)
    assert report["scores"]["precision"] == pytest.approx(100 * precision, abs=1e-6)
    assert report["scores"]["recall"] == pytest.approx(100 * recall, abs=1e-6)
    assert report["threshold"] == pytest.approx(threshold, rel=1e-5)
    lines = (tmp_path / "mined.tsv").read_text(encoding="utf-8").splitlines()
    assert len(lines) == report["written"] == kept
    score, de, en = lines[0].split("\t")
    assert float(score) == pytest.approx(mined[0][1], rel=1e-5)
    assert (german.index(de), english.index(en)) == mined[0][0]
    assert "F1" in result.stdout

    # Embedded by the command itself (--checkpoint), without a threshold: the candidates of the computation by hand,
    # with their scores (the embeddings differ from cxlm-embed's only by float rounding of other batchings).
    run_command(
        "cxlm-mine",
        "--src",
        str(mining_set / "de.txt"),
        "--tgt",
        str(mining_set / "en.txt"),
        *model,
        "--src-lang",
        "de",
        "--out",
        str(tmp_path / "direct.tsv"),
    )
    direct = {}
    for line in (tmp_path / "direct.tsv").read_text(encoding="utf-8").splitlines():
        score, de, en = line.split("\t")
        direct[(german.index(de), english.index(en))] = float(score)
    # Rounding can flip near-ties in the max strategy's greedy choice (measured: 2 of the candidates with mean pooling):
    # nearly every pair agrees, and the shared ones score the same.
    shared = direct.keys() & dict(mined).keys()
    assert len(shared) >= 0.97 * len(mined)
    for pair, score in mined:
        if pair in shared:
            assert direct[pair] == pytest.approx(score, rel=1e-3)


def test_duplicates_are_merged(tmp_path, run_command):
    """Repeated lines are one sentence: embedded (here: read) once, mined once. Embeddings made by hand, so that the
    answer does not hang on a model's quality: "Datei öffnen" is near "Open the file", "Fenster schließen" near
    "Close the window"."""
    (tmp_path / "s.txt").write_text("Datei öffnen\nDatei öffnen\nFenster schließen\n", encoding="utf-8")
    (tmp_path / "t.txt").write_text("Close the window\nOpen the file\nOpen the file\n", encoding="utf-8")
    np.save(tmp_path / "s.npy", np.array([[1, 0, 0.1], [1, 0, 0.1], [0, 1, 0.1]], dtype=np.float32))
    np.save(tmp_path / "t.npy", np.array([[0, 1, 0], [1, 0.1, 0], [1, 0.1, 0]], dtype=np.float32))
    run_command(
        "cxlm-mine",
        "--src",
        str(tmp_path / "s.txt"),
        "--tgt",
        str(tmp_path / "t.txt"),
        "--src-emb",
        str(tmp_path / "s.npy"),
        "--tgt-emb",
        str(tmp_path / "t.npy"),
        "-k",
        "1",
        "--strategy",
        "max",
        "--out",
        str(tmp_path / "m.tsv"),
    )
    mined = [line.split("\t")[1:] for line in (tmp_path / "m.tsv").read_text(encoding="utf-8").splitlines()]
    # 2 distinct sentences a side, each used once
    assert sorted(map(tuple, mined)) == [("Datei öffnen", "Open the file"), ("Fenster schließen", "Close the window")]


def write_bucc(directory, lang, split, foreign, english, gold=None):
    folder = directory / f"{lang}-en"
    folder.mkdir(parents=True, exist_ok=True)
    prefix = folder / f"{lang}-en.{split}"
    (folder / f"{prefix.name}.{lang}").write_text("".join(f"{i}\t{s}\n" for i, s in foreign), encoding="utf-8")
    (folder / f"{prefix.name}.en").write_text("".join(f"{i}\t{s}\n" for i, s in english), encoding="utf-8")
    if gold is not None:
        (folder / f"{prefix.name}.gold").write_text("".join(f"{a}\t{b}\n" for a, b in gold))


def bucc_fixture(directory, pairs, split, offset=0, with_gold=True):
    foreign = [(f"de-{offset + i:09d}", p[1]) for i, p in enumerate(pairs)]
    english = [(f"en-{offset + i:09d}", p[0]) for i, p in enumerate(pairs[:30])] + [
        (f"en-{offset + 900 + i:09d}", s) for i, s in enumerate(["Quit", "Print the page", "Undo"])
    ]
    gold = [(f"de-{offset + i:09d}", f"en-{offset + i:09d}") for i in range(30)] if with_gold else None
    write_bucc(directory, "de", split, foreign, english, gold)


def test_bucc_reader_and_command_on_official_format_fixtures(trained_checkpoint, data_dir, tmp_path, run_command):
    pairs = usable_pairs("de", 3200)[2500:]
    bucc_fixture(tmp_path / "bucc", pairs[:50], "training")
    bucc_fixture(tmp_path / "bucc", pairs[50:90], "sample", offset=5000)
    bucc_fixture(tmp_path / "bucc", pairs[90:130], "test", offset=7000, with_gold=False)
    split = bucc.read_split(str(tmp_path / "bucc"), "de", "training")
    assert len(split.foreign) == 50 and len(split.english) == 33 and len(split.gold) == 30
    assert split.foreign["de-000000003"] == pairs[3][1]
    assert bucc.read_split(str(tmp_path / "bucc"), "de", "test").gold is None

    out, report = tmp_path / "test_pairs.tsv", tmp_path / "bucc.json"
    run_command(
        "cxlm-mine",
        "--bucc",
        str(tmp_path / "bucc"),
        "--lang",
        "de",
        "--checkpoint",
        trained_checkpoint,
        "--data",
        data_dir,
        "--out",
        str(out),
        "--json",
        str(report),
    )
    measured = json.loads(report.read_text())
    assert {"training", "sample", "threshold"} <= set(measured)
    assert 0 <= measured["sample"]["f1"] <= 100 and measured["training"]["f1"] > 0
    ids = [line.split("\t") for line in out.read_text().splitlines()]
    assert ids and all(a.startswith("de-00000") and b.startswith("en-00000") for a, b in ids)
    assert measured["test_pairs"] == len(ids)


@pytest.mark.parametrize(
    "case, message",
    [
        ("rows", "has 3 rows but"),
        ("width", "16 wide and the target's 8"),
        ("dtype", "holds a int64 array"),
        ("empty", "is empty: nothing to mine"),
        ("gold", "beyond the 4 source and 4 target lines"),
    ],
)
def test_bad_input_is_one_line_and_writes_nothing(tmp_path, case, message, run_command):
    src, tgt, gold = tmp_path / "s.txt", tmp_path / "t.txt", tmp_path / "gold.tsv"
    src.write_text("a\nb\nc\nd\n")
    tgt.write_text("w\nx\ny\nz\n")
    gold.write_text("1\t2\n")
    x, y = np.zeros((4, 8), np.float32), np.zeros((4, 8), np.float32)
    if case == "rows":
        x = x[:3]
    elif case == "width":
        x = np.zeros((4, 16), np.float32)
    elif case == "dtype":
        x = np.zeros((4, 8), np.int64)
    elif case == "empty":
        src.write_text("")
    elif case == "gold":
        gold.write_text("1\t2\n5\t1\n")
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", y)
    out = tmp_path / "mined.tsv"
    result = run_command(
        "cxlm-mine",
        "--src",
        str(src),
        "--tgt",
        str(tgt),
        "--src-emb",
        str(tmp_path / "x.npy"),
        "--tgt-emb",
        str(tmp_path / "y.npy"),
        "--gold",
        str(gold),
        "--out",
        str(out),
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and message in result.stderr, result.stderr
    assert not out.exists() and not os.path.exists(f"{out}.partial")


def test_bucc_gold_naming_unknown_ids_is_one_line(tmp_path):
    write_bucc(tmp_path, "fr", "training", [("fr-1", "Ouvrir")], [("en-1", "Open")], [("fr-1", "en-2")])
    with pytest.raises(Exception, match="names en-2, which is not among the English ids"):
        bucc.read_split(str(tmp_path), "fr", "training")


def test_embed_writes_a_memory_mapped_file_in_chunks(trained_checkpoint, data_dir, tmp_path, run_command):
    text = tmp_path / "in.txt"
    text.write_text("".join(f"{p[1]}\n" for p in usable_pairs("de", 2600)[2500:]), encoding="utf-8")
    model = ["--checkpoint", trained_checkpoint, "--data", data_dir, "--lang", "de"]
    run_command("cxlm-embed", *model, "--input", str(text), "--out", str(tmp_path / "a.npy"), "--chunk", "7")
    run_command("cxlm-embed", *model, "--input", str(text), "--out", str(tmp_path / "b.npy"), "--dtype", "float32")
    a, b = np.load(tmp_path / "a.npy", mmap_mode="r"), np.load(tmp_path / "b.npy")
    assert a.dtype == np.float16 and a.shape == b.shape == (100, 64)
    np.testing.assert_allclose(a.astype(np.float32), b, rtol=2e-3, atol=2e-3)  # float16 rounding only

    (tmp_path / "empty.txt").write_text("")
    result = run_command(
        "cxlm-embed", *model, "--input", str(tmp_path / "empty.txt"), "--out", str(tmp_path / "e.npy"), check=False
    )
    assert result.returncode == 2 and "is empty" in result.stderr and not (tmp_path / "e.npy").exists()


def test_pairs_mode_hides_and_finds_translations(trained_checkpoint, data_dir, tmp_path, run_command):
    """make demo's mining step: held-out pairs hidden among sentences without a translation, per language."""
    pairs = usable_pairs("de", 3200)[2500:2700]
    (tmp_path / "pairs").mkdir()
    (tmp_path / "pairs" / "en-de.en").write_text("".join(p[0] + "\n" for p in pairs), encoding="utf-8")
    (tmp_path / "pairs" / "en-de.de").write_text("".join(p[1] + "\n" for p in pairs), encoding="utf-8")
    out = tmp_path / "mining.json"
    argv = [
        "--checkpoint",
        trained_checkpoint,
        "--data",
        data_dir,
        "--pairs",
        str(tmp_path / "pairs"),
        "--hidden",
        "50",
    ]
    result = run_command("cxlm-mine", *argv, "--json", str(out))
    report = json.loads(out.read_text())["results"]
    assert report["de"]["foreign"] == report["de"]["english"] == 125 and 0 <= report["de"]["found"] <= 50
    assert report["average"]["f1"] == pytest.approx(report["de"]["f1"])
    assert "average: precision" in result.stdout
    too_many = run_command("cxlm-mine", *argv[:-1], "150", check=False)
    assert too_many.returncode == 2 and "fewer than 2 x --hidden 150" in too_many.stderr


def test_sparse_neighbours_are_the_dense_ones_in_any_block_size():
    from scipy import sparse

    x = sparse.random(70, 300, density=0.05, random_state=1, format="csr")
    y = sparse.random(90, 300, density=0.05, random_state=2, format="csr")
    dense = (x @ y.T).toarray()
    for budget in (90, 1000, 1 << 25):  # one query a block, several, all at once
        sims, ids = mining.sparse_knn(x, y, 4, budget=budget)
        np.testing.assert_allclose(sims, -np.sort(-dense, axis=1)[:, :4], rtol=1e-6)
        np.testing.assert_allclose(np.take_along_axis(dense, ids, axis=1), sims, rtol=1e-6)


def test_char_ngram_mining_is_the_dense_computation_and_a_command(mining_set, tmp_path, run_command):
    """cxlm-mine --baseline char-ngram: sparse neighbours give the candidates faiss gives on the same vectors made
    dense (random unit rows, no ties); through the command, on the real mining set, with its F1 reported."""
    from scipy import sparse
    from sklearn.preprocessing import normalize

    x = normalize(sparse.random(60, 200, density=0.3, random_state=3, format="csr"))
    y = normalize(sparse.random(80, 200, density=0.3, random_state=4, format="csr"))
    for strategy in mining.STRATEGIES:
        ours = mining.candidates_of_neighbours(mining.sparse_knn(x, y, 4), mining.sparse_knn(y, x, 4), strategy)
        dense = mining.margin_candidates(x.toarray(), y.toarray(), 4, strategy, "flat")
        assert (ours.source.tolist(), ours.target.tolist()) == (dense.source.tolist(), dense.target.tolist())
        np.testing.assert_allclose(ours.scores, dense.scores, rtol=1e-5)

    out, report = tmp_path / "mined.tsv", tmp_path / "mined.json"
    argv = ["--src", str(mining_set / "de.txt"), "--tgt", str(mining_set / "en.txt"), "--baseline", "char-ngram"]
    gold = ["--gold", str(mining_set / "gold.tsv"), "--tune"]
    result = run_command("cxlm-mine", *argv, *gold, "--out", str(out), "--json", str(report))
    measured = json.loads(report.read_text())["scores"]
    assert 0 < measured["f1"] <= 100 and "gold (threshold tuned on it)" in result.stdout
    assert len(out.read_text(encoding="utf-8").splitlines()) == json.loads(report.read_text())["written"]
    both = run_command("cxlm-mine", *argv, "--checkpoint", "x.pt", "--data", "d", "--out", str(out), check=False)
    assert both.returncode == 2 and "--baseline" in both.stderr
