from . import contrastive_xlm  # noqa: F401  (registers the model and its architectures)
