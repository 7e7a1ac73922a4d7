"""Seed-population statistics: bootstrap, mode, KDE, Wasserstein, dip test and the Fig. 5 markers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.stats
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.integrate import trapezoid

from scalingbook.analysis import stats

samples = st.lists(st.floats(-100, 100, allow_nan=False), min_size=1, max_size=40).map(np.array)


def test_bootstrap_is_reproducible_and_about_the_right_width() -> None:
    x = np.random.default_rng(1).normal(size=400)
    first = stats.bootstrap_ci(x, rng_seed=7)
    assert first == stats.bootstrap_ci(x, rng_seed=np.random.default_rng(7))
    assert first.estimate == pytest.approx(x.mean())
    assert first.high - first.low == pytest.approx(2 * 1.96 * x.std() / 20, rel=0.15)


def test_bootstrap_of_a_constant_sample_is_a_point() -> None:
    assert stats.bootstrap_ci(np.full(10, 0.4)) == pytest.approx((0.4, 0.4, 0.4))


@settings(max_examples=60, deadline=None)
@given(samples)
def test_bootstrap_interval_contains_the_mean(x: np.ndarray) -> None:
    estimate, low, high = stats.bootstrap_ci(x, n_resamples=400)
    assert low - 1e-9 <= estimate <= high + 1e-9


def test_kde_integrates_to_one_and_survives_zero_variance() -> None:
    x = np.random.default_rng(2).normal(size=300)
    grid = np.linspace(-8, 8, 2001)
    assert trapezoid(stats.kde(x, grid), grid) == pytest.approx(1, abs=1e-3)
    constant = stats.kde(np.zeros(50), grid, min_bandwidth=0.1)
    assert trapezoid(constant, grid) == pytest.approx(1, abs=1e-3) and grid[np.argmax(constant)] == 0


@settings(max_examples=80, deadline=None)
@given(samples, samples)
def test_w1_matches_scipy_and_w2_is_symmetric_and_dominates_it(a: np.ndarray, b: np.ndarray) -> None:
    expected_w1 = scipy.stats.wasserstein_distance(a, b)
    assert stats.wasserstein(a, b, p=1) == pytest.approx(expected_w1, rel=1e-9, abs=1e-9)
    assert stats.wasserstein(a, b) == pytest.approx(stats.wasserstein(b, a), rel=1e-12, abs=1e-12)
    assert stats.wasserstein(a, b) >= stats.wasserstein(a, b, p=1) - 1e-9
    assert stats.wasserstein(a, np.random.default_rng(0).permutation(a)) == 0


def test_w2_closed_forms() -> None:
    assert stats.wasserstein(np.full(3, 1.0), np.full(7, 4.0)) == pytest.approx(3)
    x = np.random.default_rng(4).normal(size=50)
    assert stats.wasserstein(x, x + 2.5) == pytest.approx(2.5)
    u = (np.arange(20_000) + 0.5) / 20_000  # quantile-matched Gaussian samples
    a, b = scipy.stats.norm.ppf(u, 1.0, 2.0), scipy.stats.norm.ppf(u[::3], -1.0, 0.5)
    assert stats.wasserstein(a, b) == pytest.approx(np.hypot(1 - (-1), 2.0 - 0.5), rel=2e-3)


def test_dip_test_known_cases() -> None:
    rng = np.random.default_rng(5)
    assert stats.dip_test(rng.normal(size=300)).p_value > 0.05
    assert stats.dip_test(np.r_[rng.normal(0, 1, 150), rng.normal(6, 1, 150)]).p_value < 0.001
    with pytest.raises(ValueError, match="at least 4"):
        stats.dip_test(np.array([1.0, 2.0, 3.0]))


def test_seed_outcomes_average_exact_match_and_per_token_nll_per_seed():
    records = pd.DataFrame(
        {
            "seed": [3, 3, 1, 1],
            "exact_match": [True, False, True, True],
            "sum_logprob": [-2.0, -6.0, -1.0, -3.0],
            "target_len": [2, 3, 1, 3],
        }
    )
    out = stats.seed_outcomes(records)
    assert out["seed"].tolist() == [1, 3]
    np.testing.assert_allclose(out["em"], [1.0, 0.5])
    np.testing.assert_allclose(out["loss"], [(1.0 + 1.0) / 2, (1.0 + 2.0) / 2])


def test_seed_outcomes_names_missing_columns():
    with pytest.raises(KeyError, match="sum_logprob"):
        stats.seed_outcomes(pd.DataFrame({"seed": [0], "exact_match": [True], "target_len": [1]}))


def test_clopper_pearson_matches_its_closed_forms_at_the_ends() -> None:
    # k = 0: high solves (1 - p)^n = a/2; k = n: low solves p^n = a/2 (a = 0.05, n = 10).
    low, high = stats.clopper_pearson(np.array([0, 10]), np.array([10, 10]), 0.95)
    np.testing.assert_allclose(low, [0.0, 0.025 ** (1 / 10)])
    np.testing.assert_allclose(high, [1 - 0.025 ** (1 / 10), 1.0])
    # k = 1 of n = 2 is symmetric about 1/2: low solves 1 - (1 - p)^2 = a/2.
    low, high = stats.clopper_pearson(1, 2, 0.95)
    assert low == pytest.approx(1 - np.sqrt(0.975)) and high == pytest.approx(np.sqrt(0.975))


def test_clopper_pearson_rejects_impossible_counts() -> None:
    with pytest.raises(ValueError, match="successes, trials"):
        stats.clopper_pearson(3, 2)
    with pytest.raises(ValueError, match="successes, trials"):
        stats.clopper_pearson(0, 0)
    with pytest.raises(ValueError, match="confidence"):
        stats.clopper_pearson(1, 2, confidence=1.0)


def test_paired_bootstrap_resamples_the_same_seeds_for_every_curve():
    rng = np.random.default_rng(1)
    luck = rng.normal(0, 1, size=(8, 1))  # each seed's shared luck, the same in both curves
    a = luck + np.array([0.0, 1.0, 2.0])
    b = luck + np.array([0.0, 0.5, 1.0])
    out = stats.paired_bootstrap([a, b], lambda x, y: x[:, -1] - y[:, -1], 500, 0.95, 0)
    assert out.estimate == pytest.approx(1.0)
    assert out.low == pytest.approx(1.0) and out.high == pytest.approx(1.0), "paired: the luck cancels"
    unpaired = stats.paired_bootstrap([a], lambda x: x[:, -1] - 1.0, 500, 0.95, 0)
    assert unpaired.high - unpaired.low > 0.5
    with_gap = a.copy()
    with_gap[0, 2] = np.nan  # a seed left out at one scale is skipped there
    assert np.isfinite(stats.paired_bootstrap([with_gap], lambda x: x[:, 2], 200, 0.9, 0).estimate)
    with pytest.raises(ValueError, match="same seeds"):
        stats.paired_bootstrap([a, b[:5]], lambda x, y: x[:, 0], 10, 0.9, 0)


def test_seed_means_band_each_group_with_its_own_bootstrap():
    frame = pd.DataFrame(
        {
            "width": [8, 1, 2, 4] * 2,
            "c": ["a"] * 8,
            "seed": [0] * 4 + [1] * 4,
            "score": [1.0, 0.0, 0.0, 0.0, 3.0, 0.0, 1.0, 2.0],
        }
    )
    band = stats.seed_means(frame, "score", ["width", "c"], n_resamples=200, name="mean")
    assert list(band.columns) == ["width", "c", "mean", "low", "high", "n_seeds"]
    assert band["width"].tolist() == [1, 2, 4, 8] and band["mean"].tolist() == [0.0, 0.5, 1.0, 2.0]
    assert band["n_seeds"].tolist() == [2, 2, 2, 2]
    assert band["low"].tolist() == [0.0, 0.0, 0.0, 1.0] and band["high"].tolist() == [0.0, 1.0, 2.0, 3.0]
    alone = stats.seed_means(frame[frame["width"] == 4], "score", ["width", "c"], n_resamples=200, name="mean")
    assert alone.iloc[0].tolist() == band.iloc[2].tolist(), "a group's interval ignores the other groups"
    with pytest.raises(KeyError, match="missing column"):
        stats.seed_means(frame, "em", ["width"])


def flag_records(flags: np.ndarray) -> pd.DataFrame:
    """Per-example records of a (seeds, examples) matrix of exact-match flags."""
    seeds, examples = np.indices(flags.shape)
    return pd.DataFrame({"seed": seeds.ravel(), "example": examples.ravel(), "exact_match": flags.ravel().astype(bool)})


def test_seed_dispersion_is_the_number_of_examples_for_a_clean_split_and_near_one_for_chance() -> None:
    split = np.zeros((40, 25), dtype=bool)
    split[:10] = True  # a quarter of the seeds answer every example, the rest none
    assert stats.seed_dispersion(flag_records(split)) == pytest.approx(25.0)
    rng = np.random.default_rng(3)
    rates = rng.uniform(0.05, 0.95, 100)  # examples differ in difficulty, seeds do not
    chance = rng.random((2000, 100)) < rates
    assert stats.seed_dispersion(flag_records(chance)) == pytest.approx(1.0, abs=0.1)
    skill = rng.random((2000, 100)) < np.clip(rates + rng.normal(0, 0.2, (2000, 1)), 0, 1)
    assert stats.seed_dispersion(flag_records(skill)) > 5, "seeds that differ in skill are over-dispersed"


def test_seed_dispersion_needs_every_seed_on_the_same_examples() -> None:
    records = flag_records(np.eye(3, dtype=bool))
    with pytest.raises(ValueError, match="exactly once"):
        stats.seed_dispersion(records.iloc[1:])
    with pytest.raises(ValueError, match="exactly once"):
        stats.seed_dispersion(pd.concat([records, records.iloc[:1]]))
    with pytest.raises(ValueError, match="at least 2 seeds"):
        stats.seed_dispersion(records[records["seed"] == 0])
    assert np.isnan(stats.seed_dispersion(flag_records(np.ones((4, 3), dtype=bool))))


def test_silverman_iqr_bandwidth_follows_the_robust_rule_and_falls_back_to_the_sd() -> None:
    rng = np.random.default_rng(2)
    sample = np.r_[rng.normal(0, 0.03, 160), rng.normal(0.8, 0.03, 40)]  # the sd is mostly the gap
    q1, q3 = np.percentile(sample, [25, 75])
    expected = 0.9 * min(sample.std(ddof=1), (q3 - q1) / 1.34) * 200 ** (-1 / 5)
    assert stats._bandwidth(sample, "silverman-iqr", 1e-3) == pytest.approx(expected)
    assert stats._bandwidth(sample, "silverman-iqr", 1e-3) < stats._bandwidth(sample, "scott", 1e-3) / 3
    tied = np.r_[np.zeros(160), rng.uniform(0.5, 1, 40)]  # over 3/4 of the seeds at exactly 0: IQR is 0
    assert stats._bandwidth(tied, "silverman-iqr", 1e-3) == pytest.approx(0.9 * tied.std(ddof=1) * 200 ** (-1 / 5))
