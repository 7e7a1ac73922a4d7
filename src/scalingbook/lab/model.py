"""A population of decoder-only transformers trained as one batched model.

Every weight carries a leading member axis M, and every matrix product is a batched one
(``torch.bmm`` over members), so M seeds cost one set of kernel launches instead of M. Zhao et al.
(2025) train about 200 seeds per scale; this is what makes that a single-GPU job.

The block is GPT-2's pre-LN layout (Radford et al. 2019; nanoGPT) without biases: LayerNorm gains
only, as in PaLM (Chowdhery et al. 2022). Input and output embeddings are tied (Press & Wolf 2017).
The positional scheme is a parameter because length generalisation depends on it (Kazemnejad et al.
2023 for NoPE; Su et al. 2021 for rotary; Zhou et al. 2023 discuss both).

Initialisation (GPT-2): N(0, 0.02) for matrices and embeddings, residual output projections scaled
by 1/sqrt(2 * n_layers). Member m draws all its weights, in a fixed order, from its own
``torch.Generator`` seeded by ``seeds[m]``, so its initial weights do not depend on the population.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from scalingbook.lab.tasks import VOCAB_SIZE

Positional = Literal["learned", "none", "rotary"]


@dataclass(frozen=True)
class ModelConfig:
    """Shape of one member. ``seq_len`` bounds the positions a learned embedding covers."""

    d_model: int = 64
    n_layers: int = 2
    n_heads: int = 4
    mlp_ratio: int = 4
    positional: Positional = "learned"
    seq_len: int = 256
    vocab_size: int = VOCAB_SIZE
    rope_base: float = 10_000.0
    init_std: float = 0.02

    def __post_init__(self) -> None:
        if self.d_model % self.n_heads or (self.d_model // self.n_heads) % 2:
            raise ValueError(f"d_model={self.d_model} must split into n_heads={self.n_heads} heads of even size")
        if self.positional not in ("learned", "none", "rotary"):
            raise ValueError(f"positional must be 'learned', 'none' or 'rotary', got {self.positional!r}")
        for name in ("n_layers", "mlp_ratio", "seq_len", "vocab_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")

    @property
    def d_ff(self) -> int:
        return self.mlp_ratio * self.d_model


def _linear(x: Tensor, weight: Tensor) -> Tensor:
    """x (M, N, d_in) @ weight (M, d_in, d_out): one batched matmul for all members."""
    return torch.bmm(x, weight)


def _layer_norm(x: Tensor, gain: Tensor) -> Tensor:
    """LayerNorm without bias; gain (M, d) broadcast over the member's tokens."""
    return F.layer_norm(x, x.shape[-1:]) * gain[:, None, :]


def rotary(x: Tensor, base: float) -> Tensor:
    """Rotary position embedding (Su et al. 2021, Eq. 34) of x (..., T, head_dim), half-split form."""
    t, d = x.shape[-2:]
    inv_freq = base ** (-torch.arange(0, d, 2, device=x.device, dtype=torch.float32) / d)
    angle = torch.arange(t, device=x.device, dtype=torch.float32)[:, None] * inv_freq
    cos, sin = angle.cos().to(x.dtype), angle.sin().to(x.dtype)
    x1, x2 = x[..., : d // 2], x[..., d // 2 :]
    return torch.cat([x1 * cos - x2 * sin, x1 * sin + x2 * cos], dim=-1)


class Block(nn.Module):
    """One pre-LN transformer block for all members: x + attn(ln(x)), then x + mlp(ln(x))."""

    def __init__(self, cfg: ModelConfig, members: int) -> None:
        super().__init__()
        d, m = cfg.d_model, members
        self.cfg = cfg
        self.ln_attn = nn.Parameter(torch.ones(m, d))
        self.qkv = nn.Parameter(torch.empty(m, d, 3 * d))
        self.attn_out = nn.Parameter(torch.empty(m, d, d))
        self.ln_mlp = nn.Parameter(torch.ones(m, d))
        self.fc = nn.Parameter(torch.empty(m, d, cfg.d_ff))
        self.mlp_out = nn.Parameter(torch.empty(m, cfg.d_ff, d))

    def forward(self, x: Tensor, batch: int) -> Tensor:
        """x: (M, batch * T, d) with each member's sequences laid end to end."""
        x = x + self._attention(_layer_norm(x, self.ln_attn), batch)
        h = F.gelu(_linear(_layer_norm(x, self.ln_mlp), self.fc))
        return x + _linear(h, self.mlp_out)

    def _attention(self, x: Tensor, batch: int) -> Tensor:
        m, n, d = x.shape
        t, heads = n // batch, self.cfg.n_heads
        qkv = _linear(x, self.qkv).view(m * batch, t, 3, heads, d // heads)
        q, k, v = qkv.permute(2, 0, 3, 1, 4)  # each (M * batch, heads, T, head_dim)
        if self.cfg.positional == "rotary":
            q, k = rotary(q, self.cfg.rope_base), rotary(k, self.cfg.rope_base)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        return _linear(y.transpose(1, 2).reshape(m, n, d), self.attn_out)


class Population(nn.Module):
    """M transformers with identical shapes and independent weights, one per seed.

    ``forward(tokens)`` maps token ids (M, B, T) to next-token logits (M, B, T, vocab). Sequences are
    right-padded; attention is causal, so padding never influences the positions before it.
    """

    def __init__(self, cfg: ModelConfig, seeds: Sequence[int]) -> None:
        super().__init__()
        if not seeds:
            raise ValueError("seeds must name at least one member")
        self.cfg = cfg
        self.seeds = tuple(int(s) for s in seeds)
        m = len(self.seeds)
        self.wte = nn.Parameter(torch.empty(m, cfg.vocab_size, cfg.d_model))
        if cfg.positional == "learned":
            self.wpe = nn.Parameter(torch.empty(m, cfg.seq_len, cfg.d_model))
        self.blocks = nn.ModuleList(Block(cfg, m) for _ in range(cfg.n_layers))
        self.ln_f = nn.Parameter(torch.ones(m, cfg.d_model))
        self.reset_parameters()

    @property
    def members(self) -> int:
        return len(self.seeds)

    @torch.no_grad()
    def reset_parameters(self) -> None:
        """Draw each member's weights from its own generator (see the module docstring)."""
        residual_std = self.cfg.init_std / math.sqrt(2 * self.cfg.n_layers)
        for m, seed in enumerate(self.seeds):
            gen = torch.Generator().manual_seed(seed)
            for name, p in self.named_parameters():
                if p.dim() == 2:  # LayerNorm gains
                    p[m] = 1.0
                    continue
                std = residual_std if name.endswith(("attn_out", "mlp_out")) else self.cfg.init_std
                p[m] = torch.randn(p.shape[1:], generator=gen) * std

    def features(self, tokens: Tensor) -> Tensor:
        """Final-LayerNorm hidden states (M, B, T, d) of token ids (M, B, T)."""
        m, b, t = tokens.shape
        if m != self.members:
            raise ValueError(f"tokens has {m} members on axis 0, the population has {self.members}")
        if self.cfg.positional == "learned" and t > self.cfg.seq_len:
            raise ValueError(f"sequence of {t} tokens exceeds ModelConfig.seq_len={self.cfg.seq_len}")
        offsets = torch.arange(m, device=tokens.device)[:, None, None] * self.cfg.vocab_size
        table = self.wte.view(m * self.cfg.vocab_size, self.cfg.d_model)
        x = F.embedding(tokens.long() + offsets, table)  # (M, B, T, d)
        if self.cfg.positional == "learned":
            x = x + self.wpe[:, None, :t]
        x = x.view(m, b * t, self.cfg.d_model)
        for block in self.blocks:
            x = block(x, b)
        return _layer_norm(x, self.ln_f).view(m, b, t, self.cfg.d_model)

    def logits(self, features: Tensor) -> Tensor:
        """Tied output projection of features (M, ..., d) to logits (M, ..., vocab)."""
        shape = features.shape
        flat = features.reshape(shape[0], -1, shape[-1])
        return _linear(flat, self.wte.transpose(1, 2)).view(*shape[:-1], self.cfg.vocab_size)

    def forward(self, tokens: Tensor) -> Tensor:
        return self.logits(self.features(tokens))


def param_count(cfg: ModelConfig, embeddings: bool = True) -> int:
    """Parameters of one member; ``embeddings=False`` gives Kaplan et al.'s (2020) non-embedding N.

    Per layer: 4 d^2 (attention) + 2 d d_ff (MLP) + 2 d (LayerNorm gains); plus the final gain.
    Embeddings: the tied token table V d, plus T d for learned positions.
    """
    d = cfg.d_model
    body = cfg.n_layers * (4 * d * d + 2 * d * cfg.d_ff + 2 * d) + d
    if not embeddings:
        return body
    return body + cfg.vocab_size * d + (cfg.seq_len * d if cfg.positional == "learned" else 0)


def flops_6nd(cfg: ModelConfig, tokens: int, embeddings: bool = True) -> int:
    """Training FLOPs of one member as C = 6 N D (Kaplan et al. 2020, Sec. 2.1)."""
    return 6 * param_count(cfg, embeddings) * tokens


def forward_flops_chinchilla(cfg: ModelConfig, seq_len: int) -> int:
    """Forward FLOPs of one sequence, counted as in Hoffmann et al. (2022), Appendix F.

    Embeddings 2 T V d; per layer: QKV 2*3 T d (kh), logits 2 T^2 (kh), softmax 3 h T^2,
    reduction 2 T^2 (kh), output projection 2 T (kh) d, dense 2 T (2 d f); final logits 2 T d V.
    Here kh (key size times heads) equals d.
    """
    t, d, v, h = seq_len, cfg.d_model, cfg.vocab_size, cfg.n_heads
    attention = 2 * 3 * t * d * d + 2 * t * t * d + 3 * h * t * t + 2 * t * t * d + 2 * t * d * d
    dense = 2 * t * (2 * d * cfg.d_ff)
    return 2 * t * v * d + cfg.n_layers * (attention + dense) + 2 * t * d * v


def flops_chinchilla(cfg: ModelConfig, tokens: int, seq_len: int) -> int:
    """Training FLOPs of one member on ``tokens`` tokens in sequences of ``seq_len``.

    Hoffmann et al. (2022), App. F: the backward pass costs twice the forward, so 3x forward.
    """
    return 3 * forward_flops_chinchilla(cfg, seq_len) * tokens // seq_len
