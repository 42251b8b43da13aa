"""masked_lm_ntxent: MLM and TLM cross-entropy plus lambda * NT-Xent, each logged on its own.

fairseq divides the loss summed over workers by the sample_size summed over workers. The LM terms are
sums over masked tokens, with sample_size = masked tokens, exactly as fairseq's masked_lm. The NT-Xent
sum over views is scaled by (masked tokens / views), both counted over all workers, so the gradient is
that of

    mean LM loss per masked token + lambda * mean NT-Xent loss per view

whatever the number of workers. With lambda = 0 the loss is the MLM/TLM loss exactly.

Logged (base 2, as fairseq): mlm_loss, tlm_loss (and views_mlm_loss, the MLM loss of masked views with
--mlm-on-views) and their perplexities mlm_ppl, tlm_ppl, views_mlm_ppl (never mixed with the contrastive
term), ntxent_loss, ntxent_acc (% of views whose nearest neighbour among all
gathered views is their translation), ntxent_masked (negatives per view left out as the same sentence as the
view or its translation: --ntxent-mask-duplicates), and loss, the total that is trained.
"""

import math
from dataclasses import dataclass, field

import torch
from fairseq import metrics, modules, utils
from fairseq.criterions import FairseqCriterion, register_criterion
from fairseq.dataclass import FairseqDataclass
from fairseq.distributed import utils as distributed_utils

from ..data.collate import pack_views
from ..errors import UserInputError
from ..losses import nt_xent
from ..model_wrappers import unwrap

# The LM terms: MLM blocks, TLM pairs, and the masked NT-Xent views (--mlm-on-views), each logged on its own.
LM_OBJECTIVES = ("mlm", "tlm", "views_mlm")


@dataclass
class MaskedLmNTXentConfig(FairseqDataclass):
    ntxent_weight: float = field(
        default=1.0,
        metadata={
            "help": "lambda: weight of the NT-Xent loss beside the MLM/TLM loss; 0 trains on MLM/TLM alone "
            "while still logging ntxent_loss and ntxent_acc"
        },
    )
    ntxent_pack_views: bool = field(
        default=True,
        metadata={
            "help": "pack the NT-Xent views, whose lengths are mixed within a batch, into rows as wide as the "
            "longest, each token attending only within its own sentence: almost no padding, the same "
            "embeddings. Off: one row a view, padded to the longest"
        },
    )
    ntxent_mask_duplicates: bool = field(
        default=True,
        metadata={
            "help": "leave out of a view's NT-Xent denominator every negative with the same tokens as the view or "
            "its translation (in the batch, on other workers, in the queue): a pair drawn twice, or a sentence "
            "that a multi-parallel corpus pairs with several languages, is not pushed away from itself. "
            "Logged as ntxent_masked. Off: every other view is a negative"
        },
    )


def _sum_over_workers(values, device):
    totals = torch.tensor(values, dtype=torch.float64, device=device)
    if distributed_utils.get_data_parallel_world_size() > 1:
        distributed_utils.all_reduce(totals, group=distributed_utils.get_data_parallel_group())
    return totals


@register_criterion("masked_lm_ntxent", dataclass=MaskedLmNTXentConfig)
class MaskedLmNTXentLoss(FairseqCriterion):
    def __init__(self, cfg: MaskedLmNTXentConfig, task):
        super().__init__(task)
        if cfg.ntxent_weight < 0:
            raise UserInputError(f"--ntxent-weight must be >= 0, got {cfg.ntxent_weight}")
        self.pack_views = cfg.ntxent_pack_views
        self.weight = cfg.ntxent_weight
        self.mask_duplicates = cfg.ntxent_mask_duplicates

    def forward(self, model, sample, reduce=True):
        logging_output = {"ntokens": sample["ntokens"], "nsentences": sample["nsentences"]}
        lm_loss, lm_tokens = None, 0
        for name in ("mlm", "tlm"):
            if name in sample:
                loss, tokens = self.masked_lm_loss(model, sample[name])
                lm_loss = loss if lm_loss is None else lm_loss + loss
                lm_tokens = lm_tokens + tokens
                logging_output[f"{name}_loss"] = loss.detach()
                logging_output[f"{name}_sample_size"] = tokens

        ntxent, views_mlm = self.ntxent_loss(model, sample["ntxent"]) if "ntxent" in sample else (None, None)
        if ntxent is not None:
            logging_output["ntxent_loss"] = ntxent.loss.detach()
            logging_output["ntxent_correct"] = ntxent.correct
            logging_output["ntxent_views"] = ntxent.views
            logging_output["ntxent_masked"] = ntxent.masked
            logging_output["ntxent_temperature"] = ntxent.temperature * ntxent.views  # a mean per view when reduced
        if views_mlm is not None:  # masked views: their MLM loss came from the forward that embedded them
            loss, tokens = views_mlm
            lm_loss = loss if lm_loss is None else lm_loss + loss
            lm_tokens = lm_tokens + tokens
            logging_output["views_mlm_loss"] = loss.detach()
            logging_output["views_mlm_sample_size"] = tokens

        if ntxent is None:
            loss, sample_size = lm_loss, lm_tokens
        elif lm_loss is None:
            loss, sample_size = self.weight * ntxent.loss, ntxent.views
        else:
            # A dummy batch's tokens are left out as its views are: they would inflate the other workers' lambda.
            dummy = sample["ntxent"].get("dummy", False)
            tokens_all, views_all = _sum_over_workers(
                [0.0 if dummy else float(lm_tokens), float(ntxent.views)], lm_loss.device
            )
            scale = (tokens_all / views_all).float()
            # Added even when lambda = 0 (adding 0 * finite is exact), so that the projection head takes
            # part in every backward, as DistributedDataParallel requires.
            loss, sample_size = lm_loss + self.weight * scale * ntxent.loss, lm_tokens
        logging_output["loss"] = loss.detach()
        logging_output["sample_size"] = sample_size
        return loss, sample_size, logging_output

    def masked_lm_loss(self, model, batch):
        """Summed cross-entropy over the masked tokens, and their number (as fairseq's masked_lm)."""
        masked, tokens = self.prediction_mask(batch["target"])
        logits = model(**batch["net_input"], masked_tokens=masked)[0]
        return self.lm_cross_entropy(logits, batch["target"], masked), tokens

    def prediction_mask(self, target):
        """Where the targets are (None: everywhere), and how many there are."""
        masked = target.ne(self.padding_idx)
        tokens = masked.int().sum()
        # Rare: nothing masked in the whole batch. Project every token (all targets are pad, so the loss
        # is 0 but still part of the graph); on GPU without a device-to-host sync, as fairseq does.
        if masked.device.type == "cpu":
            if not masked.any():
                masked = None
        else:
            masked = torch.where(masked.any(), masked, masked.new([True]))
        return masked, tokens

    def lm_cross_entropy(self, logits, target, masked):
        targets = target[masked] if masked is not None else target
        return modules.cross_entropy(
            logits.view(-1, logits.size(-1)), targets.view(-1), reduction="sum", ignore_index=self.padding_idx
        )

    def ntxent_loss(self, model, batch):
        """Both sides of every pair encoded in one forward as separate sentences (rows < pairs are side a;
        packed, each attending only within itself). Returns the NT-Xent result and, for masked views
        (--mlm-on-views), their MLM loss and masked tokens from that same forward (else None).
        With a negatives queue (training only, so validation accuracy stays in-batch and comparable), its keys
        widen the candidates, then this batch's keys, gathered from every worker, join it.
        A batch marked "dummy" (fairseq's stand-in on a worker that ran out of data: task.train_step) still runs
        the forward and takes part in every gather, with no pairs: it adds no loss, no negatives, no keys."""
        views = pack_views(batch, self.padding_idx) if self.pack_views else batch
        masked, lm_tokens = self.prediction_mask(views["target"]) if "target" in views else (None, 0)
        projections, extra = model(**views["net_input"], ntxent_projection=True, masked_tokens=masked)
        total = batch["pairs"]
        pairs = 0 if batch.get("dummy") else total
        group = (
            distributed_utils.get_data_parallel_group()
            if distributed_utils.get_data_parallel_world_size() > 1
            else None
        )
        inner = unwrap(model)
        ids = batch["sentence_ids"]
        result = nt_xent(
            projections[:pairs],
            projections[total : total + pairs],
            extra["temperature"],  # the model's, fixed or learned
            group=group,
            extra_negatives=inner.ntxent_negatives(),
            sentence_ids=(ids[:pairs], ids[total : total + pairs]) if self.mask_duplicates else None,
            extra_ids=inner.ntxent_negative_ids() if self.mask_duplicates else None,
        )
        views_mlm = None
        if "target" in views:
            views_mlm = self.lm_cross_entropy(extra["lm_logits"], views["target"], masked), lm_tokens
        inner.ntxent_enqueue(views["net_input"], ids, group, pairs)
        return result, views_mlm

    @staticmethod
    def reduce_metrics(logging_outputs) -> None:
        def total(key):
            return utils.item(sum(log.get(key, 0) for log in logging_outputs))

        sample_size = total("sample_size")
        if sample_size > 0:
            metrics.log_scalar("loss", total("loss") / sample_size / math.log(2), sample_size, round=3)
        for name in LM_OBJECTIVES:
            tokens = total(f"{name}_sample_size")
            if tokens > 0:
                metrics.log_scalar(f"{name}_loss", total(f"{name}_loss") / tokens / math.log(2), tokens, round=3)
                metrics.log_derived(
                    f"{name}_ppl", lambda meters, key=f"{name}_loss": utils.get_perplexity(meters[key].avg)
                )
        views = total("ntxent_views")
        if views > 0:
            metrics.log_scalar("ntxent_loss", total("ntxent_loss") / views / math.log(2), views, round=3)
            metrics.log_scalar("ntxent_acc", 100.0 * total("ntxent_correct") / views, views, round=2)
            metrics.log_scalar("ntxent_masked", total("ntxent_masked") / views, views, round=3)
            metrics.log_scalar("ntxent_temperature", total("ntxent_temperature") / views, views, round=4)

    @staticmethod
    def logging_outputs_can_be_summed() -> bool:
        return True
