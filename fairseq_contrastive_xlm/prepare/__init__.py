"""From raw corpora to the data directory: gettext corpus, SentencePiece, binarizing."""
