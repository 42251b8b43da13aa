"""fairseq-contrastive-xlm: contrastive learning (NT-Xent over translation pairs) for cross-lingual
language-model pretraining, as a fairseq plugin.

Importing the package (fairseq does so for --user-dir) registers the task cross_lingual_lm_contrastive,
the model contrastive_xlm and the criterion masked_lm_ntxent.
"""

from . import compat
from .errors import install_excepthook

compat.apply_all()
install_excepthook()

from . import criterions, models, tasks  # noqa: E402,F401  (registration)

__version__ = "0.1.0"
