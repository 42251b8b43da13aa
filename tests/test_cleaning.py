"""Line cleaning before encoding: what is normalised, what is dropped and how it is counted."""

from fairseq_contrastive_xlm.prepare.cleaning import DropCounts, clean_mono, clean_pairs, normalise, ratio_ok


def test_normalise():
    assert normalise("ﬁne\u00a0print") == "fine print"  # NFKC: ligature and no-break space
    assert normalise("a\tb\u200bc\x07d") == "a bcd"  # tab -> space; zero-width space and bell removed
    assert normalise("  many   spaces \r") == "many spaces"
    assert normalise("中文，测试") == "中文,测试"  # NFKC folds the full-width comma
    assert normalise("\u202eabc") == "abc"  # a bidi override is a format character


def test_mono_drops_are_counted_by_reason():
    lines = [b"hello", b"   ", b"x" * 11, b"hello", b"caf\xe9", b"world\n"]
    drops = DropCounts()
    kept = list(clean_mono(lines, "in.txt", max_chars=10, drops=drops))
    assert kept == ["hello", "world"]
    assert drops.as_dict() == {"invalid_utf8": 1, "empty": 1, "too_long": 1, "duplicate": 1, "length_ratio": 0}
    assert drops.invalid_by_file == {"in.txt": 1}


def test_pairs_stay_aligned():
    src = [b"one", b"two", b"", b"four", b"one", b"six\xff"]
    tgt = [b"eins", b"zwei", b"drei", b"", b"eins", b"sechs"]
    drops = DropCounts()
    kept = list(clean_pairs(zip(src, tgt), ("a.en", "a.de"), max_chars=100, drops=drops))
    assert kept == [("one", "eins"), ("two", "zwei")]
    assert drops["empty"] == 2 and drops["duplicate"] == 1 and drops["invalid_utf8"] == 1
    assert drops.invalid_by_file == {"a.en": 1}


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
