"""The Random seeds chapter's statistics (Zhao et al. 2025): success, modes, bimodality across scales, on
hand-built populations of seeds."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from scalingbook.analysis import stats
from scalingbook.chapters import seeds


def population(scale_to_success: dict[int, float], n_seeds: int = 200, seed: int = 0) -> pd.DataFrame:
    """Seed-level EM per scale: failures near 0, a share of successes near 0.9 (a bimodal mixture)."""
    rng = np.random.default_rng(seed)
    rows = []
    for scale, share in scale_to_success.items():
        n_success = round(share * n_seeds)
        em = np.r_[rng.beta(1, 60, n_seeds - n_success), rng.beta(40, 5, n_success)]
        rows.append(pd.DataFrame({"scale": scale, "seed": np.arange(n_seeds), "em": em}))
    return pd.concat(rows, ignore_index=True)


SHARES = {1: 0.0, 2: 0.0, 3: 0.3, 4: 0.45, 5: 0.7, 6: 0.97}


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


def test_bootstrap_skips_resamples_where_the_statistic_is_undefined() -> None:
    em = np.r_[np.zeros(19), 0.9]
    assert stats.bootstrap_ci(em, seeds.mean_of_successful) == pytest.approx((0.9, 0.9, 0.9))
    assert np.isnan(stats.bootstrap_ci(np.zeros(5), seeds.mean_of_successful).low)


def test_success_is_strictly_above_the_threshold() -> None:
    em = np.array([[0.0, 0.2, 0.21, 0.8], [0.0, 0.0, 0.1, 0.2]])
    np.testing.assert_allclose(seeds.success_probability(em), [0.5, 0.0])
    np.testing.assert_allclose(seeds.mean_of_successful(em), [0.505, np.nan])
    np.testing.assert_allclose(seeds.success_probability(em, axis=0, threshold=0.05), [0, 0.5, 1, 1])


def test_histogram_mode_reports_atoms_at_zero_and_one() -> None:
    assert seeds.histogram_mode(np.r_[np.zeros(6), np.ones(5)]) == 0.0
    assert seeds.histogram_mode(np.r_[np.zeros(5), np.full(6, 0.99)]) == 1.0
    assert seeds.histogram_mode(np.array([0.31, 0.29, 0.7])) == pytest.approx(0.3)
    assert seeds.histogram_mode(np.array([0.0, 1.0])) == 0.0  # tie: the smaller point
    np.testing.assert_allclose(seeds.histogram_mode(np.array([[0, 0, 1], [1, 1, 0.0]]), axis=1), [0, 1])
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        seeds.histogram_mode(np.array([1.5]))


def test_seed_summary_is_tidy_with_intervals_around_estimates() -> None:
    table = seeds.seed_summary(population({1: 0.0, 2: 0.7}), n_resamples=200)
    assert list(table.columns) == ["scale", "statistic", "estimate", "low", "high", "n_seeds"]
    assert len(table) == 8 and set(table["statistic"]) == {"mean", "mode", "p_success", "mean_successful"}
    row = table.set_index(["scale", "statistic"])
    assert row.loc[(2, "p_success"), "estimate"] == pytest.approx(0.7)
    assert row.loc[(1, "mode"), "estimate"] == 0.0 and row.loc[(2, "mode"), "estimate"] > 0.8
    assert np.isnan(row.loc[(1, "mean_successful"), "estimate"])
    defined = table.dropna()
    assert (defined["low"] <= defined["estimate"] + 1e-12).all()
    assert (defined["estimate"] <= defined["high"] + 1e-12).all()


def test_kde_peaks_count_modes_including_a_mode_at_the_edge() -> None:
    rng = np.random.default_rng(3)
    assert seeds.count_kde_peaks(rng.normal(size=200)) == 1
    assert seeds.count_kde_peaks(np.r_[rng.normal(0, 1, 100), rng.normal(6, 1, 100)]) == 2
    assert seeds.count_kde_peaks(np.r_[np.zeros(150), rng.beta(40, 5, 50)]) == 2
    assert seeds.count_kde_peaks(np.zeros(30)) == 1


def test_kde_by_scale_shares_one_grid() -> None:
    table = seeds.kde_by_scale(population({1: 0.1, 2: 0.5}), value="em", n_grid=64)
    assert list(table.columns) == ["scale", "x", "density"] and len(table) == 128
    grids = [part["x"].to_numpy() for _, part in table.groupby("scale")]
    np.testing.assert_array_equal(grids[0], grids[1])


def test_wasserstein_to_reference_is_zero_at_the_largest_scale() -> None:
    table = seeds.wasserstein_to_reference(population({1: 0.0, 2: 0.5, 3: 1.0}))
    assert list(table["scale"]) == [1, 2, 3] and table["distance"].iloc[-1] == 0
    assert table["distance"].is_monotonic_decreasing


def test_bimodality_by_scale_flags_the_mixed_scales() -> None:
    table = seeds.bimodality_by_scale(population(SHARES))
    assert list(table.columns) == ["scale", "n_seeds", "dip", "p_value", "n_peaks", "multimodal"]
    assert list(table["multimodal"]) == [False, False, True, True, True, False]
    with pytest.raises(ValueError, match="rule"):
        seeds.bimodality_by_scale(population(SHARES), rule="most")  # type: ignore[arg-type]


def test_fig5_markers_sit_on_the_last_scale_before_each_event() -> None:
    frame = population(SHARES)
    assert seeds.bimodality_emergence(frame) == 2  # several peaks first at scale 3
    assert seeds.mode_breakthrough(frame) == 4  # P(success) first above 0.5 at scale 5


def test_markers_are_none_without_a_preceding_scale_or_event() -> None:
    assert seeds.mode_breakthrough(population({1: 0.9, 2: 1.0})) is None
    assert seeds.mode_breakthrough(population({1: 0.0, 2: 0.5})) is None  # 0.5 is not more likely
    assert seeds.last_scale_before(np.array([10, 20, 30]), np.array([False, False, True])) == 20
    with pytest.raises(ValueError, match="increasing"):
        seeds.last_scale_before(np.array([3, 2, 1]), np.array([False, True, True]))


def test_seed_shape_scores_and_top_seeds() -> None:
    scores = seeds.seed_shape_scores(seed_curves())
    by_seed = scores.set_index("seed")
    assert by_seed.loc[0, "L"] == pytest.approx(4) and by_seed.loc[0, "B"] == pytest.approx(4)
    assert by_seed.loc[1, "B"] == np.inf and by_seed.loc[1, "L"] == pytest.approx(2)
    assert (by_seed.loc[1, "jump_from"], by_seed.loc[1, "jump_to"]) == (3000, 4000)
    assert by_seed.loc[3, "B"] == 0 and by_seed.loc[3, "L"] == 0
    assert seeds.top_seeds(scores, "B")["seed"].item() == 1
    assert seeds.top_seeds(scores, "L")["seed"].item() == 0
    assert list(seeds.top_seeds(scores, "B", k=3)["seed"]) == [1, 2, 0]
    assert seeds.seed_shape_scores(seed_curves(), clip=10)["B"].max() == 10


def test_seed_shape_scores_need_complete_curves() -> None:
    with pytest.raises(ValueError, match="seeds"):
        seeds.seed_shape_scores(seed_curves().iloc[1:])
