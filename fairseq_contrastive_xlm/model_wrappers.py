"""The model inside fairseq's data-parallel wrappers: the task and the criterion reach the model's own methods (the
negatives queue, the momentum update) through it, without importing the model's module."""


def unwrap(model):
    """The model inside DistributedDataParallel-style wrappers (each holds the next as .module)."""
    while hasattr(model, "module"):
        model = model.module
    return model
