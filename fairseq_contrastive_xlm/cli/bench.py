"""cxlm-bench: the plugin against stock fairseq, measured in one run with fairseq's own Trainer.

    cxlm-bench --data runs/demo/data                                  # CPU: a small model
    cxlm-bench --data data-bin --size base --bf16 --json bench.json   # on a GPU

Same model size and tokens per batch (--max-tokens) everywhere:
  (a) stock fairseq: task masked_lm, model roberta, criterion masked_lm, on DATA/mono/<lang>
  (b) ours, MLM only          (c) ours, MLM + TLM
  (d) ours, MLM + TLM + NT-Xent with separate unmasked views, first-token and max pooling
  (e) the same with --mlm-on-views: the views' one forward also trains MLM on them
Each runs --warmup updates that are not timed, then --repeats windows of --updates train steps (data
loading included); the median and spread of the windows are reported, then the largest memory of --repeats
more steps.
"Time per LM token" divides by the tokens that carry an MLM/TLM loss (MLM blocks, TLM pairs, masked
views), so that (d)/(c) shows what the contrastive term costs on top of training the same LM tokens.
Then NT-Xent alone as the number of gathered negatives grows (256 -> 8192), and the negatives reachable at a
fixed memory budget by a bigger batch or by the momentum queue. It ends with one line per target:
target <name> <measured> <goal> ok|short.

    cxlm-bench --data data-bin --gpu-check            # on a GPU: precision check, then the base bf16 bench
    cxlm-bench --data runs/demo/data --gpu-check --smoke   # the same check on a CPU, tiny model

--gpu-check trains the same steps (MLM + TLM + NT-Xent, packed views with their 3-D attention mask, the negatives
queue) in fp32, fp16 and bf16 from the same weights and batches; every loss must be finite and stay within
PRECISION_TOLERANCE of fp32's (exit status 1 otherwise). On a GPU, the bench of the base model in bf16 follows.
"""

import argparse
import gc
import logging
import math
import os
import shutil
import statistics
import tempfile
import time

import torch
import torch.nn.functional as F

from .. import losses
from ..compat import bf16_is_not_tpu
from ..errors import UserInputError
from ..languages import parse_numbers
from ..models.contrastive_xlm import unwrap
from . import command, write_json

logger = logging.getLogger("cxlm-bench")

SIZES = {
    "smoke": dict(layers=1, dim=32, heads=2, ffn=64),
    "small": dict(layers=4, dim=256, heads=4, ffn=1024),
    "base": dict(layers=12, dim=768, heads=12, ffn=3072),  # XLM-R base
}
STOCK, MLM, MLM_TLM = "a fairseq masked_lm+roberta", "b ours MLM", "c ours MLM+TLM"
SEPARATE = {"first": "d +NT-Xent, first", "max": "d +NT-Xent, max"}
ON_VIEWS = {"first": "e +NT-Xent --mlm-on-views, first", "max": "e +NT-Xent --mlm-on-views, max"}


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="cxlm-bench", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--data", required=True, help="a data directory (cxlm-prepare) with mono/<lang> and para/<pair>"
    )
    parser.add_argument("--lang", default="en", help="the MLM language (default en)")
    parser.add_argument("--pair", help="the TLM / NT-Xent pair (default: the first pair with --lang)")
    parser.add_argument(
        "--size", choices=sorted(SIZES), default=None, help="model size (default: base on a GPU, small on CPU)"
    )
    parser.add_argument(
        "--max-tokens", type=int, default=None, help="tokens per batch (default 16384 on a GPU, 4096 on CPU)"
    )
    parser.add_argument(
        "--tokens-per-sample", type=int, default=128, help="MLM block and TLM pair length (default 128)"
    )
    parser.add_argument("--updates", type=int, default=8, help="updates per timed window (default 8)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed updates first (default 3)")
    parser.add_argument("--repeats", type=int, default=3, help="timed windows (default 3)")
    parser.add_argument("--fp16", action="store_true", help="fairseq's --fp16 (GPU)")
    parser.add_argument("--bf16", action="store_true", help="fairseq's --bf16 (GPU)")
    parser.add_argument("--queue-sizes", default="16384,65536", help="momentum-queue sizes to measure (comma list)")
    parser.add_argument(
        "--smoke", action="store_true", help="a tiny, quick run that only checks the tables are produced"
    )
    parser.add_argument(
        "--gpu-check",
        action="store_true",
        help="check fp16 and bf16 training against fp32 (then, on a GPU, bench the base model in bf16)",
    )
    parser.add_argument("--json", help="write every number here")
    args = parser.parse_args(argv)
    gpu = torch.cuda.is_available()
    if args.smoke:
        args.size, args.max_tokens, args.updates, args.warmup, args.repeats = "smoke", 1024, 2, 1, 2
        args.queue_sizes = "512"
    args.size = args.size or ("base" if gpu else "small")
    args.max_tokens = args.max_tokens or (16384 if gpu else 4096)
    return args


class StepMemory:
    """Memory one training step takes beyond what is already allocated (weights, optimizer state).

    On a GPU: the CUDA allocator's peak during the step. On CPU, where no allocator keeps a peak, the tensors
    autograd saves for backward (activations, deduplicated by storage; parameters excluded), which is what
    grows with the batch and with the number of negatives."""

    def __init__(self, device, exclude=()):
        self.device = device
        self.exclude = {p.untyped_storage().data_ptr() for p in exclude}
        self.mb = 0.0

    def __enter__(self):
        if self.device.type == "cuda":
            torch.cuda.synchronize()
            self.start = torch.cuda.memory_allocated()
            torch.cuda.reset_peak_memory_stats()
        else:
            self.saved = {}
            self.hooks = torch.autograd.graph.saved_tensors_hooks(self._pack, lambda tensor: tensor)
            self.hooks.__enter__()
        return self

    def _pack(self, tensor):
        storage = tensor.untyped_storage()
        if storage.data_ptr() not in self.exclude:
            self.saved[storage.data_ptr()] = storage.nbytes()
        return tensor

    def __exit__(self, *exc):
        if self.device.type == "cuda":
            torch.cuda.synchronize()
            self.mb = (torch.cuda.max_memory_allocated() - self.start) / 2**20
        else:
            self.hooks.__exit__(*exc)
            self.mb = sum(self.saved.values()) / 2**20


def synchronize(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def build_trainer(argv):
    from fairseq import options, tasks, utils
    from fairseq.dataclass.utils import convert_namespace_to_omegaconf
    from fairseq.trainer import Trainer

    args = options.parse_args_and_arch(options.get_training_parser(), argv)
    bf16_is_not_tpu(args, argv)
    cfg = convert_namespace_to_omegaconf(args)
    utils.set_torch_seed(cfg.common.seed)
    task = tasks.setup_task(cfg.task)
    task.load_dataset(cfg.dataset.train_subset, combine=False, epoch=1)
    model = task.build_model(cfg.model)
    criterion = task.build_criterion(cfg.criterion)
    return Trainer(cfg, task, model, criterion)


def batches(trainer):
    """Training batches without end: a new epoch when one runs out."""
    epoch = 1
    while True:
        itr = trainer.get_train_iterator(epoch, load_dataset=False).next_epoch_itr(shuffle=True)
        yield from itr
        epoch += 1


def lm_tokens(sample):
    """Tokens of the sequences that carry an MLM/TLM loss: MLM blocks, TLM pairs, and masked views."""
    if not any(name in sample for name in ("mlm", "tlm", "ntxent")):
        return sample["ntokens"]  # stock masked_lm: the batch is one MLM sub-batch
    parts = [sample[name]["ntokens"] for name in ("mlm", "tlm") if name in sample]
    if "ntxent" in sample and "target" in sample["ntxent"]:
        parts.append(sample["ntxent"]["ntokens"])
    return sum(parts)


def run_config(name, argv, args, device):
    """Median and spread of the timed windows, the largest step memory, and what a batch holds."""
    logger.info("%s: %d warm-up updates, %d windows of %d, then memory", name, args.warmup, args.repeats, args.updates)
    trainer = build_trainer(argv)
    stream = batches(trainer)
    for _ in range(args.warmup):
        trainer.train_step([next(stream)])
    windows, contents = [], []
    for _ in range(args.repeats):
        synchronize(device)
        began, tokens, lm = time.perf_counter(), 0, 0
        for _ in range(args.updates):
            sample = next(stream)
            trainer.train_step([sample])
            tokens += int(sample["ntokens"])
            lm += int(lm_tokens(sample))
            contents.append(sample["ntxent"]["pairs"] if "ntxent" in sample else 0)
        synchronize(device)
        seconds = time.perf_counter() - began
        windows.append(
            {
                "updates_per_s": args.updates / seconds,
                "tokens_per_s": tokens / seconds,
                "lm_tokens_per_s": lm / seconds,
                "tokens": tokens,
                "lm_tokens": lm,
            }
        )
    model = unwrap(trainer.model)
    memory = []  # batches differ (pair lengths, padding): the largest of a few untimed steps
    for _ in range(args.repeats):
        with StepMemory(device, exclude=list(model.parameters())) as step:
            trainer.train_step([next(stream)])
        memory.append(step.mb)
    queue = getattr(model, "ntxent_queue", None)
    queue_mb = 0.0
    if queue is not None and queue.keys is not None:
        stored = [queue.keys, *queue.encoder.parameters()]  # the ring of keys and the momentum encoder
        queue_mb = sum(t.numel() * t.element_size() for t in stored) / 2**20

    def median(key):
        return statistics.median(w[key] for w in windows)

    result = {
        "updates_per_s": median("updates_per_s"),
        "tokens_per_s": median("tokens_per_s"),
        "lm_tokens_per_s": median("lm_tokens_per_s"),
        "tokens_per_s_spread": [min(w["tokens_per_s"] for w in windows), max(w["tokens_per_s"] for w in windows)],
        "tokens_per_batch": statistics.mean(w["tokens"] for w in windows) / args.updates,
        "lm_tokens_per_batch": statistics.mean(w["lm_tokens"] for w in windows) / args.updates,
        "pairs_per_batch": statistics.mean(contents),
        "step_memory_mb": max(memory),
        "queue_memory_mb": queue_mb,
    }
    del trainer, stream, model, queue
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()
    logger.info("%s: %.1f tokens/s", name, result["tokens_per_s"])
    return result


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


def base_argv(args, device, save_dir):
    shape = SIZES[args.size]
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
        str(max(args.tokens_per_sample, 128)),
        "--tokens-per-sample",
        str(args.tokens_per_sample),
        "--sample-break-mode",
        "complete",
        "--max-tokens",
        str(args.max_tokens),
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
    if args.fp16:
        argv.append("--fp16")
    if args.bf16:
        argv.append("--bf16")
    return argv


def target(name, measured, goal, lower_is_better):
    ok = measured <= goal if lower_is_better else measured >= goal
    sign = "<=" if lower_is_better else ">="
    return f"target {name} {measured:.4g} {sign}{goal} {'ok' if ok else 'short'}"


def print_runs(results, memory_label):
    print(
        f"\n{'run':<34}{'updates/s':>10}{'tokens/s':>10}{'spread':>13}{'LM tok/s':>10}{'tok/batch':>10}"
        f"{'pairs':>7}{memory_label:>12}"
    )
    for name, r in results.items():
        spread = f"{r['tokens_per_s_spread'][0]:.0f}-{r['tokens_per_s_spread'][1]:.0f}"
        print(
            f"{name:<34}{r['updates_per_s']:>10.2f}{r['tokens_per_s']:>10.0f}{spread:>13}{r['lm_tokens_per_s']:>10.0f}"
            f"{r['tokens_per_batch']:>10.0f}{r['pairs_per_batch']:>7.1f}{r['step_memory_mb']:>12.1f}"
        )


def find_pair(data, lang, pair):
    mono = os.path.join(data, "mono", lang)
    if not os.path.isfile(os.path.join(mono, "train.bin")):
        raise UserInputError(f"{mono}/train.bin is missing: --data must be a data directory with mono/{lang}")
    para = os.path.join(data, "para")
    pairs = sorted(os.listdir(para)) if os.path.isdir(para) else []
    pair = pair or next((p for p in pairs if lang in p.split("-")), None)
    if pair is None:
        raise UserInputError(f"{para} has no pair with {lang}; give --pair")
    return mono, pair


@command("cxlm-bench")
def main(argv=None):
    args = parse_args(argv)
    mono, pair = find_pair(args.data, args.lang, args.pair)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    save_dir = tempfile.mkdtemp(prefix="cxlm-bench-")
    try:
        if args.gpu_check:
            passed = precision_check(args, pair, device, save_dir)
            if passed and device.type == "cuda":
                args.size, args.bf16, args.fp16 = "base", True, False
                run_all(args, mono, pair, device, save_dir)
            if not passed:
                raise SystemExit(1)
        else:
            run_all(args, mono, pair, device, save_dir)
    finally:
        shutil.rmtree(save_dir, ignore_errors=True)


# Largest distance (in bits of loss) from the fp32 run over the checked steps: one rounding of a float16
# (11-bit significand) is 5e-4 relative and one of a bfloat16 (8 bits) 4e-3, and the loss is about 10-15 bits.
PRECISION_TOLERANCE = {"fp16": 0.05, "bf16": 0.25}


def precision_check(args, pair, device, save_dir, steps=None):
    """fp32, fp16 and bf16 training from the same weights on the same batches: MLM + TLM + NT-Xent with packed
    views and the negatives queue. Prints one row per precision and returns whether all passed."""
    steps = steps or args.warmup + args.updates
    common = base_argv(args, device, save_dir)
    common = [a for a in common if a not in ("--fp16", "--bf16")]
    config = training_configs(args, None, pair)[SEPARATE["first"]]  # views packed (the default): a 3-D mask
    config = config + [
        "--ntxent-queue-size",
        "1024",
        "--ntxent-momentum",
        "0.99",
        "--dropout",
        "0",
        "--attention-dropout",
        "0",
    ]
    losses_by_precision = {}
    for precision, flags in (("fp32", []), ("fp16", ["--fp16"]), ("bf16", ["--bf16"])):
        trainer = build_trainer([*config, *common, *flags])
        stream = batches(trainer)
        losses_by_precision[precision] = [float(trainer.train_step([next(stream)])["loss"]) for _ in range(steps)]
        queue = unwrap(trainer.model).ntxent_queue
        if queue.keys is None or not torch.isfinite(queue.keys).all():
            losses_by_precision[precision].append(float("nan"))  # a queue left empty or non-finite fails
        del trainer, stream
        gc.collect()
    reference = losses_by_precision["fp32"]
    rows, passed = [], True
    for precision, values in losses_by_precision.items():
        finite = all(math.isfinite(v) for v in values)
        distance = max(abs(a - b) for a, b in zip(values, reference)) if finite else float("inf")
        ok = finite and distance <= PRECISION_TOLERANCE.get(precision, 0.0)
        passed &= ok
        rows.append({"precision": precision, "losses": values, "max_distance_bits": distance, "ok": ok})
        print(
            f"{precision}: {steps} steps, losses {' '.join(f'{v:.3f}' for v in values[:steps])}, "
            f"largest distance from fp32 {distance:.4f} bits: {'ok' if ok else 'FAILED'}"
        )
    device_name = torch.cuda.get_device_name() if device.type == "cuda" else "CPU"
    print(f"precision check on {device_name} ({args.size} model): {'passed' if passed else 'FAILED'}")
    if args.json:
        write_json(args.json, {"device": device_name, "size": args.size, "precision_check": rows, "passed": passed})
    return passed


def training_configs(args, mono, pair):
    """The command lines of runs (a)-(e), before the options they share."""
    ours = [
        args.data,
        "--task",
        "cross_lingual_lm_contrastive",
        "--arch",
        "contrastive_xlm",
        "--criterion",
        "masked_lm_ntxent",
        "--langs",
        ",".join(sorted({args.lang, *pair.split("-")})),
        "--mlm-langs",
        args.lang,
    ]
    configs = {
        STOCK: [mono, "--task", "masked_lm", "--arch", "roberta", "--criterion", "masked_lm"],
        MLM: [*ours, "--ntxent-pairs", "none"],
        MLM_TLM: [*ours, "--tlm-pairs", pair, "--ntxent-pairs", "none"],
    }
    for pooling in ("first", "max"):
        configs[SEPARATE[pooling]] = [*ours, "--tlm-pairs", pair, "--ntxent-pooling", pooling]
    for pooling in ("first", "max"):
        configs[ON_VIEWS[pooling]] = [*ours, "--tlm-pairs", pair, "--ntxent-pooling", pooling, "--mlm-on-views"]
    return configs


def print_header(args, device):
    precision = "bf16" if args.bf16 else "fp16" if args.fp16 else "fp32"
    device_name = torch.cuda.get_device_name() if device.type == "cuda" else f"CPU, {torch.get_num_threads()} threads"
    shape = SIZES[args.size]
    print(
        f"device: {device_name}; {precision}; model {args.size} ({shape['layers']} layers, {shape['dim']} wide); "
        f"--max-tokens {args.max_tokens}; {args.repeats} windows of {args.updates} updates after {args.warmup}"
    )
    if device.type == "cuda":
        print("memory: the CUDA peak of one step above weights and optimizer state")
    else:
        print("memory: tensors saved for backward in one step (activations)")
    return device_name, precision


def ratios_of(results):
    """Stock against ours, and what each addition costs per LM token."""
    a, b, c = results[STOCK], results[MLM], results[MLM_TLM]
    ratios = {
        "b/a tokens/s": b["tokens_per_s"] / a["tokens_per_s"],
        "c/b time per token": b["tokens_per_s"] / c["tokens_per_s"],
    }
    for label, names in (("separate views", SEPARATE), ("--mlm-on-views", ON_VIEWS)):
        for pooling, name in names.items():
            ratios[f"d/c time per LM token ({label}, {pooling})"] = (
                c["lm_tokens_per_s"] / results[name]["lm_tokens_per_s"]
            )
    print("\n" + "\n".join(f"{k:<50}{v:>8.3f}" for k, v in ratios.items()))
    return ratios


def scaling_table(args, device, fast, memory_label):
    """NT-Xent alone as the gathered views grow, beside the step time of the fastest contrastive run."""
    sizes = (256, 512, 1024) if args.smoke else (256, 512, 1024, 2048, 4096, 8192)
    local_pairs = max(1, round(fast["pairs_per_batch"]))
    scaling = ntxent_scaling(device, sizes, local_pairs=local_pairs)
    step_ms = 1000 / fast["updates_per_s"]
    print(
        f"\nNT-Xent alone (forward + backward, 128 dims) as the gathered views grow; a step of '{ON_VIEWS['first']}' "
        f"takes {step_ms:.0f} ms at this size:"
    )
    print(
        f"{'gathered':>9}{f'per worker ({2 * local_pairs} local views)':>30}{'share of step':>15}"
        f"{'one process (n x n)':>22}"
    )
    print(f"{'':>9}{'ms':>18}{memory_label:>12}{'':>15}{'ms':>10}{memory_label:>12}")
    for n, r in scaling.items():
        print(
            f"{n:>9}{r['per_worker_ms']:>18.2f}{r['per_worker_mb']:>12.1f}{r['per_worker_ms'] / step_ms:>15.4f}"
            f"{r['one_process_ms']:>10.1f}{r['one_process_mb']:>12.1f}"
        )
    return scaling, step_ms


def negatives_budget(args, device, argv, memory_label):
    """Negatives per view at a memory budget: a bigger batch (in-batch negatives) against the momentum queue."""
    budget = []
    for scale in (1,) if args.smoke else (1, 2):
        scaled = list(argv)
        scaled[scaled.index("--max-tokens") + 1] = str(args.max_tokens * scale)
        budget.append(
            (
                "in-batch",
                f"--max-tokens {args.max_tokens * scale}",
                0,
                run_config(f"batch x{scale}", scaled, args, device),
            )
        )
    for size in parse_numbers(args.queue_sizes, "--queue-sizes", int):
        queued = [*argv, "--ntxent-queue-size", str(size)]
        budget.append(("queue", f"--ntxent-queue-size {size}", size, run_config(f"queue {size}", queued, args, device)))
    print(
        f"\nnegatives per view on one worker (the batch's other views, plus the queue) and the memory they take "
        f"('{ON_VIEWS['first']}'):"
    )
    print(
        f"{'how':<10}{'setting':<28}{'pairs/batch':>12}{'negatives':>10}{memory_label:>10}"
        f"{'queue MB':>10}{'updates/s':>11}"
    )
    for how, setting, queued, r in budget:
        r["negatives"] = 2 * r["pairs_per_batch"] - 2 + queued
        print(
            f"{how:<10}{setting:<28}{r['pairs_per_batch']:>12.1f}{r['negatives']:>10.0f}{r['step_memory_mb']:>10.1f}"
            f"{r['queue_memory_mb']:>10.1f}{r['updates_per_s']:>11.2f}"
        )
    return budget


def target_lines(args, ratios, scaling, step_ms):
    largest = max(scaling)
    lines = [
        target("data_path_b_over_a_tokens_per_s", ratios["b/a tokens/s"], 0.95, lower_is_better=False),
        target(
            "contrastive_d_over_c_time_per_lm_token_mlm_on_views",
            max(ratios[f"d/c time per LM token (--mlm-on-views, {p})"] for p in ON_VIEWS),
            1.10,
            lower_is_better=True,
        ),
        target(
            "contrastive_d_over_c_time_per_lm_token_separate_views",
            max(ratios[f"d/c time per LM token (separate views, {p})"] for p in SEPARATE),
            1.10,
            lower_is_better=True,
        ),
        target(
            f"ntxent_{largest}_negatives_share_of_step_{args.size}",
            scaling[largest]["per_worker_ms"] / step_ms,
            0.10,
            lower_is_better=True,
        ),
    ]
    print("\n" + "\n".join(lines))
    return lines


def run_all(args, mono, pair, device, save_dir):
    common = base_argv(args, device, save_dir)
    configs = training_configs(args, mono, pair)
    device_name, precision = print_header(args, device)
    memory_label = "peak MB" if device.type == "cuda" else "saved MB"
    results = {name: run_config(name, [*argv, *common], args, device) for name, argv in configs.items()}
    print_runs(results, memory_label)
    ratios = ratios_of(results)
    scaling, step_ms = scaling_table(args, device, results[ON_VIEWS["first"]], memory_label)
    budget = negatives_budget(args, device, [*configs[ON_VIEWS["first"]], *common], memory_label)
    lines = target_lines(args, ratios, scaling, step_ms)
    if args.json:
        write_json(
            args.json,
            {
                "device": device_name,
                "precision": precision,
                "size": args.size,
                "max_tokens": args.max_tokens,
                "runs": results,
                "ratios": ratios,
                "ntxent_scaling": scaling,
                "budget": [{"how": h, "setting": s, **r} for h, s, _, r in budget],
                "targets": lines,
            },
        )
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
