"""Padding items of one objective into a batch in the shape fairseq models and criterions expect."""

from typing import List

import numpy as np
import torch
from fairseq.data import data_utils


def pad_rows(rows: List[np.ndarray], pad: int) -> torch.Tensor:
    return data_utils.collate_tokens([torch.from_numpy(np.asarray(r, dtype=np.int64)) for r in rows], pad)


def masked_lm_batch(items: List[dict], pad: int) -> dict:
    """Items with 'tokens', 'target', 'langs' and optionally 'positions' (0-based, restarting per side)."""
    tokens = pad_rows([item["tokens"] for item in items], pad)
    net_input = {
        "src_tokens": tokens,
        "src_lengths": torch.tensor([len(item["tokens"]) for item in items]),
        "lang_ids": pad_rows([item["langs"] for item in items], 0),
    }
    if "positions" in items[0]:
        net_input["positions"] = pad_rows([item["positions"] for item in items], 0)
    return {
        "net_input": net_input,
        "target": pad_rows([item["target"] for item in items], pad),
        "ntokens": int(net_input["src_lengths"].sum()),
        "nsentences": len(items),
    }


def views_batch(items: List[dict], pad: int) -> dict:
    """N pairs -> one batch of 2N separate sentences: rows 0..N-1 are side a, rows N..2N-1 side b; with
    masked views also their MLM targets."""
    views = [item["view_a"] for item in items] + [item["view_b"] for item in items]
    langs = [item["lang_a"] for item in items] + [item["lang_b"] for item in items]
    tokens = pad_rows(views, pad)
    lengths = torch.tensor([len(v) for v in views])
    batch = {
        "net_input": {
            "src_tokens": tokens,
            "src_lengths": lengths,
            "lang_ids": torch.tensor(langs).unsqueeze(1).expand_as(tokens).contiguous(),
        },
        "pairs": len(items),
        "ntokens": int(lengths.sum()),
        "nsentences": len(views),
    }
    if "target_a" in items[0]:  # masked views: MLM targets too (--mlm-on-views)
        batch["target"] = pad_rows([item["target_a"] for item in items] + [item["target_b"] for item in items], pad)
    return batch


def language_row(lang_id: int, length: int) -> np.ndarray:
    return np.full(length, lang_id, dtype=np.int64)
