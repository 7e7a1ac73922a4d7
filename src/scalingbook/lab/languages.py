"""Training languages for the Chinchilla sweeps: unlimited, offline, and with a known floor.

Hoffmann et al. (2022, Eq. 2) model loss as ``E + A/N^alpha + B/D^beta``, where E is the entropy of
natural text, which nobody knows. Training on samples of a fixed random Markov source of order k
makes E computable: the best possible predictor is the source itself, so the lowest reachable loss
per token is the source's conditional entropy, exact from its stationary distribution. The fitted E
can then be checked against the truth.

:class:`CorpusSource` trains on any local UTF-8 text file at byte level instead (floor unknown).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np


def _entropy(p: np.ndarray, axis: int = -1) -> np.ndarray:
    """Shannon entropy in nats along ``axis`` (0 log 0 taken as 0)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, -p * np.log(p), 0.0)
    return terms.sum(axis=axis)


@dataclass(frozen=True)
class MarkovSource:
    """A random order-k Markov chain over ``vocab_size`` tokens, fixed by ``seed``.

    Each of the ``vocab_size ** order`` contexts gets a next-token distribution drawn from a
    symmetric Dirichlet(``concentration``): smaller concentrations give peakier, lower-entropy
    rows. Every row is strictly positive, so the chain is irreducible and aperiodic and has one
    stationary distribution. A model must learn ``vocab_size ** (order + 1)`` probabilities, so
    larger models and more data keep helping until the table is learnt.
    """

    vocab_size: int = 32
    order: int = 2
    concentration: float = 0.2
    seed: int = 0
    max_contexts: int = field(default=1 << 20, repr=False)

    def __post_init__(self) -> None:
        if self.vocab_size < 2:
            raise ValueError(f"vocab_size must be >= 2, got {self.vocab_size}")
        if self.order < 1:
            raise ValueError(f"order must be >= 1, got {self.order}")
        if self.concentration <= 0:
            raise ValueError(f"concentration must be > 0, got {self.concentration}")
        if self.vocab_size**self.order > self.max_contexts:
            raise ValueError(f"vocab_size**order = {self.vocab_size**self.order} contexts exceeds {self.max_contexts}")

    @property
    def n_contexts(self) -> int:
        return self.vocab_size**self.order

    @cached_property
    def transitions(self) -> np.ndarray:
        """``P[context, next_token]``; a context is the last ``order`` tokens read as base-V digits."""
        rng = np.random.default_rng(self.seed)
        table = rng.dirichlet(np.full(self.vocab_size, self.concentration), size=self.n_contexts)
        # Dirichlet draws with tiny concentrations can underflow to exact zeros; keep rows positive.
        table = np.maximum(table, 1e-12)
        return table / table.sum(axis=1, keepdims=True)

    def _next_context(self) -> np.ndarray:
        """``next[ctx, token]``: the context after ``token`` follows ``ctx``."""
        shifted = (np.arange(self.n_contexts) * self.vocab_size) % self.n_contexts
        return shifted[:, None] + np.arange(self.vocab_size)[None, :]

    @cached_property
    def stationary(self) -> np.ndarray:
        """Stationary distribution over contexts, by power iteration to 1e-13 in L1."""
        nxt = self._next_context().ravel()
        pi = np.full(self.n_contexts, 1.0 / self.n_contexts)
        for _ in range(100_000):
            flow = (pi[:, None] * self.transitions).ravel()
            new = np.bincount(nxt, weights=flow, minlength=self.n_contexts)
            if np.abs(new - pi).sum() < 1e-13:
                return new
            pi = new
        raise RuntimeError("stationary distribution did not converge")

    @cached_property
    def entropy_rate(self) -> float:
        """``H = sum_ctx pi(ctx) H(P(. | ctx))`` in nats per token: the loss floor with full context."""
        return float(self.stationary @ _entropy(self.transitions))

    def conditional_entropies(self, seq_len: int) -> np.ndarray:
        """Lowest expected loss for predicting token j from tokens 1..j-1, for j = 2..seq_len.

        Sequences start in the stationary distribution, so for j <= order the predictor sees less
        than a full context and the floor is the block-entropy difference H(X_1..X_j) - H(X_1..X_{j-1});
        from j = order + 1 on it is the entropy rate.
        """
        if seq_len < 2:
            raise ValueError(f"seq_len must be >= 2, got {seq_len}")
        window = self.stationary.reshape((self.vocab_size,) * self.order)
        block = [0.0]
        for j in range(1, self.order + 1):
            marginal = window.sum(axis=tuple(range(j, self.order))) if j < self.order else window
            block.append(float(_entropy(marginal.ravel())))
        floors = [block[j] - block[j - 1] for j in range(2, min(seq_len, self.order) + 1)]
        floors += [self.entropy_rate] * (seq_len - 1 - len(floors))
        return np.array(floors)

    def irreducible_loss(self, seq_len: int) -> float:
        """The floor of the mean next-token loss over positions 2..seq_len (Chinchilla's E here)."""
        return float(self.conditional_entropies(seq_len).mean())


@dataclass(frozen=True)
class CorpusSource:
    """Random windows of a local UTF-8 text file, at byte level (256 symbols; floor unknown)."""

    path: Path
    vocab_size: int = 256

    @cached_property
    def data(self) -> np.ndarray:
        path = Path(self.path)
        if not path.is_file():
            raise FileNotFoundError(f"corpus_path {path} does not exist or is not a file")
        raw = path.read_bytes()
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError as err:
            raise ValueError(f"corpus_path {path} is not UTF-8 text (byte {err.start}: {err.reason})") from None
        return np.frombuffer(raw, dtype=np.uint8)

    def irreducible_loss(self, seq_len: int) -> None:
        """Unknown for natural text: the reason the Markov source exists."""
        return None


@dataclass(frozen=True)
class ZipfFactsSource:
    """A stream of independent facts whose frequencies follow Zipf's law: power-law learning curves
    in model size and in data, over an exact floor.

    The language is a table of ``n_facts`` facts. Fact ``k`` (ranked from 1) has probability
    ``p_k`` proportional to ``k ** -zipf_exponent``, a key of ``key_length`` symbols (a random
    one-to-one code, fixed by ``seed``, among the ``key_symbols ** key_length`` possible keys) and
    a value symbol drawn once per fact. Text is a sequence of items drawn independently: the key's
    symbols, then the value, which is the fact's own with probability ``1 - noise`` and otherwise
    uniform over the ``value_symbols`` (the noise keeps the floor above zero, like natural text).
    Key position j uses its own block of ``key_symbols`` token ids and values another block, so a
    token says what it is; ``vocab_size = key_length * key_symbols + value_symbols``.

    Why this form: a learner that has stored the k most frequent facts loses, per item, a
    constant times the remaining mass sum_{j > k} p_j ~ k^{1 - s} (s = ``zipf_exponent``). If the
    facts a model can hold grow in proportion to its size, the loss falls as a power law in N;
    a fact is learnt once it has been seen a few times, so after D tokens the facts of frequency
    above ~1/D are known and the loss falls as D^{-(s - 1)/s} (Hutter 2021, "Learning curve
    theory"; Michaud et al. 2023, "The quantization model of neural scaling", where the facts are
    "quanta"). Both exponents come from one s, and the floor (the entropy of the key plus the
    noise) is exact: :meth:`position_entropies`. The power laws hold while the facts learnt are
    far fewer than ``n_facts``; past that the loss bends to the floor faster than any power law.
    """

    n_facts: int = 1 << 20
    zipf_exponent: float = 1.5
    key_length: int = 4
    key_symbols: int = 32
    value_symbols: int = 32
    noise: float = 0.1
    seed: int = 0

    def __post_init__(self) -> None:
        if self.n_facts < 2:
            raise ValueError(f"n_facts must be >= 2, got {self.n_facts}")
        if self.key_length < 1 or self.key_symbols < 2 or self.value_symbols < 2:
            raise ValueError(
                f"key_length must be >= 1 and key_symbols, value_symbols >= 2; got {self.key_length}, "
                f"{self.key_symbols}, {self.value_symbols}"
            )
        if self.key_symbols**self.key_length < self.n_facts:
            raise ValueError(
                f"n_facts={self.n_facts} needs distinct keys, but key_symbols**key_length = "
                f"{self.key_symbols**self.key_length}"
            )
        if self.zipf_exponent <= 0:
            raise ValueError(f"zipf_exponent must be > 0, got {self.zipf_exponent}")
        if not 0 <= self.noise <= 1:
            raise ValueError(f"noise must be in [0, 1], got {self.noise}")

    @property
    def vocab_size(self) -> int:
        return self.key_length * self.key_symbols + self.value_symbols

    @property
    def item_length(self) -> int:
        """Tokens per fact: the key's symbols and the value."""
        return self.key_length + 1

    @cached_property
    def probabilities(self) -> np.ndarray:
        """``p_k`` of fact k = 1..n_facts (index k - 1), proportional to k^-s, summing to 1."""
        p = np.arange(1, self.n_facts + 1, dtype=np.float64) ** -self.zipf_exponent
        return p / p.sum()

    @cached_property
    def _tables(self) -> tuple[np.ndarray, np.ndarray]:
        rng = np.random.default_rng(self.seed)
        n_keys = self.key_symbols**self.key_length
        codes = rng.permutation(n_keys)[: self.n_facts] if n_keys <= 1 << 24 else _distinct(rng, n_keys, self.n_facts)
        return codes.astype(np.int64), rng.integers(0, self.value_symbols, size=self.n_facts).astype(np.int64)

    @property
    def codes(self) -> np.ndarray:
        """Each fact's key as one integer in [0, key_symbols**key_length), its symbols the base-Q digits."""
        return self._tables[0]

    @property
    def values(self) -> np.ndarray:
        """Each fact's value symbol in [0, value_symbols)."""
        return self._tables[1]

    def key_digits(self, facts: np.ndarray) -> np.ndarray:
        """The key symbols (n, key_length) of fact indices ``facts``, most significant first."""
        powers = self.key_symbols ** np.arange(self.key_length - 1, -1, -1)
        return (self.codes[np.asarray(facts)][:, None] // powers) % self.key_symbols

    @cached_property
    def cumulative(self) -> np.ndarray:
        c = np.cumsum(self.probabilities)
        c[-1] = 1.0
        return c

    def value_entropy(self) -> float:
        """H(value | key) in nats: the fact's value with probability 1 - noise + noise/V, else uniform."""
        v = self.value_symbols
        return float(_entropy(np.array([1 - self.noise + self.noise / v] + [self.noise / v] * (v - 1))))

    @cached_property
    def _position_entropies(self) -> np.ndarray:
        """H(key symbol j | key symbols < j) for j < key_length, then H(value | key): one per item position."""
        p, out, previous = self.probabilities, [], 0.0
        for j in range(1, self.key_length + 1):
            prefix = self.codes // self.key_symbols ** (self.key_length - j)
            joint = float(_entropy(np.bincount(prefix, weights=p)))
            out.append(joint - previous)
            previous = joint
        return np.array(out + [self.value_entropy()])

    def position_entropies(self) -> np.ndarray:
        """The lowest expected loss at each position of an item (key symbols, then value), exact."""
        return self._position_entropies.copy()

    @property
    def entropy_rate(self) -> float:
        """Nats per token: (H(key) + H(value | key)) / item_length, H(key) = the Zipf law's entropy."""
        return float(self._position_entropies.mean())

    def conditional_entropies(self, seq_len: int) -> np.ndarray:
        """Lowest expected loss for token j given tokens 1..j-1, j = 2..seq_len, sequences starting at an item."""
        if seq_len < 2:
            raise ValueError(f"seq_len must be >= 2, got {seq_len}")
        return self._position_entropies[np.arange(1, seq_len) % self.item_length]

    def irreducible_loss(self, seq_len: int) -> float:
        """The floor of the mean next-token loss over positions 2..seq_len (Chinchilla's E here)."""
        return float(self.conditional_entropies(seq_len).mean())

    def tokens_from_uniforms(self, fact_u: np.ndarray, value_u: np.ndarray) -> np.ndarray:
        """Items (n, m) as tokens (n, m * item_length) from uniforms on [0, 1): ``fact_u`` picks each
        fact by inverse CDF, ``value_u`` < noise draws a uniform value (from ``value_u / noise``)."""
        facts = np.minimum(np.searchsorted(self.cumulative, fact_u, side="right"), self.n_facts - 1)
        noisy = value_u < self.noise
        random_value = np.minimum(
            (value_u / max(self.noise, 1e-300) * self.value_symbols).astype(np.int64), self.value_symbols - 1
        )
        value = np.where(noisy, random_value, self.values[facts])
        n, m = facts.shape
        digits = self.key_digits(facts.ravel()).reshape(n, m, self.key_length)
        offsets = self.key_symbols * np.arange(self.key_length)
        items = np.concatenate([digits + offsets, (value + self.key_length * self.key_symbols)[..., None]], axis=2)
        return items.reshape(n, m * self.item_length)


def _distinct(rng: np.random.Generator, high: int, n: int) -> np.ndarray:
    """``n`` distinct integers in [0, high), in random order (for key spaces too big to permute)."""
    picked = np.unique(rng.integers(0, high, size=2 * n))
    while len(picked) < n:
        picked = np.unique(np.concatenate([picked, rng.integers(0, high, size=n)]))
    return rng.permutation(picked)[:n]
