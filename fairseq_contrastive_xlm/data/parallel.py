"""Samples made from translation pairs: TLM sequences, and the two separate views of the NT-Xent loss."""

import numpy as np

from ..errors import UserInputError
from .collate import language_row, masked_lm_batch, sentence_id, views_batch
from .masking import ItemSeededDataset, MaskingScheme, mask_tokens


class ParallelCorpus:
    """Line-aligned translations of one language pair, restricted to pairs that fit in max_length tokens.

    Each side is a binarized dataset whose sentences end with </s>. A pair is kept when both sides fit
    in one TLM sequence: <s> a </s> </s> b </s>, i.e. len(a) + len(b) + 2 <= max_length. Longer pairs are
    dropped, not cut: a truncated translation is no longer a translation.
    """

    def __init__(self, src, tgt, src_lang_id, tgt_lang_id, max_length, name, src_path, tgt_path):
        if len(src) != len(tgt):
            raise UserInputError(
                f"pair {name}: the two sides have different numbers of sentences: {src_path} has "
                f"{len(src)} and {tgt_path} has {len(tgt)}"
            )
        self.src, self.tgt = src, tgt
        self.src_lang_id, self.tgt_lang_id = src_lang_id, tgt_lang_id
        self.name = name
        src_sizes, tgt_sizes = np.asarray(src.sizes), np.asarray(tgt.sizes)
        self.kept = np.flatnonzero(src_sizes + tgt_sizes + 2 <= max_length)
        self.dropped = len(src) - len(self.kept)
        self.src_sizes = src_sizes[self.kept]
        self.tgt_sizes = tgt_sizes[self.kept]

    def __len__(self):
        return len(self.kept)

    def __getitem__(self, index):
        line = self.kept[index]
        return self.src[line].numpy(), self.tgt[line].numpy()


class PairSamples(ItemSeededDataset):
    """Samples made from the pairs of one corpus, one per pair; an item's size is both sides and two
    special tokens (its TLM sequence, or its two views)."""

    def __init__(self, corpus: ParallelCorpus, scheme: MaskingScheme = None, seed=None, stream=None):
        super().__init__(seed, stream)
        self.corpus = corpus
        self.scheme = scheme
        self.sizes = corpus.src_sizes + corpus.tgt_sizes + 2

    def __len__(self):
        return len(self.corpus)


class TLMPairs(PairSamples):
    """TLM samples: <s> a </s> </s> b </s> with the two sides in random order, positions restarting at 0
    for the second side, a language id on every token, masked like MLM."""

    def __init__(self, corpus: ParallelCorpus, bos, eos, scheme: MaskingScheme, seed, stream):
        super().__init__(corpus, scheme, seed, stream)
        self.bos, self.eos = bos, eos

    def __getitem__(self, index):
        a, b = self.corpus[index]
        lang_a, lang_b = self.corpus.src_lang_id, self.corpus.tgt_lang_id
        rng = self.item_rng(index)
        if rng.random() < 0.5:
            a, b, lang_a, lang_b = b, a, lang_b, lang_a
        first = np.concatenate([[self.bos], a])
        second = np.concatenate([[self.eos], b])
        tokens = np.concatenate([first, second]).astype(np.int64)
        inputs, target = mask_tokens(tokens, self.scheme, rng)
        return {
            "tokens": inputs,
            "target": target,
            "positions": np.concatenate([np.arange(len(first)), np.arange(len(second))]),
            "langs": np.concatenate([language_row(lang_a, len(first)), language_row(lang_b, len(second))]),
        }

    def collater(self, items):
        return masked_lm_batch(items, self.scheme.pad_idx)


class PairedViews(PairSamples):
    """The two sides of a pair as separate sentences <s> a </s> and <s> b </s>: the positive views of the
    NT-Xent loss. The model encodes each on its own, so neither can attend to the other.

    Unmasked by default. With a masking scheme (--mlm-on-views) each view is masked as an MLM sample of
    its own language, so that the one forward which embeds it also trains MLM on it. Each side carries the
    id of its unmasked tokens (sentence_id), by which NT-Xent tells a negative that is the same sentence."""

    def __init__(
        self, corpus: ParallelCorpus, bos, pad, scheme: MaskingScheme = None, seed=None, stream=None, pack=True
    ):
        super().__init__(corpus, scheme, seed, stream)
        self.bos, self.pad = bos, pad
        self.pack = pack  # the collater packs the views (collate.pack_views); the batch budget counts them so
        self.view_sizes = (corpus.src_sizes + 1, corpus.tgt_sizes + 1)  # <s> a </s>, <s> b </s>

    def __getitem__(self, index):
        a, b = self.corpus[index]
        item = {
            "view_a": np.concatenate([[self.bos], a]).astype(np.int64),
            "view_b": np.concatenate([[self.bos], b]).astype(np.int64),
            "lang_a": self.corpus.src_lang_id,
            "lang_b": self.corpus.tgt_lang_id,
            "id_a": sentence_id(a),
            "id_b": sentence_id(b),
        }
        if self.scheme is not None:
            rng = self.item_rng(index)
            item["view_a"], item["target_a"] = mask_tokens(item["view_a"], self.scheme, rng)
            item["view_b"], item["target_b"] = mask_tokens(item["view_b"], self.scheme, rng)
        return item

    def collater(self, items):
        return views_batch(items, self.pad, self.pack)
