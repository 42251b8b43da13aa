"""contrastive_xlm: pooling, explicit positions, language embeddings, heads."""

import pytest
import torch

from fairseq_contrastive_xlm.errors import UserInputError
from fairseq_contrastive_xlm.modules import pool

from helpers import build_model, build_task


@pytest.fixture(scope="module")
def task(data_dir):
    return build_task(data_dir)


def sentences(task, *lengths):
    """Right-padded rows <s> w w ... </s> of the given lengths."""
    d = task.dictionary
    rows = torch.full((len(lengths), max(lengths)), d.pad())
    for i, n in enumerate(lengths):
        rows[i, :n] = torch.randint(d.nspecial, len(d) - 1, (n,))
        rows[i, 0], rows[i, n - 1] = d.bos(), d.eos()
    return rows


def test_pool_by_hand():
    features = torch.tensor([[[-1.0, 2.0], [-3.0, 4.0], [9.0, 9.0]]])  # third position is padding
    padding = torch.tensor([[False, False, True]])
    torch.testing.assert_close(pool(features, padding, "first"), torch.tensor([[-1.0, 2.0]]))
    torch.testing.assert_close(pool(features, padding, "max"), torch.tensor([[-1.0, 4.0]]))
    torch.testing.assert_close(pool(features, padding, "mean"), torch.tensor([[-2.0, 3.0]]))


@pytest.mark.parametrize("pooling", ["first", "max", "mean"])
def test_sentence_embedding_ignores_padding(task, pooling):
    torch.manual_seed(0)
    model = build_model(task, ntxent_pooling=pooling).eval()
    batch = sentences(task, 3, 17)
    alone = model.sentence_embedding(batch[:1, :3])
    padded = model.sentence_embedding(batch)[:1]
    torch.testing.assert_close(padded, alone, rtol=1e-5, atol=1e-5)
    if pooling == "max":
        # Filling padding with zeros (the original code) would have changed these negative dimensions.
        assert (alone < 0).any()


def test_explicit_positions_reproduce_fairseq_positions(task):
    torch.manual_seed(0)
    model = build_model(task).eval()
    tokens = sentences(task, 9, 4)
    positions = torch.arange(tokens.size(1)).expand_as(tokens)
    implicit, _ = model(tokens, features_only=True)
    explicit, _ = model(tokens, features_only=True, positions=positions)
    torch.testing.assert_close(implicit, explicit)
    restarted, _ = model(tokens, features_only=True, positions=torch.where(positions < 5, positions, positions - 5))
    assert not torch.allclose(restarted[0, 5:9], implicit[0, 5:9])


def test_language_embeddings_start_at_zero_and_are_learned(task):
    torch.manual_seed(0)
    model = build_model(task, use_lang_embeddings=True).eval()
    assert model.langs == task.langs
    table = model.encoder.sentence_encoder.embed_langs
    assert table.weight.shape == (len(task.langs), 32)
    tokens = sentences(task, 6)
    lang_ids = torch.full_like(tokens, task.lang_id("de"))
    without, _ = model(tokens, features_only=True)
    with_langs, _ = model(tokens, features_only=True, lang_ids=lang_ids)
    torch.testing.assert_close(without, with_langs)  # zero at start: a pretrained XLM-R is unchanged
    model(tokens, lang_ids=lang_ids)[0].sum().backward()
    assert table.weight.grad[task.lang_id("de")].abs().sum() > 0
    assert table.weight.grad[task.lang_id("fr")].abs().sum() == 0


def test_ntxent_projection_and_classification_head(task):
    model = build_model(task, ntxent_proj_dim=24)
    tokens = sentences(task, 7, 5)
    projected, _ = model(tokens, ntxent_projection=True)
    assert projected.shape == (2, 24)
    model.register_classification_head("sentence_classification_head", num_classes=3)
    logits, _ = model(tokens, features_only=True, classification_head_name="sentence_classification_head")
    assert logits.shape == (2, 3)


def test_no_projection_head_without_the_contrastive_objective(data_dir):
    task = build_task(data_dir, ntxent_pairs="none")
    assert build_model(task).ntxent_head is None


def test_layer_choice_and_its_bounds(task):
    torch.manual_seed(0)
    model = build_model(task, ntxent_layer=1, ntxent_pooling="first").eval()
    tokens = sentences(task, 6)
    features, extra = model.encoder.extract_features(tokens, return_all_hiddens=True)
    torch.testing.assert_close(model.sentence_embedding(tokens), extra["inner_states"][1].transpose(0, 1)[:, 0])
    torch.testing.assert_close(model.sentence_embedding(tokens, layer=-1), features[:, 0])
    with pytest.raises(UserInputError, match="ntxent-layer"):
        build_model(task, ntxent_layer=3)


def test_model_and_task_language_tables_must_agree(task):
    with pytest.raises(UserInputError, match="--langs"):
        build_model(task, use_lang_embeddings=True, langs="en,de")


def test_contrastive_xlm_15_is_exactly_xlm15s_shape(data_dir):
    """What cxlm-import xlm makes of mlm_tlm_xnli15_1024.pth (XLM's params: emb_dim 1024, n_layers 12, n_heads 8,
    gelu, 512 positions, 15 languages, shared output embeddings, LayerNorm eps 1e-12)."""
    from fairseq import options

    args = options.parse_args_and_arch(
        options.get_training_parser(),
        [data_dir, "--task", "cross_lingual_lm_contrastive", "--arch", "contrastive_xlm_15", "--tlm-pairs", "en-de"],
    )
    assert (args.encoder_layers, args.encoder_embed_dim, args.encoder_ffn_embed_dim, args.encoder_attention_heads) == (
        12,
        1024,
        4096,
        8,
    )
    assert (args.max_positions, args.activation_fn, args.lm_head, args.layernorm_eps) == (512, "gelu", "xlm", 1e-12)
    assert args.use_lang_embeddings and not args.encoder_normalize_before and args.layernorm_embedding
