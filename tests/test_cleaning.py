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
