"""What cxlm-bench runs: its settings and model sizes, the command lines of the plugin's runs beside stock
fairseq's, one timed run of each through fairseq's Trainer, and the NT-Xent loss alone as its negatives grow."""

import dataclasses
import gc
import logging
import os
import statistics
import time

import torch
import torch.nn.functional as F

from .. import losses
from ..data.data_directory import DataDirectory
from ..errors import UserInputError
from ..model_wrappers import unwrap
from .trainer import StepMemory, batches, build_trainer, lm_tokens, synchronize

logger = logging.getLogger("cxlm-bench")

SIZES = {
    "smoke": dict(layers=1, dim=32, heads=2, ffn=64),
    "small": dict(layers=4, dim=256, heads=4, ffn=1024),
    "base": dict(layers=12, dim=768, heads=12, ffn=3072),  # XLM-R base
}
STOCK, MLM, MLM_TLM = "a fairseq masked_lm+roberta", "b ours MLM", "c ours MLM+TLM"
# Every pooling, the default (mean) first: its row is what a user's run costs.
POOLINGS = ("mean", "first", "max")
DEFAULT_POOLING = "mean"
SEPARATE = {pooling: f"d +NT-Xent, {pooling}" for pooling in POOLINGS}
ON_VIEWS = {pooling: f"e +NT-Xent --mlm-on-views, {pooling}" for pooling in POOLINGS}


@dataclasses.dataclass
class BenchSettings:
    """What cxlm-bench measures and at what size: its options, with the size and batch resolved for the machine."""

    data: str  # a data directory (cxlm-prepare) with mono/<lang> and para/<pair>
    lang: str  # the MLM language
    size: str  # a key of SIZES
    max_tokens: int  # tokens per batch, the same in every run
    tokens_per_sample: int  # MLM block and TLM pair length
    updates: int  # updates per timed window
    warmup: int  # untimed updates first
    repeats: int  # timed windows, then as many untimed steps whose largest memory is reported
    fp16: bool
    bf16: bool
    queue_sizes: tuple  # momentum-queue sizes to measure
    smoke: bool  # a tiny, quick run: fewer sizes in the scaling and budget tables


def find_pair(data, lang, pair):
    """DATA/mono/<lang> (the stock run's data) and the TLM / NT-Xent pair: `pair`, or by default the data
    directory's first pair with `lang`."""
    # Checked before DataDirectory's own checks: the stock run (a) reads this file itself, and a wrong --data or
    # --lang gets the one message that names it.
    mono = os.path.join(data, "mono", lang)
    if not os.path.isfile(os.path.join(mono, "train.bin")):
        raise UserInputError(f"{mono}/train.bin is missing: --data must be a data directory with mono/{lang}")
    directory = DataDirectory(data)
    if pair is not None:
        directory.pair_dir(tuple(pair.split("-")))  # the task's own error, before any run rather than midway
        return mono, pair
    pair = next((p for p in directory.pairs() if lang in p.split("-")), None)
    if pair is None:
        raise UserInputError(f"{os.path.join(data, 'para')} has no pair with {lang}; give --pair")
    return mono, pair


def base_argv(settings, device, save_dir):
    shape = SIZES[settings.size]
    argv = [
        "--encoder-layers",
        str(shape["layers"]),
        "--encoder-embed-dim",
        str(shape["dim"]),
        "--encoder-attention-heads",
        str(shape["heads"]),
        "--encoder-ffn-embed-dim",
        str(shape["ffn"]),
        "--max-positions",
        str(max(settings.tokens_per_sample, 128)),
        "--tokens-per-sample",
        str(settings.tokens_per_sample),
        "--sample-break-mode",
        "complete",
        "--max-tokens",
        str(settings.max_tokens),
        "--optimizer",
        "adam",
        "--lr",
        "1e-4",
        "--seed",
        "1",
        "--num-workers",
        "0",
        "--no-progress-bar",
        "--disable-validation",
        "--log-format",
        "none",
        "--save-dir",
        save_dir,
        "--no-save",
    ]
    if device.type == "cpu":
        argv.append("--cpu")
    if settings.fp16:
        argv.append("--fp16")
    if settings.bf16:
        argv.append("--bf16")
    return argv


def training_configs(settings, mono, pair):
    """The command lines of runs (a)-(e), before the options they share."""
    ours = [
        settings.data,
        "--task",
        "cross_lingual_lm_contrastive",
        "--arch",
        "contrastive_xlm",
        "--criterion",
        "masked_lm_ntxent",
        "--langs",
        ",".join(sorted({settings.lang, *pair.split("-")})),
        "--mlm-langs",
        settings.lang,
    ]
    configs = {
        STOCK: [mono, "--task", "masked_lm", "--arch", "roberta", "--criterion", "masked_lm"],
        MLM: [*ours, "--ntxent-pairs", "none"],
        MLM_TLM: [*ours, "--tlm-pairs", pair, "--ntxent-pairs", "none"],
    }
    for pooling in POOLINGS:
        configs[SEPARATE[pooling]] = [*ours, "--tlm-pairs", pair, "--ntxent-pooling", pooling]
    for pooling in POOLINGS:
        configs[ON_VIEWS[pooling]] = [*ours, "--tlm-pairs", pair, "--ntxent-pooling", pooling, "--mlm-on-views"]
    return configs


class TimedRun:
    """One run's Trainer, warmed up and then timed a step at a time, so that runs can take turns step by step
    (interleave) and a drift of the machine's speed falls on all of them alike."""

    def __init__(self, name, argv, settings, device):
        logger.info("%s: building, then %d warm-up updates", name, settings.warmup)
        self.name, self.settings, self.device = name, settings, device
        self.trainer = build_trainer(argv)
        self.stream = batches(self.trainer)
        for _ in range(settings.warmup):
            self.trainer.train_step([next(self.stream)])
        # Every window trains on these same batches: batches differ in length and padding, and windows of
        # different batches differed by more than the ratios being measured.
        self.fixed = [next(self.stream) for _ in range(settings.updates)]
        self.tokens = sum(int(sample["ntokens"]) for sample in self.fixed)  # what every window trains on
        self.lm_tokens = sum(int(lm_tokens(sample)) for sample in self.fixed)
        self.windows = []

    def timed_step(self, index):
        """One batch loaded from the stream (a step's data loading), then a train step on fixed batch `index`:
        their seconds together."""
        synchronize(self.device)
        began = time.perf_counter()
        next(self.stream)
        self.trainer.train_step([self.fixed[index]])
        synchronize(self.device)
        return time.perf_counter() - began

    def record(self, seconds):
        """One window: the --updates steps whose times are `seconds`, one per fixed batch."""
        seconds, tokens, lm = sum(seconds), self.tokens, self.lm_tokens
        window = {
            "updates_per_s": self.settings.updates / seconds,
            "tokens_per_s": tokens / seconds,
            "lm_tokens_per_s": lm / seconds,
            "tokens": tokens,
            "lm_tokens": lm,
        }
        self.windows.append(window)
        return window

    def window(self):
        """--updates steps in a row, one window."""
        return self.record([self.timed_step(index) for index in range(self.settings.updates)])

    def finish(self):
        """Medians and spread of the windows, the largest memory of --repeats untimed steps, and what a batch
        holds; the Trainer is released."""
        model = unwrap(self.trainer.model)
        memory = []  # batches differ (pair lengths, padding): the largest of a few untimed steps
        for _ in range(self.settings.repeats):
            with StepMemory(self.device, exclude=list(model.parameters())) as step:
                self.trainer.train_step([next(self.stream)])
            memory.append(step.mb)
        queue = getattr(model, "ntxent_queue", None)
        queue_mb = 0.0
        if queue is not None and queue.keys is not None:
            stored = [queue.keys, *queue.encoder.parameters()]  # the ring of keys and the momentum encoder
            queue_mb = sum(t.numel() * t.element_size() for t in stored) / 2**20
        windows, updates = self.windows, self.settings.updates

        def median(key):
            return statistics.median(w[key] for w in windows)

        result = {
            "updates_per_s": median("updates_per_s"),
            "tokens_per_s": median("tokens_per_s"),
            "lm_tokens_per_s": median("lm_tokens_per_s"),
            "tokens_per_s_spread": [min(w["tokens_per_s"] for w in windows), max(w["tokens_per_s"] for w in windows)],
            "tokens_per_batch": statistics.mean(w["tokens"] for w in windows) / updates,
            "lm_tokens_per_batch": statistics.mean(w["lm_tokens"] for w in windows) / updates,
            "pairs_per_batch": statistics.mean(b["ntxent"]["pairs"] if "ntxent" in b else 0 for b in self.fixed),
            "step_memory_mb": max(memory),
            "queue_memory_mb": queue_mb,
            "windows": windows,
        }
        del self.trainer, self.stream, self.fixed, model, queue
        gc.collect()
        if self.device.type == "cuda":
            torch.cuda.empty_cache()
        logger.info("%s: %.1f tokens/s", self.name, result["tokens_per_s"])
        return result


def run_config(name, argv, settings, device):
    """One run alone: its --repeats windows in a row."""
    run = TimedRun(name, argv, settings, device)
    for _ in range(settings.repeats):
        run.window()
    return run.finish()


def run_interleaved(configs, settings, device):
    """Every run built first, then --repeats rounds of --updates steps, each step taken by every run in turn
    (the order rotated each step): a round's window of each run is made of steps seconds apart, so a ratio
    taken within a round is paired even when the machine's speed drifts within seconds."""
    runs = [TimedRun(name, argv, settings, device) for name, argv in configs.items()]
    for round_number in range(settings.repeats):
        logger.info("round %d of %d", round_number + 1, settings.repeats)
        seconds = {run.name: [] for run in runs}
        for index in range(settings.updates):
            shift = (round_number * settings.updates + index) % len(runs)
            for run in runs[shift:] + runs[:shift]:
                seconds[run.name].append(run.timed_step(index))
        for run in runs:
            run.record(seconds[run.name])
    return {run.name: run.finish() for run in runs}


def ntxent_scaling(device, gathered_sizes, local_pairs=32, dim=128, repeats=5):
    """Forward + backward of the NT-Xent loss alone as the number of gathered views n grows.

    per worker: this worker's 2 * local_pairs views against n gathered ones: the other workers' rows (leaf
    tensors standing in for what the all-gather returns) take gradient as gathered rows do; communication is
    not timed. one process: all n views local, the n x n similarity matrix of a single process holding the
    batch."""

    def measure(make, loss):
        times = []
        for _ in range(repeats + 1):
            tensors = make()
            synchronize(device)
            began = time.perf_counter()
            with StepMemory(device) as memory:
                loss(*tensors).backward()
            synchronize(device)
            times.append(time.perf_counter() - began)
        return 1000 * statistics.median(times[1:]), memory.mb

    def leaf(rows):
        return torch.randn(rows, dim, device=device, requires_grad=True)

    def per_worker(z_a, z_b, others_a, others_b):
        z_a, z_b = F.normalize(z_a, dim=-1), F.normalize(z_b, dim=-1)
        all_a = torch.cat([z_a, F.normalize(others_a, dim=-1)])  # this worker's rows first (offset 0)
        all_b = torch.cat([z_b, F.normalize(others_b, dim=-1)])
        return losses.nt_xent_gathered(z_a, z_b, all_a, all_b, 0, 0.1).loss

    def one_process(z_a, z_b):
        return losses.nt_xent(z_a, z_b, 0.1).loss

    rows = {}
    for n in gathered_sizes:
        others = max(n // 2 - local_pairs, 0)
        worker_ms, worker_mb = measure(
            lambda: (leaf(local_pairs), leaf(local_pairs), leaf(others), leaf(others)), per_worker
        )
        single_ms, single_mb = measure(lambda: (leaf(n // 2), leaf(n // 2)), one_process)
        rows[n] = {
            "per_worker_ms": worker_ms,
            "per_worker_mb": worker_mb,
            "one_process_ms": single_ms,
            "one_process_mb": single_mb,
        }
    return rows
