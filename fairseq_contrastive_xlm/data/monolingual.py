"""MLM samples of one language: blocks of running text with <s> in front, masked."""

import numpy as np
from fairseq.data import TokenBlockDataset

from .collate import language_row, masked_lm_batch
from .masking import ItemSeededDataset, MaskingScheme, mask_tokens


class MaskedBlocks(ItemSeededDataset):
    """Blocks of at most max_length tokens (<s> included) cut from one language's sentences.

    blocks: a TokenBlockDataset over the binarized sentences. In 'complete' mode a sentence longer than
    a block makes a block of its own; such a block is cut to max_length so positions stay in range.
    """

    def __init__(
        self,
        blocks: TokenBlockDataset,
        lang_id: int,
        bos: int,
        max_length: int,
        scheme: MaskingScheme,
        seed: int,
        stream: int,
    ):
        super().__init__(seed, stream)
        self.blocks = blocks
        self.lang_id = lang_id
        self.bos = bos
        self.max_body = max_length - 1
        self.scheme = scheme
        self.sizes = np.minimum(np.asarray(blocks.sizes), self.max_body) + 1

    def __len__(self):
        return len(self.blocks)

    def __getitem__(self, index):
        body = self.blocks[index].numpy()[: self.max_body]
        tokens = np.concatenate([[self.bos], body]).astype(np.int64)
        rng = self.item_rng(index)
        inputs, target = mask_tokens(tokens, self.scheme, rng)
        return {"tokens": inputs, "target": target, "langs": language_row(self.lang_id, len(tokens))}

    def collater(self, items):
        return masked_lm_batch(items, self.scheme.pad_idx)
