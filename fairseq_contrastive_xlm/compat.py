"""Every shim between fairseq 0.12 and the current stack, in one place.

Each shim says what breaks without it, so it can be dropped once upstream fixes land. NumPy 2 is not
shimmed: requirements.txt pins numpy 1.26.4 because fairseq 0.12 calls np.compat.long.
"""

import argparse
import errno
import functools
import pickle
import traceback

import numpy as np
import torch

from .atomic import atomic_path
from .errors import CheckpointRefusedError, CheckpointUnreadableError, UserInputError, first_line


def allow_fairseq_checkpoints():
    """Let torch's weights-only loader read the one non-tensor global fairseq pickles.

    Without it, torch >= 2.6 (weights_only=True by default) refuses every fairseq 0.12 checkpoint
    ("Unsupported global: argparse.Namespace"): resuming, --restore-file and evaluation all fail.
    Only argparse.Namespace is allowed; the weights-only guard itself stays on.
    """
    torch.serialization.add_safe_globals([argparse.Namespace])


def explain_refused_checkpoints():
    """Name the file and the offending global when torch refuses a checkpoint, and the file when it cannot be read.

    Without it, a checkpoint carrying any other global fails deep inside torch.load with advice to
    set weights_only=False, which would run arbitrary code from the file; and a truncated one (a copy cut short,
    a full disk) ends every command, fairseq-train --restore-file too, in a traceback from torch's zip reader.
    """
    from fairseq import checkpoint_utils

    original = checkpoint_utils.load_checkpoint_to_cpu
    if getattr(original, "refusal_explained", False):
        return

    @functools.wraps(original)
    def load_checkpoint_to_cpu(path, *args, **kwargs):
        try:
            return original(path, *args, **kwargs)
        except pickle.UnpicklingError as err:
            if "Weights only load failed" in str(err) or "GLOBAL" in str(err):
                raise CheckpointRefusedError(path, str(err)) from None
            raise CheckpointUnreadableError(path, first_line(err)) from None
        except (RuntimeError, EOFError, OSError, KeyError, IndexError, ValueError) as err:
            # torch's readers fail on a cut file in these ways (zip reader, seek, the legacy format's keys and
            # indices); past them, fairseq's own upgrade fails with a KeyError on a file torch read but fairseq did
            # not write. Anything else (memory, an I/O error of the disk, a missing file) keeps its own report.
            frames = traceback.extract_tb(err.__traceback__)
            in_torch = any("torch/serialization.py" in frame.filename for frame in frames)
            io_failure = isinstance(err, OSError) and err.errno not in (None, errno.EINVAL)
            if in_torch and not io_failure:
                raise CheckpointUnreadableError(path, first_line(err)) from None
            if isinstance(err, KeyError) and not in_torch:
                raise UserInputError(
                    f"{path} is not a fairseq checkpoint (it lacks {err}); convert XLM's .pth or a Hugging Face "
                    "folder with cxlm-import"
                ) from None
            raise

    load_checkpoint_to_cpu.refusal_explained = True
    # fairseq's trainer and its own helpers look the function up on the module at call time.
    checkpoint_utils.load_checkpoint_to_cpu = load_checkpoint_to_cpu


LOG_FORMAT = "%(asctime)s | %(levelname)s | %(name)s | %(message)s"  # fairseq-train's own


def quiet_root_logger():
    """Undo the DEBUG level fairseq's import gives the root logger, and give its handler fairseq's format.

    Without it, importing fairseq 0.12 runs logging.basicConfig(level=DEBUG) (in
    models/wav2vec/wav2vec2_classification.py) and every library's debug messages (matplotlib's font
    search, for one) flood the output of our commands, in a bare format unlike fairseq-train's.
    LOGLEVEL=DEBUG still asks for them.
    """
    import logging
    import os

    import fairseq  # noqa: F401  (the import that sets the level)

    root = logging.getLogger()
    if root.level == logging.DEBUG and os.environ.get("LOGLEVEL", "").upper() != "DEBUG":
        root.setLevel(logging.INFO)
    for handler in root.handlers:
        if type(handler) is logging.StreamHandler:  # the one fairseq's import installed; not others
            handler.setFormatter(logging.Formatter(LOG_FORMAT))


def quiet_known_warnings():
    """Silence the warnings fairseq 0.12 raises on today's stack in every command that builds a model.

    Without it, every checkpoint load and every trainer set-up prints Hydra 1.3's deprecation notices about
    fairseq's Hydra 1.0-style calls (ConfigStore schema matching, version_base), torch's FutureWarning about
    fairseq's torch.cuda.amp.autocast, the data loader's note that pinned memory needs an accelerator, and
    faiss's list of CPU-specific builds it skipped: none is anything a user can act on, and they bury the output.
    """
    import logging
    import warnings

    warnings.filterwarnings("ignore", category=UserWarning, module=r"hydra\.")
    warnings.filterwarnings("ignore", message=r"(?s).*(validated against ConfigStore schema|version_base parameter)")
    warnings.filterwarnings("ignore", message=r".*'pin_memory' argument is set as true")
    warnings.filterwarnings("ignore", category=FutureWarning, module=r"fairseq\.")
    # faiss's loader logs, at INFO, each CPU-specific build it could not load before the generic one it uses.
    logging.getLogger("faiss.loader").setLevel(logging.WARNING)


def keep_last_batch():
    """fairseq's batch_by_size keeps a last batch whose size is not a multiple of --required-batch-size-multiple.

    Without it, fairseq 0.12 drops that batch (facebookresearch/fairseq#5036): up to multiple - 1 items
    (7 by default) are left out of every validation, XNLI dev and test scoring included, and of every
    training epoch. A last smaller batch costs nothing worth that.
    """
    from fairseq.data import data_utils

    original = data_utils.batch_by_size
    if getattr(original, "keeps_last_batch", False):
        return

    @functools.wraps(original)
    def batch_by_size(
        indices,
        num_tokens_fn,
        num_tokens_vec=None,
        max_tokens=None,
        max_sentences=None,
        required_batch_size_multiple=1,
        fixed_shapes=None,
    ):
        batches = original(
            indices,
            num_tokens_fn,
            num_tokens_vec,
            max_tokens,
            max_sentences,
            required_batch_size_multiple,
            fixed_shapes,
        )
        if fixed_shapes is None and required_batch_size_multiple > 1:
            batched = sum(len(b) for b in batches)
            if batched < len(indices):
                batches = list(batches) + [np.asarray(indices[batched:], dtype=np.int64)]
        return batches

    batch_by_size.keeps_last_batch = True
    # FairseqDataset.batch_by_size looks the function up on the module at call time.
    data_utils.batch_by_size = batch_by_size


def bf16_is_not_tpu(common, argv):
    """Undo the --tpu that fairseq 0.12 infers from --bf16, unless the command line asked for a TPU itself.

    Without it, fairseq 0.12's argument parsing turns --bf16 (and --memory-efficient-bf16) into --tpu
    (options.py; facebookresearch/fairseq#4696), and the trainer dies on any machine without torch_xla, GPU or
    CPU ('NoneType' object has no attribute 'xla_device'). With it, --bf16 means bfloat16 on the device at hand.
    """
    if common.tpu and common.bf16 and "--tpu" not in argv and "common.tpu=true" not in argv:
        common.tpu = False


def bf16_without_tpu():
    """bf16_is_not_tpu for fairseq-train and fairseq-hydra-train. The plugin is imported while their arguments
    are parsed (--user-dir), too late to change the parsing, so the correction is made where they hand their
    config on: distributed_utils.call_main, which both look up at call time."""
    import sys

    from fairseq.distributed import utils as distributed_utils

    original = distributed_utils.call_main
    if getattr(original, "bf16_without_tpu", False):
        return

    @functools.wraps(original)
    def call_main(cfg, main, **kwargs):
        bf16_is_not_tpu(cfg.common, sys.argv)
        return original(cfg, main, **kwargs)

    call_main.bf16_without_tpu = True
    distributed_utils.call_main = call_main


def torchrun_without_gpus():
    """Let fairseq-train and fairseq-hydra-train started by torchrun (or torch.distributed.launch) train on CPUs.

    Without it, fairseq 0.12 never reaches its torchrun support on a machine without GPUs: --distributed-world-size
    defaults to the number of GPUs (1 with none), so each process silently trains alone; and given the world size,
    it sets device_id = rank % torch.cuda.device_count(), a ZeroDivisionError. With it, on a machine without CUDA
    the world size, rank and local rank come from torchrun's environment, as fairseq does on GPUs, and NCCL (GPU
    only) gives way to gloo. Machines with GPUs keep fairseq's own path.
    """
    import logging
    import os

    from fairseq.distributed import utils as distributed_utils

    original = distributed_utils.infer_init_method
    if getattr(original, "torchrun_without_gpus", False):
        return

    @functools.wraps(original)
    def infer_init_method(cfg, force_distributed=False):
        launched = all(key in os.environ for key in ("MASTER_ADDR", "MASTER_PORT", "WORLD_SIZE", "RANK"))
        if cfg.distributed_init_method is not None or torch.cuda.is_available() or not launched:
            return original(cfg, force_distributed)
        cfg.distributed_init_method = "env://"
        cfg.distributed_world_size = int(os.environ["WORLD_SIZE"])
        cfg.distributed_rank = int(os.environ["RANK"])
        cfg.device_id = int(os.environ.get("LOCAL_RANK", 0))
        cfg.distributed_no_spawn = True  # torchrun made the processes
        if cfg.distributed_backend == "nccl":
            logging.getLogger(__name__).info("no CUDA: --distributed-backend gloo instead of nccl")
            cfg.distributed_backend = "gloo"

    infer_init_method.torchrun_without_gpus = True
    # call_main looks the function up on the module at call time.
    distributed_utils.infer_init_method = infer_init_method


def ddp_on_cpu():
    """--ddp-backend pytorch_ddp (c10d) for a model on the CPU.

    Without it, fairseq 0.12 hands device_ids=[device_id] and output_device to torch's DistributedDataParallel
    whatever the device, and torch refuses them for a CPU module ("device_ids ... only work with single-device/
    multiple-device GPU modules or CPU modules"): fairseq-train --cpu in several processes fails at start with
    its default backend. CPU modules take device_ids=None; GPU modules are untouched.
    """
    from fairseq.models import distributed_fairseq_model

    base = distributed_fairseq_model.DistributedDataParallel
    if getattr(base, "ddp_on_cpu", False):
        return

    class DistributedDataParallel(base):
        ddp_on_cpu = True

        def __init__(self, module, device_ids=None, output_device=None, **kwargs):
            if all(p.device.type == "cpu" for p in module.parameters()):
                device_ids = output_device = None
            super().__init__(module, device_ids=device_ids, output_device=output_device, **kwargs)

    # DistributedFairseqModel looks the class up on its module at call time.
    distributed_fairseq_model.DistributedDataParallel = DistributedDataParallel


def atomic_checkpoint_copies():
    """Copy checkpoints into place atomically: a temporary file beside the target, then a rename.

    Without it, fairseq 0.12 writes the first checkpoint of a save atomically but copies it to the others
    (checkpoint_last.pt, checkpoint_best.pt) in place: a process killed during the copy (kill -9, a pre-empted
    node, a full disk) leaves a truncated checkpoint_last.pt, and the run cannot resume. With it the previous
    checkpoint_last.pt stays whole until the new one is complete. Remote paths (ioPath handlers) are untouched.
    """
    import os
    import shutil

    from fairseq.file_io import PathManager

    original = PathManager.copy
    if getattr(original, "atomic", False):
        return

    def copy(src_path: str, dst_path: str, overwrite: bool = False) -> bool:
        if not PathManager.supports_rename(dst_path) or (os.path.exists(dst_path) and not overwrite):
            return original(src_path, dst_path, overwrite)
        with atomic_path(dst_path, suffix=f".tmp{os.getpid()}") as partial:
            shutil.copyfile(src_path, partial)
        return True

    copy.atomic = True
    # checkpoint_utils calls PathManager.copy, looked up on the class at call time.
    PathManager.copy = staticmethod(copy)


def fp16_on_cpu():
    """--fp16 on a machine without CUDA: the flat float32 master copy of the weights is kept on the CPU.

    Without it, fairseq 0.12's FP16Optimizer asks torch.cuda.current_device() for the key of its flat master copy,
    and --fp16 dies building the optimizer on any machine without CUDA ("Torch not compiled with CUDA enabled"),
    while --memory-efficient-fp16 and --fp16-no-flatten-grads run. With it the copy is keyed by the parameters'
    device index, None on the CPU, which is what fairseq's other FP16Optimizer methods look up. GPUs are untouched.
    """
    from fairseq.optim.fp16_optimizer import _FP16OptimizerMixin

    original = _FP16OptimizerMixin.build_fp32_params.__func__
    if getattr(original, "fp16_on_cpu", False):
        return

    def build_fp32_params(cls, args, params, flatten=True):
        if not flatten or torch.cuda.is_available() or any(p.device.type != "cpu" for p in params):
            return original(cls, args, params, flatten)
        flat = torch.cat([p.data.reshape(-1).float() for p in params])
        flat = torch.nn.Parameter(flat)
        flat.grad = torch.zeros_like(flat.data)
        return {None: flat}  # None: the device index of CPU tensors

    build_fp32_params.fp16_on_cpu = True
    _FP16OptimizerMixin.build_fp32_params = classmethod(build_fp32_params)


def fp16_overflow_on_cpu():
    """A trainer without CUDA survives an fp16 gradient overflow.

    Without it, fairseq 0.12's Trainer.train_step answers every overflow (the loss scaler's signal to skip the
    update and halve the scale) with grad_norm = torch.tensor(0.0).cuda(), and --fp16 training on a CPU dies at
    its first overflow ("Torch not compiled with CUDA enabled"). With it, while a trainer that is not on CUDA takes
    a step, Tensor.cuda() leaves a tensor where it is. Trainers on CUDA are untouched.
    """
    from fairseq.trainer import Trainer

    original = Trainer.train_step
    if getattr(original, "fp16_overflow_on_cpu", False):
        return

    @functools.wraps(original)
    def train_step(self, samples, raise_oom=False):
        if self.cuda:
            return original(self, samples, raise_oom)
        to_cuda = torch.Tensor.cuda
        torch.Tensor.cuda = lambda tensor, *args, **kwargs: tensor
        try:
            return original(self, samples, raise_oom)
        finally:
            torch.Tensor.cuda = to_cuda

    train_step.fp16_overflow_on_cpu = True
    Trainer.train_step = train_step


class _ProcessExiting(BaseException):
    """Ends a prefetching thread at exit (a BaseException, so that fairseq's `except Exception` passes it on)."""


def stop_prefetching_at_exit():
    """End fairseq's batch-prefetching thread before Python does: stop it at its next batch and wait for it.

    fairseq's BufferedIterator collates --data-buffer-size batches ahead in a daemon thread. Without it, a process
    whose main thread ends while that thread is inside torch (a finished fairseq-train, about 1 run in 150 on two
    busy cores) is aborted by the C++ runtime as Python ends the thread: SIGABRT, "terminate called without an
    active exception", after the last checkpoint was written. One that has not stopped within a minute is left.
    """
    import atexit
    import queue
    import threading
    import types
    import weakref

    from fairseq.data.iterators import BackgroundConsumer

    if getattr(BackgroundConsumer, "stops_at_exit", False):
        return
    exiting, live, original_run = threading.Event(), weakref.WeakSet(), BackgroundConsumer.run

    def run(self):
        inner = self._queue  # BufferedIterator keeps the queue itself for its get

        def put(item):  # the thread's one blocking call
            while not exiting.is_set():
                try:
                    return inner.put(item, timeout=0.1)
                except queue.Full:
                    pass
            raise _ProcessExiting

        live.add(self)
        self._queue = types.SimpleNamespace(put=put)
        try:
            original_run(self)
        except _ProcessExiting:
            pass

    def stop_all():
        exiting.set()
        for thread in list(live):
            thread.join(timeout=60)

    BackgroundConsumer.run, BackgroundConsumer.stops_at_exit = run, True
    atexit.register(stop_all)


def apply_all():
    allow_fairseq_checkpoints()
    explain_refused_checkpoints()
    quiet_root_logger()
    quiet_known_warnings()
    keep_last_batch()
    bf16_without_tpu()
    torchrun_without_gpus()
    ddp_on_cpu()
    atomic_checkpoint_copies()
    fp16_on_cpu()
    fp16_overflow_on_cpu()
    stop_prefetching_at_exit()
