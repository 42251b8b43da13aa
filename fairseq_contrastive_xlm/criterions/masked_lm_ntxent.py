"""masked_lm_ntxent: MLM, TLM and masked views' (--mlm-on-views) cross-entropy plus lambda * NT-Xent, each logged
on its own; loss arithmetic only (the collater packs the views, the model owns the negatives queue).

The LM terms are sums over masked tokens, sample_size = masked tokens, as fairseq's masked_lm. The NT-Xent sum over
views is scaled by (masked tokens / views), both counted over all workers, so the gradient is that of the mean LM
loss per masked token + lambda * the mean NT-Xent loss per view, whatever the number of workers. Logs: docs/training.md.
"""

import math
from dataclasses import dataclass, field

import torch
from fairseq import metrics, modules, utils
from fairseq.criterions import FairseqCriterion, register_criterion
from fairseq.dataclass import FairseqDataclass

from ..errors import UserInputError
from ..losses import nt_xent
from ..model_wrappers import data_parallel_group, sum_over_workers

LM_OBJECTIVES = ("mlm", "tlm", "views_mlm")


@dataclass
class MaskedLmNTXentConfig(FairseqDataclass):
    ntxent_weight: float = field(
        default=1.0,
        metadata={"help": "lambda: weight of the NT-Xent loss beside the MLM/TLM loss; 0 trains on MLM/TLM alone"},
    )
    ntxent_weight_warmup_updates: int = field(
        default=0,
        metadata={
            "help": "lambda grows linearly over this many updates, from --ntxent-weight / N at the first to "
            "--ntxent-weight at the N-th (0: the full weight from the first update); the count is fairseq's, which "
            "--reset-optimizer restarts"
        },
    )
    ntxent_mask_duplicates: bool = field(
        default=True,
        metadata={"help": "leave out of NT-Xent denominators the negatives with a view's or its pair's tokens"},
    )


@register_criterion("masked_lm_ntxent", dataclass=MaskedLmNTXentConfig)
class MaskedLmNTXentLoss(FairseqCriterion):
    def __init__(self, cfg: MaskedLmNTXentConfig, task):
        super().__init__(task)
        if cfg.ntxent_weight < 0:
            raise UserInputError(f"--ntxent-weight must be >= 0, got {cfg.ntxent_weight}")
        if cfg.ntxent_weight_warmup_updates < 0:
            raise UserInputError(f"--ntxent-weight-warmup-updates must be >= 0, got {cfg.ntxent_weight_warmup_updates}")
        self.full_weight, self.warmup_updates = cfg.ntxent_weight, cfg.ntxent_weight_warmup_updates
        self.set_num_updates(0)
        self.mask_duplicates = cfg.ntxent_mask_duplicates

    def set_num_updates(self, num_updates):
        """lambda for the update num_updates (counted from 0): the task calls this before each training step."""
        ramp = min(1.0, (num_updates + 1) / self.warmup_updates) if self.warmup_updates > 0 else 1.0
        self.weight = self.full_weight * ramp

    def forward(self, model, sample, reduce=True):
        """The loss of a batch {"mlm": ..., "tlm": ..., "ntxent": ...} (data/multi_objective.py), any of them."""
        log = {"ntokens": sample["ntokens"], "nsentences": sample["nsentences"]}
        terms = [(name, *self.masked_lm_loss(model, sample[name])) for name in ("mlm", "tlm") if name in sample]
        ntxent = None
        if "ntxent" in sample:
            ntxent, views_mlm = self.ntxent_loss(model, sample["ntxent"])
            terms += [("views_mlm", *views_mlm)] if views_mlm else []
            log.update(ntxent_loss=ntxent.loss.detach(), ntxent_correct=ntxent.correct, ntxent_views=ntxent.views)
            log.update(ntxent_masked=ntxent.masked, ntxent_temperature=ntxent.temperature * ntxent.views)
            log.update(ntxent_weight=self.weight * ntxent.views)
        for name, loss, tokens in terms:
            log[f"{name}_loss"], log[f"{name}_sample_size"] = loss.detach(), tokens
        lm_loss, lm_tokens = sum(loss for _, loss, _ in terms) if terms else None, sum(t for _, _, t in terms)
        if ntxent is None:
            loss, sample_size = lm_loss, lm_tokens
        elif lm_loss is None:
            loss, sample_size = self.weight * ntxent.loss, ntxent.views
        else:
            # fairseq's dummy batch (no active pairs) leaves its tokens out, as its views: they would skew lambda.
            counts = lm_loss.new_tensor([0.0, ntxent.views], dtype=torch.float64)
            if sample["ntxent"]["active_pairs"] > 0:
                counts[0] = lm_tokens  # on the device: no host round trip
            tokens_all, views_all = sum_over_workers(counts)
            # Added even when lambda = 0 (exact), so that the head is in every backward, as DDP requires.
            loss, sample_size = lm_loss + self.weight * (tokens_all / views_all).float() * ntxent.loss, lm_tokens
        log.update(loss=loss.detach(), sample_size=sample_size)
        return loss, sample_size, log

    def masked_lm_loss(self, model, batch):
        """Summed cross-entropy over the masked tokens, and their number (as fairseq's masked_lm)."""
        masked, tokens = self.prediction_mask(batch["target"])
        logits = model(**batch["net_input"], masked_tokens=masked)[0]
        return self.lm_cross_entropy(logits, batch["target"], masked), tokens

    def prediction_mask(self, target):
        """Where the targets are, and how many. Rare: nothing masked in the whole batch; then every token is
        projected (all targets are pad: the loss is 0 but part of the graph), on GPU without a sync, as fairseq."""
        masked = target.ne(self.padding_idx)
        if masked.device.type == "cpu":
            return (masked if masked.any() else None), masked.int().sum()
        return torch.where(masked.any(), masked, masked.new([True])), masked.int().sum()

    def lm_cross_entropy(self, logits, target, masked):
        targets = (target[masked] if masked is not None else target).view(-1)
        logits = logits.view(-1, logits.size(-1))
        return modules.cross_entropy(logits, targets, reduction="sum", ignore_index=self.padding_idx)

    def ntxent_loss(self, model, batch):
        """NT-Xent of the views (rows: a sides, then b sides; the first active_pairs of each count), and with
        --mlm-on-views their (MLM loss, masked tokens) from the same forward. The model gives the queue's negatives."""
        masked_lm = "target" in batch
        masked, lm_tokens = self.prediction_mask(batch["target"]) if masked_lm else (None, 0)
        total, pairs, ids = batch["pairs"], batch["active_pairs"], batch["sentence_ids"]
        net_input = dict(batch["net_input"], masked_tokens=masked, sentence_ids=ids, pairs=pairs)
        projections, extra = model(**net_input, ntxent_projection=True)
        a, b = slice(0, pairs), slice(total, total + pairs)
        pair_ids = (ids[a], ids[b])
        same = {"sentence_ids": pair_ids, "extra_ids": extra.get("negative_ids")} if self.mask_duplicates else {}
        group, negatives = data_parallel_group(), extra.get("negatives")
        result = nt_xent(projections[a], projections[b], extra["temperature"], group, negatives, **same)
        lm = (self.lm_cross_entropy(extra["lm_logits"], batch["target"], masked), lm_tokens) if masked_lm else None
        return result, lm

    @staticmethod
    def reduce_metrics(logging_outputs) -> None:
        def total(key):
            return utils.item(sum(log.get(key, 0) for log in logging_outputs))

        sample_size, views = total("sample_size"), total("ntxent_views")
        if sample_size > 0:
            metrics.log_scalar("loss", total("loss") / sample_size / math.log(2), sample_size, round=3)
        for name in LM_OBJECTIVES:
            tokens = total(f"{name}_sample_size")
            if tokens > 0:
                metrics.log_scalar(f"{name}_loss", total(f"{name}_loss") / tokens / math.log(2), tokens, round=3)
                metrics.log_derived(f"{name}_ppl", lambda m, key=f"{name}_loss": utils.get_perplexity(m[key].avg))
        if views > 0:
            metrics.log_scalar("ntxent_loss", total("ntxent_loss") / views / math.log(2), views, round=3)
            metrics.log_scalar("ntxent_acc", 100.0 * total("ntxent_correct") / views, views, round=2)
            metrics.log_scalar("ntxent_masked", total("ntxent_masked") / views, views, round=3)
            metrics.log_scalar("ntxent_temperature", total("ntxent_temperature") / views, views, round=4)
            metrics.log_scalar("ntxent_weight", total("ntxent_weight") / views, views, round=4)

    @staticmethod
    def logging_outputs_can_be_summed() -> bool:
        return True
