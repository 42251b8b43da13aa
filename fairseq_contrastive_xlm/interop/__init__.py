"""Checkpoints across the border: XLM's own format and Hugging Face folders in, fairseq checkpoints of
contrastive_xlm out (and back)."""
