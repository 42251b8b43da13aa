"""XNLI: the official formats, and zero-shot evaluation of sentence_prediction fine-tunes."""
