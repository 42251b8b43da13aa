"""The optional packages stay optional: none is imported but through optional.require, and a missing one is named
with the extra that installs it. (tests/check_install.sh shows the same on a real install without them.)"""

import ast
import os
import sys

import pytest

from fairseq_contrastive_xlm import optional
from fairseq_contrastive_xlm.errors import UserInputError

PACKAGE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "fairseq_contrastive_xlm")


def imported_modules(path):
    with open(path, encoding="utf-8") as f:
        tree = ast.parse(f.read(), path)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            yield node.module


def test_no_module_imports_an_optional_package_directly():
    direct, files = [], 0
    for folder, _, names in os.walk(PACKAGE):
        for name in names:
            if name.endswith(".py"):
                files += 1
                path = os.path.join(folder, name)
                for module in imported_modules(path):
                    if module.split(".")[0] in optional.EXTRAS:
                        direct.append(f"{os.path.relpath(path, PACKAGE)}: import {module}")
    assert files > 50
    assert not direct, "import these through optional.require:\n" + "\n".join(direct)


@pytest.mark.parametrize(
    "module, extra",
    [("transformers", "hf"), ("sentence_transformers", "st"), ("faiss", "mining"), ("safetensors.torch", "hf")],
)
def test_a_missing_package_names_its_extra(monkeypatch, module, extra):
    for name in {module.split(".")[0], module}:  # what import sees when it is not installed (even if imported)
        monkeypatch.setitem(sys.modules, name, None)
    with pytest.raises(optional.MissingDependencyError) as raised:
        optional.require(module)
    message = str(raised.value)
    assert isinstance(raised.value, UserInputError)  # reported as one line, exit status 2
    assert message.startswith(f"{module.split('.')[0]} is not installed")
    assert message.endswith(f"pip install 'fairseq-contrastive-xlm[{extra}]'") and "\n" not in message


def test_a_package_missing_beneath_another_names_the_missing_one(monkeypatch):
    """sentence-transformers imports transformers: without it, the user is told to install [hf]."""
    monkeypatch.setitem(sys.modules, "sentence_transformers", None)
    monkeypatch.setitem(sys.modules, "transformers", None)
    err = ImportError("No module named 'transformers'", name="transformers")

    def failing(name):
        raise err

    monkeypatch.setattr(optional.importlib, "import_module", failing)
    with pytest.raises(optional.MissingDependencyError, match=r"\[hf\]'$"):
        optional.require("sentence_transformers")


def test_other_import_errors_are_not_hidden(monkeypatch):
    with pytest.raises(ImportError):
        optional.require("no_such_module_of_ours")
