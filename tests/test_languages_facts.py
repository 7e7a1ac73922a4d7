"""Zipf facts language: its exact floor checked against empirical estimates from samples."""

from __future__ import annotations

import numpy as np
import pytest

from scalingbook.lab.languages import ZipfFactsSource
from scalingbook.lab.tasks import LanguageModelling, sample


@pytest.fixture(scope="module")
def small() -> ZipfFactsSource:
    return ZipfFactsSource(n_facts=200, zipf_exponent=1.3, key_length=2, key_symbols=16, value_symbols=8, noise=0.2)


def _plug_in_entropy(columns: np.ndarray) -> float:
    """Empirical entropy (nats) of the rows of ``columns`` (n, k) seen as joint symbols, with the
    Miller-Madow correction (outcomes seen - 1) / (2n) for the plug-in estimate's downward bias."""
    _, counts = np.unique(columns, axis=0, return_counts=True)
    p = counts / counts.sum()
    return float(-(p * np.log(p)).sum() + (len(counts) - 1) / (2 * counts.sum()))


def test_tables_are_deterministic_and_keys_distinct(small):
    again = ZipfFactsSource(
        **{
            f: getattr(small, f)
            for f in ("n_facts", "zipf_exponent", "key_length", "key_symbols", "value_symbols", "noise")
        }
    )
    assert np.array_equal(small.codes, again.codes) and np.array_equal(small.values, again.values)
    assert len(np.unique(small.codes)) == small.n_facts
    assert np.isclose(small.probabilities.sum(), 1.0) and np.all(np.diff(small.probabilities) < 0)
    assert small.vocab_size == 2 * 16 + 8


def test_entropy_rate_matches_an_empirical_estimate(small):
    """Plug-in entropies of sampled items per position agree with the exact conditional entropies."""
    tokens = sample(LanguageModelling(small, context=small.item_length * 5 - 1), 40_000, "train", 3).tokens
    tokens = tokens.astype(np.int64)
    items = tokens.reshape(-1, small.item_length)
    exact = small.position_entropies()
    joint = [_plug_in_entropy(items[:, : j + 1]) for j in range(small.item_length)]
    empirical = np.diff([0.0, *joint])
    # 200 000 items over at most 200 x 8 outcomes: sampling error about 3e-3 nats per position
    assert np.allclose(empirical, exact, atol=0.01), (empirical, exact)
    assert np.isclose(np.mean(empirical), small.entropy_rate, atol=0.005)


def test_monte_carlo_log_likelihood_of_the_true_model_is_the_floor():
    """Mean -log p of samples under the source's own probabilities estimates H; floors by position."""
    source = ZipfFactsSource(n_facts=5000, zipf_exponent=1.5, key_length=3, key_symbols=32, value_symbols=16)
    tokens = LanguageModelling(source, 39).generate(np.arange(20_000, dtype=np.uint64), "train").tokens.astype(np.int64)
    assert tokens.shape == (20_000, 40)
    items = tokens.reshape(-1, source.item_length)
    digits = items[:, :3] - 32 * np.arange(3)
    fact_of_code = {int(c): i for i, c in enumerate(source.codes)}
    facts = np.array([fact_of_code[int(c)] for c in digits @ (32 ** np.arange(2, -1, -1))])
    value = items[:, 3] - 96
    v = source.value_symbols
    p_value = np.where(value == source.values[facts], 1 - source.noise + source.noise / v, source.noise / v)
    nll = -np.log(source.probabilities[facts]) - np.log(p_value)
    assert np.isclose(nll.mean() / source.item_length, source.entropy_rate, atol=0.02)
    assert np.isclose(source.irreducible_loss(40), source.conditional_entropies(40).mean())
    assert np.allclose(source.conditional_entropies(6), source.position_entropies()[[1, 2, 3, 0, 1]])


def test_value_entropy_and_noise_free_floor():
    quiet = ZipfFactsSource(n_facts=100, key_length=2, key_symbols=10, noise=0.0)
    assert quiet.value_entropy() == 0.0
    assert np.isclose(
        ZipfFactsSource(n_facts=100, key_length=2, key_symbols=10, value_symbols=4, noise=1.0).value_entropy(),
        np.log(4),
    )


def test_task_streams_are_keyed_and_reproducible():
    task = LanguageModelling(ZipfFactsSource(n_facts=1000, key_length=2, key_symbols=32), 19)
    a, b = sample(task, 8, "train", 1), sample(task, 8, "train", 1)
    assert np.array_equal(a.tokens, b.tokens) and not np.array_equal(a.tokens, sample(task, 8, "test", 1).tokens)
    assert a.tokens.max() < task.source.vocab_size


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"n_facts": 1000, "key_length": 1, "key_symbols": 10}, "distinct keys"),
        ({"zipf_exponent": 0}, "zipf"),
        ({"noise": 2.0}, "noise"),
        ({"n_facts": 1}, "n_facts"),
    ],
)
def test_bad_settings_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ZipfFactsSource(**kwargs)
