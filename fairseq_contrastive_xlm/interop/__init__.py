"""Checkpoints across the border: XLM's own format (xlm.py) and Hugging Face folders (hf_import.py) in,
fairseq checkpoints of contrastive_xlm out (and back: hf_export.py, export.py, sentence_transformers.py)."""

# fairseq's padding index: its learned positions start after it, where XLM's and Hugging Face's start at 0.
FAIRSEQ_PAD = 1
