"""Induced emergence in vision: data split, Eq. 2, subset accuracy, a tiny population, the store."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from scalingbook.chapters import mirage
from scalingbook.lab import vision
from scalingbook.lab.store import ResultStore

TINY_AE = vision.PopulationConfig("autoencoder", widths=(1, 16), seeds=1, steps=400, batch_size=64)


def test_split_is_deterministic_disjoint_and_complete():
    a, b = vision.load_digits_split(0.3, split_seed=5), vision.load_digits_split(0.3, split_seed=5)
    np.testing.assert_array_equal(a.test_index, b.test_index)
    np.testing.assert_array_equal(a.x_test, b.x_test)
    assert not np.array_equal(a.test_index, vision.load_digits_split(0.3, split_seed=6).test_index)
    assert len(a.x_train) + len(a.x_test) == 1797 and len(a.x_test) == round(0.3 * 1797)
    assert a.x_train.shape[1] == vision.N_PIXELS and 0 <= a.x_train.min() and a.x_train.max() <= 1
    assert set(a.y_test) == set(range(10))
    with pytest.raises(ValueError, match="test_fraction"):
        vision.load_digits_split(1.0)


def test_reconstruction_c_counts_errors_strictly_below_c():
    errors = np.array([0.1, 0.5, 1.0, 2.0])
    assert mirage.reconstruction_c(errors, 1.0) == 0.5  # 1.0 itself is not below c = 1
    np.testing.assert_allclose(mirage.reconstruction_c(errors, [0.05, 0.6, 3.0]), [0.0, 0.5, 1.0])
    per_model = np.array([[0.1, 0.5, 1.0, 2.0], [3.0, 3.0, 0.0, 0.0]])
    np.testing.assert_allclose(mirage.reconstruction_c(per_model, [0.6, 5.0]), [[0.5, 0.5], [1.0, 1.0]])


def test_reconstruction_curves_have_one_row_per_width_seed_and_c():
    table = pd.DataFrame({"width": [1, 1, 2, 2], "seed": [0, 0, 0, 0], "image": [3, 4, 3, 4],
                          "sq_error": [2.0, 4.0, 0.5, 1.5]})
    curves = mirage.reconstruction_curves(table, [1.0, 3.0])
    assert curves[["width", "c"]].values.tolist() == [[1, 1.0], [1, 3.0], [2, 1.0], [2, 3.0]]
    np.testing.assert_allclose(curves["mse"], [3.0, 3.0, 1.0, 1.0])
    np.testing.assert_allclose(curves["reconstruction"], [0.0, 0.5, 0.5, 1.0])


def test_autoencoder_error_falls_with_bottleneck_width():
    table = vision.train_population(TINY_AE)
    assert set(table.columns) == {"width", "seed", "image", "sq_error"}
    assert len(table) == 2 * round(0.3 * 1797)
    mse = table.groupby("width")["sq_error"].mean()
    assert mse[16] < 0.7 * mse[1], mse.to_dict()


def test_a_member_is_the_same_model_alone_or_in_a_population():
    config = vision.PopulationConfig("classifier", widths=(2, 5), seeds=2, steps=30, batch_size=32)
    alone = vision.PopulationConfig("classifier", widths=(5,), seeds=2, steps=30, batch_size=32)
    together = vision.train_population(config).query("width == 5").reset_index(drop=True)
    by_itself = vision.train_population(alone)
    assert (together["predicted"] == by_itself["predicted"]).mean() > 0.99


def test_expected_subset_accuracy_is_accuracy_to_the_k_and_matches_sampling():
    np.testing.assert_allclose(mirage.expected_subset_accuracy(0.9, np.arange(1, 6)), 0.9 ** np.arange(1, 6))
    correct = np.zeros(200, dtype=bool)
    correct[:140] = True  # accuracy 0.7
    table = pd.DataFrame({"width": 4, "seed": 0, "image": np.arange(200), "correct": correct})
    curves = mirage.subset_accuracy_curves(table, [1, 3, 5], n_sets=20_000, rng_seed=1)
    np.testing.assert_allclose(curves["expected"], [0.7, 0.7**3, 0.7**5])
    np.testing.assert_allclose(curves["measured"], curves["expected"], atol=0.015)
    sets = mirage.sample_subsets(200, 3, 50, rng_seed=2)
    assert sets.shape == (50, 3) and np.array_equal(sets, mirage.sample_subsets(200, 3, 50, rng_seed=2))


def test_breakthroughness_is_high_for_a_step_and_n_minus_1_for_a_line():
    frame = pd.DataFrame({"width": [1, 2, 4, 8] * 2, "seed": [0] * 4 + [1] * 4,
                          "score": [0.0, 0.0, 0.0, 1.0, 0.0, 1.0, 2.0, 3.0]})
    scores = mirage.breakthroughness_by_seed(frame, "score", clip=50.0)
    assert scores["B"].tolist() == [50.0, 3.0]
    intervals = mirage.seed_intervals(frame, "score", ["width"])
    assert intervals["width"].tolist() == [1, 2, 4, 8] and intervals["mean"].tolist() == [0.0, 0.5, 1.0, 2.0]
    assert (intervals["low"] <= intervals["mean"]).all() and (intervals["mean"] <= intervals["high"]).all()


def test_results_are_stored_then_read_back_without_retraining(tmp_path, monkeypatch):
    store = ResultStore(tmp_path)
    first = vision.population_result(TINY_AE, "quick", store=store)
    assert first.manifest["params"] == TINY_AE.params()
    assert first.path.parent.name == "vision-autoencoder" and first.path.parent.parent.name == "mirage"

    def no_training(*args, **kwargs):
        raise AssertionError("a stored population was trained again")

    monkeypatch.setattr(vision, "train_population", no_training)
    again = vision.population_result(TINY_AE, "quick", store=store)
    pd.testing.assert_frame_equal(again.table, first.table)
    assert again.manifest["param_hash"] == first.manifest["param_hash"]


def test_profiles_and_configs_are_validated():
    quick = vision.profile_config("classifier", "quick", [4, 1, 2])
    assert quick.widths == (1, 2, 4) and quick.seeds == vision.BUDGETS["quick"].seeds
    assert vision.profile_config("classifier", "full", [1], seeds=2).seeds == 2
    with pytest.raises(ValueError, match="widths"):
        vision.PopulationConfig("autoencoder", widths=(0, 2), seeds=1, steps=1)
    with pytest.raises(ValueError, match="task"):
        vision.PopulationConfig("segmenter", widths=(1,), seeds=1, steps=1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="profile"):
        vision.profile_config("autoencoder", "huge", [1])


def test_largest_step_is_found_in_the_data_not_assumed():
    summary = pd.DataFrame({"width": [1, 2, 4, 8, 16], "mean": [0.0, 0.05, 0.6, 0.7, 0.75]})
    step = mirage.largest_step(summary)
    assert (step["before"], step["after"]) == (2.0, 4.0)
    assert step["highest_before"] == 0.05 and step["at_after"] == 0.6


def test_b_difference_pairs_each_seeds_two_curves():
    widths = [1, 2, 4, 8]
    rows = [{"seed": s, "width": w, "step": float(w == 8), "line": i / 3} for s in range(4) for i, w in enumerate(widths)]
    frame = pd.DataFrame(rows)
    out = mirage.b_difference(frame, frame, "step")
    assert out.estimate == 0 and out.low == 0 and out.high == 0
    steep = mirage.b_difference(frame.assign(v=frame["step"]), frame.assign(v=frame["line"]), "v")
    assert steep.estimate == pytest.approx(100 - 3) and steep.low > 0
