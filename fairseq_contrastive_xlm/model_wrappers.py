"""The model inside fairseq's data-parallel wrappers, and the workers it runs on: the task reaches the model's own
methods (the momentum update) through unwrap; the model and the criterion gather and sum over the workers of
data_parallel_group."""

from fairseq.distributed import utils as distributed_utils


def unwrap(model):
    """The model inside DistributedDataParallel-style wrappers (each holds the next as .module)."""
    while hasattr(model, "module"):
        model = model.module
    return model


def data_parallel_group():
    """The group of data-parallel workers to gather views from, or None when training in one process."""
    if distributed_utils.get_data_parallel_world_size() > 1:
        return distributed_utils.get_data_parallel_group()
    return None


def sum_over_workers(totals):
    """A tensor summed over the data-parallel workers (in place), or as it is in one process."""
    if distributed_utils.get_data_parallel_world_size() > 1:
        distributed_utils.all_reduce(totals, group=distributed_utils.get_data_parallel_group())
    return totals
