"""--checkpoint-activations (and --offload-activations) trade compute for memory and nothing else: the loss and
every gradient equal those without, for each of the three sub-batches (MLM blocks, TLM pairs, packed views)."""

import pytest
import torch

from helpers import batch_of, build_criterion, build_model, build_task


def loss_and_gradients(task, batch, **options):
    torch.manual_seed(0)
    model = build_model(task, **options)
    model.train()
    loss, _, logged = build_criterion(task)(model, batch)
    loss.backward()
    gradients = {name: p.grad.clone() for name, p in model.named_parameters() if p.grad is not None}
    return loss.detach(), logged, gradients


@pytest.mark.parametrize("option", ["checkpoint_activations", "offload_activations"])
def test_checkpointed_activations_give_the_same_loss_and_gradients(data_dir, option):
    task = build_task(data_dir)
    task.load_dataset("train")
    batch = batch_of(task, "train", range(6))
    assert {"mlm", "tlm", "ntxent"} <= set(batch)

    loss, logged, gradients = loss_and_gradients(task, batch)
    checkpointed_loss, checkpointed_logged, checkpointed = loss_and_gradients(task, batch, **{option: True})

    for part in ("mlm_loss", "tlm_loss", "ntxent_loss"):
        torch.testing.assert_close(checkpointed_logged[part], logged[part], rtol=0, atol=1e-6)
    torch.testing.assert_close(checkpointed_loss, loss, rtol=0, atol=1e-6)
    assert checkpointed.keys() == gradients.keys()
    for name, gradient in gradients.items():
        torch.testing.assert_close(checkpointed[name], gradient, rtol=1e-5, atol=1e-7, msg=name)


@pytest.mark.parametrize("option", ["checkpoint_activations", "offload_activations"])
def test_checkpointing_wraps_every_layer(data_dir, option):
    """What makes the comparison above mean something: the option really checkpoints (offloading implies it)."""
    task = build_task(data_dir)
    model = build_model(task, **{option: True})
    layers = model.encoder.sentence_encoder.layers
    assert all(getattr(layer, "precheckpoint_forward", None) is not None for layer in layers)
