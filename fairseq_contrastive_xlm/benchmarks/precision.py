"""cxlm-bench --gpu-check: fp32, fp16 and bf16 training of the full objective from the same weights on the same
batches, and how far each precision's losses may stray from fp32's."""

import gc
import math

import torch
from fairseq.logging import metrics

from ..model_wrappers import unwrap
from .trainer import batches, build_trainer
from .training import SEPARATE, base_argv, training_configs

# Largest distance (in bits of loss) from the fp32 run over the checked steps: one rounding of a float16
# (11-bit significand) is 5e-4 relative and one of a bfloat16 (8 bits) 4e-3, and the loss is about 10-15 bits.
PRECISION_TOLERANCE = {"fp16": 0.05, "bf16": 0.25}


def step_loss(trainer, sample) -> float:
    """One training step's loss, unrounded: the trainer's own logging output rounds it to 3 decimals, at which fp16
    and fp32 can read the same although they differ."""
    with metrics.aggregate(new_root=True) as meters:
        trainer.train_step([sample])
    return float(meters["loss"].avg)


def precision_check(settings, pair, device, save_dir, steps=None):
    """fp32, fp16 and bf16 training from the same weights on the same batches: MLM + TLM + NT-Xent with packed
    views and the negatives queue. Prints one row per precision and returns whether all passed, with the report
    (device, model size, every precision's losses and distance from fp32)."""
    steps = steps or settings.warmup + settings.updates
    common = base_argv(settings, device, save_dir)
    common = [a for a in common if a not in ("--fp16", "--bf16")]
    config = training_configs(settings, None, pair)[SEPARATE["first"]]  # views packed (the default): a 3-D mask
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
        losses_by_precision[precision] = [step_loss(trainer, next(stream)) for _ in range(steps)]
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
    print(f"precision check on {device_name} ({settings.size} model): {'passed' if passed else 'FAILED'}")
    return passed, {"device": device_name, "size": settings.size, "precision_check": rows, "passed": passed}
