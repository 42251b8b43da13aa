import os
import re

import pytest

from fairseq_contrastive_xlm.atomic import atomic_path, staged_directory, write_json, write_lines
from fairseq_contrastive_xlm.errors import UserInputError


def test_the_file_appears_under_its_name_only_on_success(tmp_path):
    final = tmp_path / "deep" / "out.txt"  # missing folders are made
    with atomic_path(str(final)) as partial:
        assert partial == f"{final}.partial"
        with open(partial, "w", encoding="utf-8") as f:
            f.write("whole\n")
        assert not final.exists()  # nothing under the final name while writing
    assert final.read_text(encoding="utf-8") == "whole\n"
    assert os.listdir(final.parent) == ["out.txt"]


def test_a_failure_leaves_neither_the_file_nor_its_temporary(tmp_path):
    final = tmp_path / "out.png"
    with pytest.raises(RuntimeError, match="writer died"):
        with atomic_path(str(final), suffix=".partial.png") as partial:
            with open(partial, "w", encoding="utf-8") as f:
                f.write("half")
            raise RuntimeError("writer died")
    assert os.listdir(tmp_path) == []


def test_a_failure_keeps_the_previous_file(tmp_path):
    final = tmp_path / "out.json"
    final.write_text("previous", encoding="utf-8")
    with pytest.raises(RuntimeError):
        with atomic_path(str(final)) as partial:
            with open(partial, "w", encoding="utf-8") as f:
                f.write("half")
            raise RuntimeError
    assert final.read_text(encoding="utf-8") == "previous" and os.listdir(tmp_path) == ["out.json"]


def test_the_staged_directory_replaces_the_target_when_complete(tmp_path):
    out = tmp_path / "data"
    with staged_directory(str(out)) as staging:
        assert os.path.dirname(staging) == str(tmp_path) and not out.exists()
        with open(os.path.join(staging, "dict.txt"), "w", encoding="utf-8") as f:
            f.write("a 1\n")
    assert os.listdir(out) == ["dict.txt"] and os.listdir(tmp_path) == ["data"]


def test_the_staged_directory_is_removed_on_failure(tmp_path):
    out = tmp_path / "data"
    with pytest.raises(RuntimeError):
        with staged_directory(str(out)) as staging:
            with open(os.path.join(staging, "dict.txt"), "w", encoding="utf-8") as f:
                f.write("half")
            raise RuntimeError
    assert os.listdir(tmp_path) == []


def test_an_existing_target_is_refused_without_force_and_replaced_with_it(tmp_path):
    out = tmp_path / "data"
    out.mkdir()
    (out / "old.txt").write_text("old", encoding="utf-8")
    with pytest.raises(UserInputError, match=re.escape(f"{out} exists; pass --force to replace it")):
        with staged_directory(str(out)):
            pytest.fail("a refused target stages nothing")
    assert os.listdir(tmp_path) == ["data"] and os.listdir(out) == ["old.txt"]

    with staged_directory(str(out), force=True) as staging:
        with open(os.path.join(staging, "new.txt"), "w", encoding="utf-8") as f:
            f.write("new")
    assert os.listdir(out) == ["new.txt"] and os.listdir(tmp_path) == ["data"]


def test_lines_and_json_are_written_whole_or_not_at_all(tmp_path):
    lines, report = tmp_path / "lines.txt", tmp_path / "report.json"
    write_lines(str(lines), (f"line {i}" for i in range(3)))
    write_json(str(report), {"lines": 3, "text": "Größe"})
    assert lines.read_text() == "line 0\nline 1\nline 2\n"
    assert report.read_text(encoding="utf-8") == '{\n  "lines": 3,\n  "text": "Größe"\n}'

    def failing():
        yield "first"
        raise RuntimeError("the source broke")

    with pytest.raises(RuntimeError):
        write_lines(str(lines), failing())
    with pytest.raises(TypeError):
        write_json(str(report), {"not json": object()})
    assert lines.read_text() == "line 0\nline 1\nline 2\n" and '"lines": 3' in report.read_text()
    assert sorted(os.listdir(tmp_path)) == ["lines.txt", "report.json"]  # no temporary left
