"""Seed-population statistics: bootstrap, mode, KDE, Wasserstein, dip test and the Fig. 5 markers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.stats
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.integrate import trapezoid

from scalingbook import stats

samples = st.lists(st.floats(-100, 100, allow_nan=False), min_size=1, max_size=40).map(np.array)


def population(scale_to_success: dict[int, float], n_seeds: int = 200, seed: int = 0) -> pd.DataFrame:
    """Seed-level EM per scale: failures near 0, a share of successes near 0.9 (a bimodal mixture)."""
    rng = np.random.default_rng(seed)
    rows = []
    for scale, share in scale_to_success.items():
        n_success = round(share * n_seeds)
        em = np.r_[rng.beta(1, 60, n_seeds - n_success), rng.beta(40, 5, n_success)]
        rows.append(pd.DataFrame({"scale": scale, "seed": np.arange(n_seeds), "em": em}))
    return pd.concat(rows, ignore_index=True)


# bootstrap and Fig. 3 statistics


def test_bootstrap_is_reproducible_and_about_the_right_width() -> None:
    x = np.random.default_rng(1).normal(size=400)
    first = stats.bootstrap_ci(x, rng_seed=7)
    assert first == stats.bootstrap_ci(x, rng_seed=np.random.default_rng(7))
    assert first.estimate == pytest.approx(x.mean())
    assert first.high - first.low == pytest.approx(2 * 1.96 * x.std() / 20, rel=0.15)


def test_bootstrap_of_a_constant_sample_is_a_point() -> None:
    assert stats.bootstrap_ci(np.full(10, 0.4)) == pytest.approx((0.4, 0.4, 0.4))


def test_bootstrap_skips_resamples_where_the_statistic_is_undefined() -> None:
    em = np.r_[np.zeros(19), 0.9]
    assert stats.bootstrap_ci(em, stats.mean_of_successful) == pytest.approx((0.9, 0.9, 0.9))
    assert np.isnan(stats.bootstrap_ci(np.zeros(5), stats.mean_of_successful).low)


@settings(max_examples=60, deadline=None)
@given(samples)
def test_bootstrap_interval_contains_the_mean(x: np.ndarray) -> None:
    estimate, low, high = stats.bootstrap_ci(x, n_resamples=400)
    assert low - 1e-9 <= estimate <= high + 1e-9


def test_success_is_strictly_above_the_threshold() -> None:
    em = np.array([[0.0, 0.2, 0.21, 0.8], [0.0, 0.0, 0.1, 0.2]])
    np.testing.assert_allclose(stats.success_probability(em), [0.5, 0.0])
    np.testing.assert_allclose(stats.mean_of_successful(em), [0.505, np.nan])
    np.testing.assert_allclose(stats.success_probability(em, axis=0, threshold=0.05), [0, 0.5, 1, 1])


def test_histogram_mode_reports_atoms_at_zero_and_one() -> None:
    assert stats.histogram_mode(np.r_[np.zeros(6), np.ones(5)]) == 0.0
    assert stats.histogram_mode(np.r_[np.zeros(5), np.full(6, 0.99)]) == 1.0
    assert stats.histogram_mode(np.array([0.31, 0.29, 0.7])) == pytest.approx(0.3)
    assert stats.histogram_mode(np.array([0.0, 1.0])) == 0.0  # tie: the smaller point
    np.testing.assert_allclose(stats.histogram_mode(np.array([[0, 0, 1], [1, 1, 0.0]]), axis=1), [0, 1])
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        stats.histogram_mode(np.array([1.5]))


def test_seed_summary_is_tidy_with_intervals_around_estimates() -> None:
    table = stats.seed_summary(population({1: 0.0, 2: 0.7}), n_resamples=200)
    assert list(table.columns) == ["scale", "statistic", "estimate", "low", "high", "n_seeds"]
    assert len(table) == 8 and set(table["statistic"]) == {"mean", "mode", "p_success", "mean_successful"}
    row = table.set_index(["scale", "statistic"])
    assert row.loc[(2, "p_success"), "estimate"] == pytest.approx(0.7)
    assert row.loc[(1, "mode"), "estimate"] == 0.0 and row.loc[(2, "mode"), "estimate"] > 0.8
    assert np.isnan(row.loc[(1, "mean_successful"), "estimate"])
    defined = table.dropna()
    assert (defined["low"] <= defined["estimate"] + 1e-12).all()
    assert (defined["estimate"] <= defined["high"] + 1e-12).all()


# KDE and peaks


def test_kde_integrates_to_one_and_survives_zero_variance() -> None:
    x = np.random.default_rng(2).normal(size=300)
    grid = np.linspace(-8, 8, 2001)
    assert trapezoid(stats.kde(x, grid), grid) == pytest.approx(1, abs=1e-3)
    constant = stats.kde(np.zeros(50), grid, min_bandwidth=0.1)
    assert trapezoid(constant, grid) == pytest.approx(1, abs=1e-3) and grid[np.argmax(constant)] == 0


def test_kde_peaks_count_modes_including_a_mode_at_the_edge() -> None:
    rng = np.random.default_rng(3)
    assert stats.count_kde_peaks(rng.normal(size=200)) == 1
    assert stats.count_kde_peaks(np.r_[rng.normal(0, 1, 100), rng.normal(6, 1, 100)]) == 2
    assert stats.count_kde_peaks(np.r_[np.zeros(150), rng.beta(40, 5, 50)]) == 2
    assert stats.count_kde_peaks(np.zeros(30)) == 1


def test_kde_by_scale_shares_one_grid() -> None:
    table = stats.kde_by_scale(population({1: 0.1, 2: 0.5}), value="em", n_grid=64)
    assert list(table.columns) == ["scale", "x", "density"] and len(table) == 128
    grids = [part["x"].to_numpy() for _, part in table.groupby("scale")]
    np.testing.assert_array_equal(grids[0], grids[1])


# Wasserstein


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


def test_wasserstein_to_reference_is_zero_at_the_largest_scale() -> None:
    table = stats.wasserstein_to_reference(population({1: 0.0, 2: 0.5, 3: 1.0}))
    assert list(table["scale"]) == [1, 2, 3] and table["distance"].iloc[-1] == 0
    assert table["distance"].is_monotonic_decreasing


# dip test, bimodality, Fig. 5 markers


def test_dip_test_known_cases() -> None:
    rng = np.random.default_rng(5)
    assert stats.dip_test(rng.normal(size=300)).p_value > 0.05
    assert stats.dip_test(np.r_[rng.normal(0, 1, 150), rng.normal(6, 1, 150)]).p_value < 0.001
    with pytest.raises(ValueError, match="at least 4"):
        stats.dip_test(np.array([1.0, 2.0, 3.0]))


SHARES = {1: 0.0, 2: 0.0, 3: 0.3, 4: 0.45, 5: 0.7, 6: 0.97}


def test_bimodality_by_scale_flags_the_mixed_scales() -> None:
    table = stats.bimodality_by_scale(population(SHARES))
    assert list(table.columns) == ["scale", "n_seeds", "dip", "p_value", "n_peaks", "multimodal"]
    assert list(table["multimodal"]) == [False, False, True, True, True, False]
    with pytest.raises(ValueError, match="rule"):
        stats.bimodality_by_scale(population(SHARES), rule="most")  # type: ignore[arg-type]


def test_fig5_markers_sit_on_the_last_scale_before_each_event() -> None:
    frame = population(SHARES)
    assert stats.bimodality_emergence(frame) == 2  # several peaks first at scale 3
    assert stats.mode_breakthrough(frame) == 4  # P(success) first above 0.5 at scale 5


def test_markers_are_none_without_a_preceding_scale_or_event() -> None:
    assert stats.mode_breakthrough(population({1: 0.9, 2: 1.0})) is None
    assert stats.mode_breakthrough(population({1: 0.0, 2: 0.5})) is None  # 0.5 is not more likely
    assert stats.last_scale_before(np.array([10, 20, 30]), np.array([False, False, True])) == 20
    with pytest.raises(ValueError, match="increasing"):
        stats.last_scale_before(np.array([3, 2, 1]), np.array([False, True, True]))


# per-seed B and L


def seed_curves() -> pd.DataFrame:
    """Four seeds over five scales (rows listed in shuffled scale order): linear, step, noisy jump, flat."""
    curves = {
        0: [0.0, 0.2, 0.4, 0.6, 0.8],
        1: [0.0, 0.0, 0.0, 0.9, 0.9],
        2: [0.0, 0.01, 0.0, 0.5, 0.6],
        3: [0.0] * 5,
    }
    scales = [1000, 2000, 3000, 4000, 5000]
    shuffled = [3, 0, 1, 2, 4]
    rows = [{"seed": s, "scale": scales[j], "em": curve[j]} for s, curve in curves.items() for j in shuffled]
    return pd.DataFrame(rows)


def test_seed_shape_scores_and_top_seeds() -> None:
    scores = stats.seed_shape_scores(seed_curves())
    by_seed = scores.set_index("seed")
    assert by_seed.loc[0, "L"] == pytest.approx(4) and by_seed.loc[0, "B"] == pytest.approx(4)
    assert by_seed.loc[1, "B"] == np.inf and by_seed.loc[1, "L"] == pytest.approx(2)
    assert (by_seed.loc[1, "jump_from"], by_seed.loc[1, "jump_to"]) == (3000, 4000)
    assert by_seed.loc[3, "B"] == 0 and by_seed.loc[3, "L"] == 0
    assert stats.top_seeds(scores, "B")["seed"].item() == 1
    assert stats.top_seeds(scores, "L")["seed"].item() == 0
    assert list(stats.top_seeds(scores, "B", k=3)["seed"]) == [1, 2, 0]
    assert stats.seed_shape_scores(seed_curves(), clip=10)["B"].max() == 10


def test_seed_shape_scores_need_complete_curves() -> None:
    with pytest.raises(ValueError, match="seeds"):
        stats.seed_shape_scores(seed_curves().iloc[1:])


# per-seed outcomes from evaluation records


def test_seed_outcomes_average_exact_match_and_per_token_nll_per_seed():
    records = pd.DataFrame({
        "seed": [3, 3, 1, 1],
        "exact_match": [True, False, True, True],
        "sum_logprob": [-2.0, -6.0, -1.0, -3.0],
        "target_len": [2, 3, 1, 3],
    })
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
