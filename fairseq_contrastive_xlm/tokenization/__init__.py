"""Turning text into the ids of a data directory's dictionary: SentencePiece (XLM-R's and ours) and XLM's Moses + BPE.
Preparation, evaluation and the Hugging Face interop all use them, so they live here rather than under prepare/."""
