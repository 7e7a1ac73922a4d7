"""The population model: shapes, member independence, causality, parameter and FLOP counts."""

from __future__ import annotations

import pytest
import torch

from scalingbook.lab.model import (
    ModelConfig,
    Population,
    flops_6nd,
    flops_chinchilla,
    forward_flops_chinchilla,
    param_count,
)

TINY = ModelConfig(d_model=8, n_layers=1, n_heads=2, mlp_ratio=4, seq_len=10, vocab_size=119)


def test_param_count_by_hand():
    # per layer: attention 4 * 8^2 = 256, MLP 2 * 8 * 32 = 512, two LayerNorm gains 16; final gain 8
    assert param_count(TINY, embeddings=False) == 256 + 512 + 16 + 8
    # tied token table 119 * 8 = 952, learned positions 10 * 8 = 80
    assert param_count(TINY) == 792 + 952 + 80
    no_pos = ModelConfig(d_model=8, n_layers=1, n_heads=2, positional="rotary", seq_len=10)
    assert param_count(no_pos) == 792 + 952


@pytest.mark.parametrize("positional", ["learned", "none", "rotary"])
def test_param_count_matches_the_module(positional):
    cfg = ModelConfig(d_model=16, n_layers=2, n_heads=4, positional=positional, seq_len=12)
    model = Population(cfg, seeds=[1, 2, 3])
    assert sum(p.numel() for p in model.parameters()) == 3 * param_count(cfg)


def test_flops_by_hand():
    # Hoffmann et al. (2022) App. F with T=10, d=8, h=2, f=32, V=119, one layer
    embeddings = 2 * 10 * 119 * 8  # 19040
    attention = 3840 + 1600 + 600 + 1600 + 1280  # QKV, logits, softmax, reduction, projection
    dense = 2 * 10 * (2 * 8 * 32)  # 10240
    logits = 2 * 10 * 8 * 119  # 19040
    forward = embeddings + attention + dense + logits
    assert forward_flops_chinchilla(TINY, seq_len=10) == forward == 57240
    assert flops_chinchilla(TINY, tokens=100, seq_len=10) == 3 * forward * 10
    assert flops_6nd(TINY, tokens=100) == 6 * 1824 * 100
    assert flops_6nd(TINY, tokens=100, embeddings=False) == 6 * 792 * 100


def test_member_init_does_not_depend_on_population():
    alone = Population(TINY, [7])
    among = Population(TINY, [3, 7, 11])
    for (name, a), b in zip(alone.named_parameters(), among.parameters()):
        assert torch.equal(a[0], b[1]), name
    assert not torch.equal(among.wte[0], among.wte[1])


@pytest.mark.parametrize("positional", ["learned", "none", "rotary"])
def test_member_forward_does_not_depend_on_population(positional):
    cfg = ModelConfig(d_model=16, n_layers=2, n_heads=2, positional=positional, seq_len=10)
    tokens = torch.randint(0, cfg.vocab_size, (3, 4, 10), generator=torch.Generator().manual_seed(0))
    among = Population(cfg, [3, 7, 11])(tokens)
    alone = Population(cfg, [7])(tokens[1:2])
    assert among.shape == (3, 4, 10, cfg.vocab_size)
    torch.testing.assert_close(alone[0], among[1], atol=1e-6, rtol=0)


@pytest.mark.parametrize("positional", ["learned", "none", "rotary"])
def test_causal_so_right_padding_is_invisible(positional):
    cfg = ModelConfig(d_model=16, n_layers=2, n_heads=2, positional=positional, seq_len=10)
    model = Population(cfg, [0, 1])
    tokens = torch.randint(3, cfg.vocab_size, (2, 3, 10), generator=torch.Generator().manual_seed(1))
    changed = tokens.clone()
    changed[..., 6:] = 0
    torch.testing.assert_close(model(tokens)[..., :6, :], model(changed)[..., :6, :], atol=1e-6, rtol=0)


def test_positions_matter_unless_nope():
    # one layer: without positions the last token attends to its prefix as a set, so swapping two
    # earlier tokens cannot change its output; learned and rotary positions can tell them apart
    tokens = torch.tensor([[[5, 9, 7, 3]], [[9, 5, 7, 3]]])
    for positional, differs in (("learned", True), ("rotary", True), ("none", False)):
        cfg = ModelConfig(d_model=16, n_layers=1, n_heads=2, positional=positional, seq_len=8)
        model = Population(cfg, [0])
        a, b = model(tokens[:1])[0, 0, -1], model(tokens[1:])[0, 0, -1]
        assert (not torch.allclose(a, b, atol=1e-6)) == differs, positional


def test_bad_config_and_inputs_are_named():
    with pytest.raises(ValueError, match="n_heads"):
        ModelConfig(d_model=10, n_heads=4)
    with pytest.raises(ValueError, match="positional"):
        ModelConfig(positional="alibi")
    model = Population(TINY, [0, 1])
    with pytest.raises(ValueError, match="members"):
        model(torch.zeros(3, 1, 4, dtype=torch.long))
    with pytest.raises(ValueError, match="seq_len"):
        model(torch.zeros(2, 1, 11, dtype=torch.long))
