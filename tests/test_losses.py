"""NT-Xent on one worker: a hand-computed example, symmetry, and which views are positives."""

import math

import pytest
import torch
import torch.nn.functional as F

from fairseq_contrastive_xlm.losses import nt_xent


def test_hand_computed_example():
    # Two pairs, tau = 0.5. After normalisation a1=(1,0), a2=(0,1), b1=(0.6,0.8), b2=(0,1), so the
    # similarities / tau are: a1.a2=0, a1.b1=1.2, a1.b2=0, a2.b1=1.6, a2.b2=2.0, b1.b2=1.6.
    z_a = torch.tensor([[2.0, 0.0], [0.0, 5.0]])
    z_b = torch.tensor([[3.0, 4.0], [0.0, 0.5]])
    expected = (
        (-1.2 + math.log(math.exp(0) + math.exp(1.2) + math.exp(0)))  # a1: positive b1 among a2, b1, b2
        + (-2.0 + math.log(math.exp(0) + math.exp(1.6) + math.exp(2.0)))  # a2: positive b2 among a1, b1, b2
        + (-1.2 + math.log(math.exp(1.2) + math.exp(1.6) + math.exp(1.6)))  # b1: positive a1 among a1, a2, b2
        + (-2.0 + math.log(math.exp(0) + math.exp(2.0) + math.exp(1.6)))  # b2: positive a2 among a1, a2, b1
    )
    result = nt_xent(z_a, z_b, temperature=0.5)
    assert result.loss.item() == pytest.approx(expected, rel=1e-6)
    assert result.views == 4
    assert int(result.correct) == 3  # b1 is nearer to a2 and b2 (1.6) than to its translation a1 (1.2)


def test_symmetric_in_the_two_sides():
    torch.manual_seed(0)
    z_a, z_b = torch.randn(7, 5), torch.randn(7, 5)
    forward, backward = nt_xent(z_a, z_b, 0.1), nt_xent(z_b, z_a, 0.1)
    torch.testing.assert_close(forward.loss, backward.loss)
    assert int(forward.correct) == int(backward.correct)


def test_reordering_whole_pairs_changes_nothing():
    torch.manual_seed(1)
    z_a, z_b = torch.randn(9, 4), torch.randn(9, 4)
    order = torch.randperm(9)
    torch.testing.assert_close(nt_xent(z_a, z_b, 0.2).loss, nt_xent(z_a[order], z_b[order], 0.2).loss)


@pytest.mark.parametrize(
    "permutation", [[0, 1, 2, 3, 4, 5], [1, 0, 2, 3, 4, 5], [1, 2, 3, 4, 5, 0], [0, 2, 1, 3, 5, 4]]
)
def test_only_the_translation_is_a_positive(permutation):
    """a_i = e_i and b_i = e_pi(i): every view has exactly one candidate at similarity 1 (the rest 0),
    and it is its positive exactly when pi(i) = i. Any other pairing rule (neighbours, offsets) gives a
    different loss and accuracy than this closed form."""
    n, tau = 6, 0.1
    z_a = torch.eye(n)
    z_b = z_a[permutation]
    fixed = sum(1 for i, p in enumerate(permutation) if i == p)
    denominator = math.exp(1 / tau) + 2 * n - 2
    expected = 2 * fixed * -math.log(math.exp(1 / tau) / denominator) + 2 * (n - fixed) * -math.log(1 / denominator)
    result = nt_xent(z_a, z_b, tau)
    assert result.loss.item() == pytest.approx(expected, rel=1e-5, abs=1e-5)
    assert int(result.correct) == 2 * fixed


def test_half_precision_inputs_are_compared_in_float32():
    z = torch.full((4, 8), 60000.0, dtype=torch.float16)  # near fp16's maximum
    z[1:, 0] = -60000.0
    result = nt_xent(z, z.clone(), temperature=0.01)
    assert result.loss.dtype == torch.float32
    assert torch.isfinite(result.loss)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_near_identical_half_views_at_low_temperature_match_float64(dtype):
    """tau = 0.01 and views that nearly coincide: logits near 100, whose exp overflows float16 (max 65504) and
    whose softmax a half-precision computation cannot resolve. The loss and its gradient must still be the
    float64 ones of the same (half-rounded) inputs."""
    torch.manual_seed(0)
    base = torch.randn(6, 16)
    z_a = base.to(dtype).requires_grad_()
    z_b = (base + 1e-3 * torch.randn(6, 16)).to(dtype).requires_grad_()
    assert torch.isinf(torch.exp((F.normalize(z_a, dim=-1) @ F.normalize(z_b, dim=-1).t()) / 0.01)).any()

    result = nt_xent(z_a, z_b, temperature=0.01)
    result.loss.backward()
    a64 = z_a.detach().double().requires_grad_()
    b64 = z_b.detach().double().requires_grad_()
    exact = nt_xent(a64, b64, temperature=0.01)
    exact.loss.backward()
    assert result.loss.dtype == torch.float32
    assert result.loss.item() == pytest.approx(exact.loss.item(), rel=1e-4, abs=1e-4)
    torch.testing.assert_close(z_a.grad.double(), a64.grad, rtol=0.02, atol=2e-3)  # rounded back to half
    assert int(result.correct) == 12


def test_gradients_reach_both_sides():
    z_a = torch.randn(5, 3, requires_grad=True)
    z_b = torch.randn(5, 3, requires_grad=True)
    nt_xent(z_a, z_b, 0.1).loss.backward()
    assert z_a.grad.abs().sum() > 0 and z_b.grad.abs().sum() > 0


def test_rejects_bad_arguments():
    with pytest.raises(ValueError, match="same shape"):
        nt_xent(torch.randn(3, 2), torch.randn(4, 2), 0.1)
    with pytest.raises(ValueError, match="temperature"):
        nt_xent(torch.randn(3, 2), torch.randn(3, 2), 0.0)


def _masked_by_hand(z_a, z_b, ids_a, ids_b, tau, queue=None, queue_ids=None):
    """Each view's loss by its definition, in float64 with Python loops: the denominator holds every candidate
    but the view itself and those with the view's or its positive's sentence id, its positive always.
    Returns the per-view losses (a sides, then b sides) and how many candidates were masked."""
    a, b = F.normalize(z_a.double(), dim=-1), F.normalize(z_b.double(), dim=-1)
    views = list(zip(a, ids_a.tolist())) + list(zip(b, ids_b.tolist()))
    extra = [] if queue is None else list(zip(F.normalize(queue.double(), dim=-1), queue_ids.tolist()))
    n, losses, masked = len(a), [], 0
    for q, (query, own_id) in enumerate(views):
        p = q + n if q < n else q - n
        positive, positive_id = views[p]
        denominator = 0.0
        for k, (candidate, candidate_id) in enumerate(views + extra):
            if k == q:
                continue
            if k != p and candidate_id in (own_id, positive_id):
                masked += 1
                continue
            denominator += math.exp(float(query @ candidate) / tau)
        losses.append(-float(query @ positive) / tau + math.log(denominator))
    return losses, masked


def test_masked_loss_equals_the_hand_computation_with_planted_duplicates():
    """Pair 3 is pair 0 drawn twice; pair 5's English side is pair 1's (a multi-parallel corpus); pair 6 is
    a sentence that is its own translation ("OK" -> "OK")."""
    torch.manual_seed(2)
    z_a, z_b = torch.randn(7, 6, dtype=torch.float64), torch.randn(7, 6, dtype=torch.float64)
    z_a[3], z_b[3] = z_a[0], z_b[0]
    z_a[5] = z_a[1]
    ids_a = torch.tensor([10, 11, 12, 10, 14, 11, 16])
    ids_b = torch.tensor([20, 21, 22, 20, 24, 25, 16])
    losses, masked = _masked_by_hand(z_a, z_b, ids_a, ids_b, 0.1)
    result = nt_xent(z_a, z_b, 0.1, sentence_ids=(ids_a, ids_b))
    assert result.loss.item() == pytest.approx(sum(losses), rel=1e-12)
    # pairs 0 and 3: each of their 4 views masks the twin's two views; pairs 1 and 5: a1 and a5 mask each other,
    # and so do b1 (positive a1) and b5 (positive a5): a view masks the same sentence as its positive too.
    assert masked == 4 * 2 + 4 == int(result.masked)
    unmasked = nt_xent(z_a, z_b, 0.1)
    assert unmasked.loss.item() > result.loss.item() and int(unmasked.masked) == 0


def test_masking_with_distinct_sentences_changes_nothing():
    torch.manual_seed(3)
    z_a, z_b = torch.randn(8, 5), torch.randn(8, 5)
    masked = nt_xent(z_a, z_b, 0.1, sentence_ids=(torch.arange(8), torch.arange(8, 16)))
    assert masked.loss.item() == nt_xent(z_a, z_b, 0.1).loss.item() and int(masked.masked) == 0


def test_a_duplicate_pair_leaves_the_duplicated_views_losses_unchanged():
    """Pair 0 drawn a second time: the views of pair 0 and of its copy have exactly the loss pair 0's views had
    alone (the copy is masked for them), and the masked loss is still the sum of the per-view definitions."""
    torch.manual_seed(4)
    z_a, z_b = torch.randn(5, 4, dtype=torch.float64), torch.randn(5, 4, dtype=torch.float64)
    ids_a, ids_b = torch.arange(5), torch.arange(5, 10)
    alone, _ = _masked_by_hand(z_a, z_b, ids_a, ids_b, 0.2)
    twin = [torch.cat([x, x[:1]]) for x in (z_a, z_b, ids_a, ids_b)]
    twice, masked = _masked_by_hand(*twin, 0.2)
    for original, copy, before in ((0, 5, 0), (6, 11, 5)):  # a0 and its copy; b0 and its copy
        assert twice[original] == pytest.approx(alone[before], rel=1e-12)
        assert twice[copy] == pytest.approx(alone[before], rel=1e-12)
    result = nt_xent(*twin[:2], 0.2, sentence_ids=tuple(twin[2:]))
    assert result.loss.item() == pytest.approx(sum(twice), rel=1e-12) and masked == int(result.masked) == 8


def test_queued_duplicates_are_masked_and_queues_without_ids_are_not():
    torch.manual_seed(5)
    z_a, z_b = torch.randn(4, 3, dtype=torch.float64), torch.randn(4, 3, dtype=torch.float64)
    ids_a, ids_b = torch.arange(4), torch.arange(4, 8)
    queue = torch.randn(6, 3, dtype=torch.float64)
    queue_ids = torch.tensor([100, 2, 101, 6, 102, 103])  # a2's and b2's sentences were queued before
    losses, masked = _masked_by_hand(z_a, z_b, ids_a, ids_b, 0.1, queue, queue_ids)
    result = nt_xent(z_a, z_b, 0.1, extra_negatives=queue, sentence_ids=(ids_a, ids_b), extra_ids=queue_ids)
    assert result.loss.item() == pytest.approx(sum(losses), rel=1e-12)
    assert masked == int(result.masked) == 4  # a2 and b2 each mask both queued copies
    no_ids = nt_xent(z_a, z_b, 0.1, extra_negatives=queue, sentence_ids=(ids_a, ids_b))
    assert int(no_ids.masked) == 0
    assert no_ids.loss.item() == pytest.approx(nt_xent(z_a, z_b, 0.1, extra_negatives=queue).loss.item(), rel=1e-12)
