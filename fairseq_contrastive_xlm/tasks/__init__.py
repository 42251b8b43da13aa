from . import cross_lingual_lm_contrastive  # noqa: F401  (registers the task)
