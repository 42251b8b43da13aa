"""Imports of the optional dependencies. Each names the pip extra that installs it when it is missing, so a user
who installed the base package gets one line saying what to install instead of a traceback."""

import importlib

from .errors import UserInputError

PACKAGE = "fairseq-contrastive-xlm"

# top-level module -> (extra of setup.py that installs it, what it is needed for)
EXTRAS = {
    "transformers": ("hf", "Hugging Face folders (cxlm-import hf, cxlm-export-hf)"),
    "safetensors": ("hf", "Hugging Face folders (cxlm-import hf, cxlm-export-hf)"),
    "tokenizers": ("hf", "Hugging Face folders (cxlm-import hf, cxlm-export-hf)"),
    "sentence_transformers": ("st", "sentence-transformers models (--st-model, the export's modules)"),
    "faiss": ("mining", "bitext mining (cxlm-mine, cxlm-bench-mining)"),
}


class MissingDependencyError(UserInputError):
    """An optional dependency is not installed: the message names the pip extra that installs it."""

    def __init__(self, module: str):
        extra, needed_for = EXTRAS[module]
        super().__init__(f"{module} is not installed; it is needed for {needed_for}: pip install '{PACKAGE}[{extra}]'")


def require(module: str):
    """import_module(module), or MissingDependencyError naming the extra when it (or an optional dependency it
    imports, such as transformers under sentence_transformers) is missing."""
    try:
        return importlib.import_module(module)
    except ImportError as err:
        missing = (getattr(err, "name", None) or "").split(".")[0]
        if missing in EXTRAS:
            raise MissingDependencyError(missing) from None
        raise
