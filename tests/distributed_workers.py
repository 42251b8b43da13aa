"""Worker functions for the gloo tests (spawned processes import them by module name)."""

import os

import torch
import torch.distributed as dist


def init(rank, world, port):
    os.environ["MASTER_ADDR"] = "127.0.0.1"
    os.environ["MASTER_PORT"] = str(port)
    dist.init_process_group("gloo", rank=rank, world_size=world)
    torch.manual_seed(0)


def ntxent_worker(rank, world, port, inputs_path, sizes, out_dir):
    """Each worker holds a slice of the pairs; returns its loss, correct count and weight gradient."""
    from fairseq_contrastive_xlm.losses import nt_xent

    init(rank, world, port)
    x_a, x_b, weight = torch.load(inputs_path)
    start = sum(sizes[:rank])
    rows = slice(start, start + sizes[rank])
    weight = weight.clone().requires_grad_()
    result = nt_xent(x_a[rows] @ weight, x_b[rows] @ weight, temperature=0.1)
    result.loss.backward()
    torch.save(
        {"loss": result.loss.detach(), "correct": result.correct, "views": result.views, "grad": weight.grad},
        os.path.join(out_dir, f"rank{rank}.pt"),
    )
    dist.destroy_process_group()


def criterion_worker(rank, world, port, data, indices_per_rank, out_dir):
    """The real task, model and criterion under torch DistributedDataParallel (as fairseq's pytorch_ddp)."""
    from helpers import batch_of, build_criterion, build_model, build_task

    init(rank, world, port)
    task = build_task(data)
    task.load_dataset("train")
    torch.manual_seed(0)
    model = torch.nn.parallel.DistributedDataParallel(build_model(task))
    criterion = build_criterion(task)
    loss, sample_size, logging_output = criterion(model, batch_of(task, "train", indices_per_rank[rank]))
    loss.backward()  # DDP averages the gradients over the workers
    grads = {name: p.grad.clone() for name, p in model.module.named_parameters() if p.grad is not None}
    torch.save(
        {"loss": loss.detach(), "sample_size": sample_size, "logging": logging_output, "grads": grads},
        os.path.join(out_dir, f"rank{rank}.pt"),
    )
    dist.destroy_process_group()
