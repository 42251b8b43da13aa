"""Padding items of one objective into a batch in the shape fairseq models and criterions expect."""

import bisect
import hashlib
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


def sentence_id(tokens: np.ndarray) -> int:
    """A 64-bit id of a sentence's token ids (the same on every worker and run): equal sentences, equal ids;
    two different sentences share one with probability 2^-64."""
    digest = hashlib.blake2b(np.ascontiguousarray(tokens, dtype=np.int64).tobytes(), digest_size=8).digest()
    return int.from_bytes(digest, "little", signed=True)


def views_batch(items: List[dict], pad: int, pack: bool = True) -> dict:
    """N pairs -> one batch of 2N separate sentences: rows 0..N-1 are side a, rows N..2N-1 side b, and their
    sentence ids (2N, same order); with masked views also their MLM targets. pack: the views packed into fewer
    rows (pack_views), here in the data loader's workers, so that the model gets them with no host round trip."""
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
        "active_pairs": len(items),  # the pairs that take part in the loss and the queue (without_pairs: none)
        "sentence_ids": torch.tensor([item["id_a"] for item in items] + [item["id_b"] for item in items]),
        "ntokens": int(lengths.sum()),
        "nsentences": len(views),
    }
    if "target_a" in items[0]:  # masked views: MLM targets too (--mlm-on-views)
        batch["target"] = pad_rows([item["target_a"] for item in items] + [item["target_b"] for item in items], pad)
    return {**batch, **pack_views(batch, pad)} if pack else batch


def without_pairs(batch: dict) -> dict:
    """A views batch whose pairs take no part: no loss, no negatives, no queue keys, yet the same forward and the
    same gathers as the workers beside it (fairseq's dummy batch, on a worker that ran out of data)."""
    return {**batch, "active_pairs": 0}


def packed_rows(lengths: List[int], width: int):
    """Best-fit decreasing: places sentences of these lengths in rows of `width` places, each in the fullest row it
    fits in. Returns each sentence's row and start in it, and the places used in every row."""
    used, row_of, start_of = [], [0] * len(lengths), [0] * len(lengths)
    room = []  # (free places, row) of the rows not yet full, sorted
    for view, length in sorted(enumerate(lengths), key=lambda v: -v[1]):
        k = bisect.bisect_left(room, (length, -1))
        free, row = room.pop(k) if k < len(room) else (width, len(used))
        if row == len(used):
            used.append(0)
        row_of[view], start_of[view] = row, used[row]
        used[row] += length
        if free > length:
            bisect.insort(room, (free - length, row))
    return row_of, start_of, used


def packed_size(lengths: List[int]) -> int:
    """The places a batch of views of these lengths takes once packed: rows times the longest view."""
    width = max(lengths, default=0)
    return len(packed_rows(lengths, width)[2]) * width


def language_row(lang_id: int, length: int) -> np.ndarray:
    return np.full(length, lang_id, dtype=np.int64)


def pack_views(batch: dict, pad: int) -> dict:
    """A views batch (V padded rows) packed into fewer rows as wide as its longest view (best-fit
    decreasing), so that views of mixed lengths carry almost no padding.

    Every packed token keeps its view's language and its position in that view (restarting at 0), and
    carries a segment id, the view's row in the batch (-1 on padding): the model lets a token attend only
    within its segment, so each view is still encoded on its own. view_index and view_padding (V x width)
    gather each view's tokens back from the flattened packed rows, in the batch's row order. Returns
    {"net_input": ..., "target": ... (masked views only)}. The collater calls it (views_batch), on the CPU; on
    another device it works the same, at the cost of a host synchronisation for the lengths."""
    net_input = batch["net_input"]
    tokens = net_input["src_tokens"]
    device = tokens.device
    lengths = net_input["src_lengths"].cpu()
    width = int(lengths.max())
    row_of, start_of, used = packed_rows(lengths.tolist(), width)
    rows = len(used)
    view_of_token = torch.repeat_interleave(torch.arange(len(lengths)), lengths)
    offset = torch.arange(int(lengths.sum())) - torch.repeat_interleave(torch.cumsum(lengths, 0) - lengths, lengths)
    starts = torch.tensor(row_of) * width + torch.tensor(start_of)  # each view's start in the flattened rows
    to_cpu = starts[view_of_token] + offset
    to, source = to_cpu.to(device), (view_of_token * tokens.size(1) + offset).to(device)

    def moved(values, fill_value):  # a padded V x T tensor's real tokens, packed
        out = values.new_full((rows * width,), fill_value)
        out[to] = values.reshape(-1)[source]
        return out.view(rows, width)

    def placed(values, fill_value):  # one value per real token, packed
        out = torch.full((rows * width,), fill_value, dtype=torch.long)
        out[to_cpu] = values
        return out.view(rows, width).to(device)

    columns = torch.arange(width)
    packed = {
        "net_input": {
            "src_tokens": moved(tokens, pad),
            "src_lengths": torch.tensor(used, device=device),
            "lang_ids": moved(net_input["lang_ids"], 0),
            "positions": placed(offset, 0),
            "segments": placed(view_of_token, -1),
            "view_index": (starts.unsqueeze(1) + columns).clamp(max=rows * width - 1).to(device),
            "view_padding": (columns.unsqueeze(0) >= lengths.unsqueeze(1)).to(device),
        }
    }
    if "target" in batch:
        packed["target"] = moved(batch["target"], pad)
    return packed
