"""fairseq's own Trainer, built in this process from a fairseq-train command line, and what the benchmarks
count of its steps: the memory one step takes, the tokens that carry an LM loss, and an endless batch stream."""

import torch

from ..compat import bf16_is_not_tpu


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
