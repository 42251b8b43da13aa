"""Zero-shot XNLI evaluation of a sentence_prediction checkpoint: confusion matrices per language."""

import logging
from typing import Dict, Iterable, List

import numpy as np
import torch
from tqdm import tqdm

from ..checkpoints import load
from ..models.contrastive_xlm import language_ids
from .formats import LABELS

logger = logging.getLogger(__name__)


def classification_head(model) -> str:
    heads = list(getattr(model, "classification_heads", {}))
    if not heads:
        from ..errors import UserInputError

        raise UserInputError("the checkpoint has no classification head: is it a sentence_prediction fine-tune?")
    return "sentence_classification_head" if "sentence_classification_head" in heads else heads[0]


@torch.no_grad()
def confusion(model, task, split: str, lang: str, batch_size: int = 64) -> np.ndarray:
    """3 x 3 counts of (gold, predicted) on one split, the language's id given to the model."""
    task.load_dataset(split)
    batches = task.get_batch_iterator(
        dataset=task.dataset(split),
        max_sentences=batch_size,
        max_positions=task.max_positions(),
        ignore_invalid_inputs=False,
        seed=1,
        num_workers=0,
    ).next_epoch_itr(shuffle=False)
    head = classification_head(model)
    device = next(model.parameters()).device
    counts = np.zeros((len(LABELS), len(LABELS)), dtype=np.int64)
    for sample in batches:
        net_input = {k: v.to(device) for k, v in sample["net_input"].items()}
        logits, _ = model(
            **net_input,
            features_only=True,
            classification_head_name=head,
            lang_ids=language_ids(model, lang, net_input["src_tokens"]),
        )
        predicted = logits.argmax(dim=-1).cpu().numpy()
        gold = sample["target"].view(-1).numpy()
        np.add.at(counts, (gold, predicted), 1)
    return counts


def evaluate(model, task, langs: List[str], splits: Iterable[str], batch_size: int = 64, progress: bool = True):
    """{split: {lang: confusion}} for splits such as 'dev' and 'test' (binarized as dev_<lang>, test_<lang>)."""
    jobs = [(split, lang) for split in splits for lang in langs]
    results: Dict[str, Dict[str, np.ndarray]] = {}
    for split, lang in tqdm(jobs, desc="XNLI", unit=" split", disable=not progress, mininterval=2):
        results.setdefault(split, {})[lang] = confusion(model, task, f"{split}_{lang}", lang, batch_size)
    return results


def accuracies(confusions: Dict[str, np.ndarray]) -> Dict[str, float]:
    """Accuracy (%) per language and their average ('avg', the unweighted mean over languages)."""
    scores = {lang: 100.0 * np.trace(m) / max(m.sum(), 1) for lang, m in confusions.items()}
    scores["avg"] = float(np.mean(list(scores.values())))
    return scores


def dev_scores(paths: List[str], data: str, langs: List[str], batch_size: int = 64, cpu: bool = False):
    """{checkpoint: dev accuracy per language and 'avg'} for each checkpoint."""
    scores = {}
    for path in paths:
        model, task, _ = load(path, data=data, cpu=cpu)
        scores[path] = accuracies(evaluate(model, task, langs, ["dev"], batch_size, progress=False)["dev"])
        logger.info("%s: average dev accuracy %.2f", path, scores[path]["avg"])
    return scores


def select_best(dev_scores: Dict[str, Dict[str, float]]) -> str:
    """The checkpoint with the highest average dev accuracy; on a tie the first one listed (the earliest)."""
    return max(dev_scores, key=lambda name: (dev_scores[name]["avg"], -list(dev_scores).index(name)))
