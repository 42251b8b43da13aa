"""Line cleaning before encoding: what is normalised, what is dropped and how it is counted."""

from fairseq_contrastive_xlm.prepare.cleaning import normalise, ratio_ok


def test_normalise():
    assert normalise("ﬁne\u00a0print") == "fine print"  # NFKC: ligature and no-break space
    assert normalise("a\tb\u200bc\x07d") == "a bcd"  # tab -> space; zero-width space and bell removed
    assert normalise("  many   spaces \r") == "many spaces"
    assert normalise("中文，测试") == "中文,测试"  # NFKC folds the full-width comma
    assert normalise("\u202eabc") == "abc"  # a bidi override is a format character


def cleaned(tmp_path, sides, max_chars):
    """pipeline.clean (workers: this process) of files with these raw lines; returns each side's cleaned lines."""
    from fairseq_contrastive_xlm.prepare.pipeline import Corpus, PrepareOptions, clean

    langs = ("en", "de")[: len(sides)]
    paths = []
    for lang, lines in zip(langs, sides):
        (tmp_path / f"in.{lang}").write_bytes(b"\n".join(lines))  # the last line without its line end
        paths.append(str(tmp_path / f"in.{lang}"))
    corpus = Corpus(langs, tuple(paths))
    result = clean(corpus, PrepareOptions(vocab_size=100, max_chars=max_chars), str(tmp_path), map)
    return [open(result.path(lang), encoding="utf-8").read().splitlines() for lang in langs], corpus


def test_mono_drops_are_counted_by_reason(tmp_path):
    lines = [b"hello", b"   ", b"x" * 11, b"hello", b"caf\xe9", b"world"]
    (kept,), corpus = cleaned(tmp_path, [lines], max_chars=10)
    assert kept == ["hello", "world"] and corpus.kept == 2 and corpus.lines_read == 6
    assert corpus.drops.as_dict() == {"invalid_utf8": 1, "empty": 1, "too_long": 1, "duplicate": 1, "length_ratio": 0}
    assert corpus.drops.invalid_by_file == {str(tmp_path / "in.en"): 1}


def test_pairs_stay_aligned(tmp_path):
    src = [b"one", b"two", b"", b"four", b"one", b"six\xff"]
    tgt = [b"eins", b"zwei", b"drei", b"", b"eins", b"sechs"]
    (en, de), corpus = cleaned(tmp_path, [src, tgt], max_chars=100)
    assert list(zip(en, de)) == [("one", "eins"), ("two", "zwei")]
    drops = corpus.drops
    assert drops["empty"] == 2 and drops["duplicate"] == 1 and drops["invalid_utf8"] == 1
    assert drops.invalid_by_file == {str(tmp_path / "in.en"): 1}


def test_length_ratio_in_pieces():
    assert ratio_ok(10, 30, 3.0) and ratio_ok(30, 10, 3.0)
    assert not ratio_ok(10, 31, 3.0) and not ratio_ok(31, 10, 3.0)
    assert ratio_ok(0, 2, 3.0)  # an empty side counts as one piece


def test_hashed_dedupe_keeps_exactly_the_first_of_each_repeat_across_chunks():
    """SeenHashes against a Python set of the lines themselves, with repeats inside chunks, across chunks and
    across merges of its runs."""
    import numpy as np

    from fairseq_contrastive_xlm.prepare.dedupe import SeenHashes, line_hashes

    rng = np.random.default_rng(0)
    lines = [f"sentence {i}" for i in rng.integers(0, 3000, size=20000)]
    seen, kept, expected, exact = SeenHashes(), [], [], set()
    for start in range(0, len(lines), 700):
        chunk = lines[start : start + 700]
        kept += [line for line, new in zip(chunk, seen.first_seen(line_hashes(chunk))) if new]
    for line in lines:
        if line not in exact:
            exact.add(line)
            expected.append(line)
    assert kept == expected and len(seen) == len(expected) == len(set(lines))
    assert seen.nbytes == 8 * len(expected)  # 8 bytes a distinct line
    assert len(seen.runs) <= 2 * np.log2(len(expected)) and all(np.all(np.diff(r) > 0) for r in seen.runs)


def test_the_spm_sample_is_uniform_without_replacement_in_bounded_blocks():
    import numpy as np

    from fairseq_contrastive_xlm.prepare.pipeline import sample_in_order

    rng = np.random.default_rng(1)
    counts = np.zeros(1000)
    for _ in range(400):
        blocks = list(sample_in_order(1000, 100, rng, block=64))
        assert all(len(b) <= 64 for b in blocks)
        drawn = np.concatenate(blocks)
        assert len(drawn) == 100 and np.all(np.diff(drawn) > 0) and drawn[-1] < 1000
        counts[drawn] += 1
    # each index drawn 40 times on average; a biased block split would show as a trend between blocks
    assert abs(counts[:500].mean() - counts[500:].mean()) < 2 and counts.std() < 10


def test_the_memory_benchmark_corpus_is_unique_real_text_of_the_size_asked(tmp_path):
    """benchmarks/prepare_memory.py measures de-duplication at its worst: every line distinct."""
    from fairseq_contrastive_xlm.benchmarks.prepare_memory import write_corpus

    path = tmp_path / "corpus.txt"
    lines = write_corpus(str(path), 0.5)
    text = path.read_text(encoding="utf-8").splitlines()
    assert len(text) == lines == len(set(text)) > 1000
    assert 0.5e6 <= path.stat().st_size < 0.5e6 + 1000
    assert any(any("\u0400" <= c <= "\u04ff" for c in line) for line in text)  # Cyrillic among the scripts
