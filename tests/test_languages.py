"""Markov training language: its exact loss floor checked by brute force and by sampling."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from scalingbook.lab.languages import CorpusSource, MarkovSource
from scalingbook.lab.tasks import LanguageModelling, sample


def _sequence_probs(source: MarkovSource, length: int) -> dict[tuple[int, ...], float]:
    """Probability of every sequence of ``length >= order`` tokens, enumerated one by one."""
    V, k = source.vocab_size, source.order
    probs = {}
    for seq in itertools.product(range(V), repeat=length):
        ctx = sum(t * V ** (k - 1 - i) for i, t in enumerate(seq[:k]))
        p = source.stationary[ctx]
        for token in seq[k:]:
            p *= source.transitions[ctx, token]
            ctx = (ctx * V) % source.n_contexts + token
        probs[seq] = p
    return probs


def _block_entropy(source: MarkovSource, length: int) -> float:
    probs = np.array(list(_sequence_probs(source, length).values()))
    return float(-(probs * np.log(probs)).sum())


def _marginal_entropy(source: MarkovSource, length: int) -> float:
    """H(X_1..X_length) for length < order, by summing the enumerated order-length windows."""
    sums: dict[tuple[int, ...], float] = {}
    for seq, p in _sequence_probs(source, source.order).items():
        sums[seq[:length]] = sums.get(seq[:length], 0.0) + p
    probs = np.array(list(sums.values()))
    return float(-(probs * np.log(probs)).sum())


@pytest.fixture(scope="module")
def small():
    return MarkovSource(vocab_size=3, order=2, concentration=0.5, seed=4)


def test_table_is_a_deterministic_stochastic_matrix(small):
    assert small.transitions.shape == (9, 3)
    assert np.allclose(small.transitions.sum(axis=1), 1.0)
    assert np.array_equal(small.transitions, MarkovSource(3, 2, 0.5, seed=4).transitions)
    assert not np.array_equal(small.transitions, MarkovSource(3, 2, 0.5, seed=5).transitions)


def test_stationary_distribution_is_invariant(small):
    pi = small.stationary
    nxt = small._next_context()
    after = np.bincount(nxt.ravel(), weights=(pi[:, None] * small.transitions).ravel(), minlength=9)
    assert np.allclose(after, pi, atol=1e-12) and pi.sum() == pytest.approx(1.0)


def test_entropy_rate_matches_block_entropies_by_enumeration(small):
    # For an order-k chain, H(X_1..X_{k+2}) - H(X_1..X_{k+1}) is exactly the entropy rate.
    brute = _block_entropy(small, 4) - _block_entropy(small, 3)
    assert small.entropy_rate == pytest.approx(brute, abs=1e-10)
    assert 0 < small.entropy_rate < np.log(3)


def test_short_context_floors_match_enumeration(small):
    floors = small.conditional_entropies(seq_len=5)
    assert floors[0] == pytest.approx(_block_entropy(small, 2) - _marginal_entropy(small, 1), abs=1e-10)
    assert floors[1:] == pytest.approx([small.entropy_rate] * 3)
    assert small.irreducible_loss(5) == pytest.approx(floors.mean())


def training_tokens(source, n: int, seq_len: int, seed: int) -> np.ndarray:
    """Sequences of ``source`` as training draws them (:func:`scalingbook.lab.tasks.sample`), so the tests check
    the very sampler the Chinchilla sweeps train on."""
    return sample(LanguageModelling(source, context=seq_len - 1), n, "train", seed).tokens.astype(np.int64)


def test_samples_have_the_computed_entropy():
    source = MarkovSource(vocab_size=8, order=2, concentration=0.3, seed=1)
    tokens = training_tokens(source, 4000, 40, seed=7)
    assert tokens.shape == (4000, 40) and tokens.min() >= 0 and tokens.max() < 8
    V = source.vocab_size
    ctx = tokens[:, 0] * V + tokens[:, 1]
    nll = []
    for t in range(2, 40):
        nll.append(-np.log(source.transitions[ctx, tokens[:, t]]))
        ctx = (ctx * V) % source.n_contexts + tokens[:, t]
    per_sequence = np.mean(nll, axis=0)
    se = per_sequence.std(ddof=1) / np.sqrt(per_sequence.size)
    assert abs(per_sequence.mean() - source.entropy_rate) < 4 * se
    assert np.array_equal(tokens, training_tokens(source, 4000, 40, seed=7))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"vocab_size": 1}, "vocab_size"),
        ({"order": 0}, "order"),
        ({"concentration": 0.0}, "concentration"),
        ({"vocab_size": 64, "order": 4}, "contexts exceeds"),
    ],
)
def test_bad_settings_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        MarkovSource(**kwargs)


def test_corpus_source_windows_and_errors(tmp_path):
    text = tmp_path / "corpus.txt"
    text.write_text("scaling laws are smooth; emergence is sudden. " * 20, encoding="utf-8")
    source = CorpusSource(text)
    windows = training_tokens(source, 50, 16, seed=0)
    raw = text.read_bytes()
    assert all(bytes(w.astype(np.uint8)) in raw for w in windows)
    assert source.irreducible_loss(16) is None
    with pytest.raises(FileNotFoundError, match="corpus_path"):
        training_tokens(CorpusSource(tmp_path / "missing.txt"), 1, 4, seed=0)
    latin = tmp_path / "latin1.txt"
    latin.write_bytes("café".encode("latin-1") * 10)
    with pytest.raises(ValueError, match="not UTF-8"):
        training_tokens(CorpusSource(latin), 1, 4, seed=0)
    with pytest.raises(ValueError, match="need more than 10000"):
        training_tokens(CorpusSource(text), 1, 10_000, seed=0)
