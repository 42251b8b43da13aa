"""The cxlm-bench report: every run of training.py measured in turn, then its tables (the runs, the ratios of
ours to stock, NT-Xent alone as the negatives grow, negatives at a memory budget) and one line per target."""

import math
import statistics

import torch

from .training import (
    DEFAULT_POOLING,
    MLM,
    MLM_TLM,
    ON_VIEWS,
    SEPARATE,
    SIZES,
    STOCK,
    base_argv,
    ntxent_scaling,
    run_config,
    run_interleaved,
    training_configs,
)


def print_header(settings, device):
    precision = "bf16" if settings.bf16 else "fp16" if settings.fp16 else "fp32"
    device_name = torch.cuda.get_device_name() if device.type == "cuda" else f"CPU, {torch.get_num_threads()} threads"
    shape = SIZES[settings.size]
    print(
        f"device: {device_name}; {precision}; model {settings.size} ({shape['layers']} layers, {shape['dim']} wide); "
        f"--max-tokens {settings.max_tokens}; {settings.repeats} interleaved rounds of {settings.updates} updates "
        f"after {settings.warmup}"
    )
    if device.type == "cuda":
        print("memory: the CUDA peak of one step above weights and optimizer state")
    else:
        print("memory: tensors saved for backward in one step (activations)")
    return device_name, precision


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


def ratios_of(results):
    """Stock against ours, and what each addition costs per LM token: each ratio taken round by round (the
    windows of one round run side by side), then its median and its spread, (max - min) / median."""

    def per_round(numerator, denominator, key):
        pairs = zip(results[numerator]["windows"], results[denominator]["windows"])
        return [n[key] / d[key] for n, d in pairs]

    rounds = {
        "b/a tokens/s": per_round(MLM, STOCK, "tokens_per_s"),
        "c/b time per token": per_round(MLM, MLM_TLM, "tokens_per_s"),
    }
    for label, names in (("separate views", SEPARATE), ("--mlm-on-views", ON_VIEWS)):
        for pooling, name in names.items():
            rounds[f"d/c time per LM token ({label}, {pooling})"] = per_round(MLM_TLM, name, "lm_tokens_per_s")
    ratios, spreads = {}, {}
    for key, values in rounds.items():
        ratios[key] = statistics.median(values)
        spreads[key] = (max(values) - min(values)) / ratios[key]
    print(f"\n{'ratio':<50}{'median':>8}{'spread':>9}  over {len(next(iter(rounds.values())))} rounds")
    print("\n".join(f"{k:<50}{ratios[k]:>8.3f}{100 * spreads[k]:>8.1f}%" for k in ratios))
    return ratios, spreads


def scaling_table(settings, device, fast, memory_label):
    """NT-Xent alone as the gathered views grow, beside the step time of the fastest contrastive run."""
    sizes = (256, 512, 1024) if settings.smoke else (256, 512, 1024, 2048, 4096, 8192)
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


def negatives_budget(settings, device, argv, memory_label):
    """Negatives per view at a memory budget: a bigger batch (in-batch negatives) against the momentum queue."""
    budget = []
    for scale in (1,) if settings.smoke else (1, 2):
        scaled = list(argv)
        scaled[scaled.index("--max-tokens") + 1] = str(settings.max_tokens * scale)
        budget.append(
            (
                "in-batch",
                f"--max-tokens {settings.max_tokens * scale}",
                0,
                run_config(f"batch x{scale}", scaled, settings, device),
            )
        )
    for size in settings.queue_sizes:
        queued = [*argv, "--ntxent-queue-size", str(size)]
        budget.append(
            ("queue", f"--ntxent-queue-size {size}", size, run_config(f"queue {size}", queued, settings, device))
        )
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


def target(name, measured, goal, lower_is_better):
    ok = measured <= goal if lower_is_better else measured >= goal
    sign = "<=" if lower_is_better else ">="
    return f"target {name} {measured:.4g} {sign}{goal} {'ok' if ok else 'short'}"


def target_lines(settings, ratios, spreads, scaling, step_ms):
    largest, largest_spread = max(scaling), max(spreads.values())
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
            "contrastive_d_over_c_time_per_lm_token_defaults",
            ratios[f"d/c time per LM token (separate views, {DEFAULT_POOLING})"],
            1.10,
            lower_is_better=True,
        ),
        target(
            f"ntxent_{largest}_negatives_share_of_step_{settings.size}",
            scaling[largest]["per_worker_ms"] / step_ms,
            0.10,
            lower_is_better=True,
        ),
        # A ratio is read against its goal only when its rounds agree this well: else more --repeats.
        target("largest_ratio_spread", largest_spread, 0.03, lower_is_better=True),
    ]
    print("\n" + "\n".join(lines))
    if largest_spread > 0.03:
        # A window's noise falls as one over the square root of its steps, when the steps' noise is independent.
        needed = math.ceil(settings.updates * (largest_spread / 0.03) ** 2)
        print(f"at this machine's noise, about --updates {needed} would bring the largest spread under 3%")
    return lines


def run_all(settings, mono, pair, device, save_dir):
    """Every run, table and target, printed; returns every number (what --json writes)."""
    common = base_argv(settings, device, save_dir)
    configs = training_configs(settings, mono, pair)
    device_name, precision = print_header(settings, device)
    memory_label = "peak MB" if device.type == "cuda" else "saved MB"
    results = run_interleaved({name: [*argv, *common] for name, argv in configs.items()}, settings, device)
    print_runs(results, memory_label)
    ratios, spreads = ratios_of(results)
    scaling, step_ms = scaling_table(settings, device, results[ON_VIEWS["first"]], memory_label)
    budget = negatives_budget(settings, device, [*configs[ON_VIEWS["first"]], *common], memory_label)
    lines = target_lines(settings, ratios, spreads, scaling, step_ms)
    return {
        "device": device_name,
        "precision": precision,
        "size": settings.size,
        "max_tokens": settings.max_tokens,
        "runs": results,
        "ratios": ratios,
        "ratio_spreads": spreads,
        "ntxent_scaling": scaling,
        "budget": [{"how": h, "setting": s, **r} for h, s, _, r in budget],
        "targets": lines,
    }
