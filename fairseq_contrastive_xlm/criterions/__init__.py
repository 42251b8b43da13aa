from . import masked_lm_ntxent  # noqa: F401  (registers the criterion)
