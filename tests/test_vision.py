"""Induced emergence in vision: data split, Eq. 2, subset accuracy, a tiny population, the store."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from scalingbook.analysis import stats
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
    table = pd.DataFrame(
        {"width": [1, 1, 2, 2], "seed": [0, 0, 0, 0], "image": [3, 4, 3, 4], "sq_error": [2.0, 4.0, 0.5, 1.5]}
    )
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
    frame = pd.DataFrame(
        {"width": [1, 2, 4, 8] * 2, "seed": [0] * 4 + [1] * 4, "score": [0.0, 0.0, 0.0, 1.0, 0.0, 1.0, 2.0, 3.0]}
    )
    scores = mirage.breakthroughness_by_seed(frame, "score", clip=50.0)
    assert scores["B"].tolist() == [50.0, 3.0]


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
    assert vision.profile_config("classifier", "quick", [4, 1, 2]) == vision.PopulationConfig(
        "classifier", (1, 2, 4), 3, 400
    )
    assert vision.profile_config("autoencoder", "full", [2, 1]) == vision.PopulationConfig(
        "autoencoder", (1, 2), 10, 6000
    )
    assert vision.profile_config("classifier", "full", [1], seeds=2).seeds == 2
    with pytest.raises(ValueError, match="widths"):
        vision.PopulationConfig("autoencoder", widths=(0, 2), seeds=1, steps=1)
    with pytest.raises(ValueError, match="task"):
        vision.PopulationConfig("segmenter", widths=(1,), seeds=1, steps=1)  # type: ignore[arg-type]
    with pytest.raises(
        ValueError, match=r"profiles/mirage-vision\.yaml: no 'paper' profile \(it defines quick, full\)"
    ):
        vision.profile_config("autoencoder", "paper", [1])


def test_largest_step_is_found_in_the_data_not_assumed():
    summary = pd.DataFrame({"width": [1, 2, 4, 8, 16], "mean": [0.0, 0.05, 0.6, 0.7, 0.75]})
    step = mirage.largest_step(summary)
    assert (step["before"], step["after"]) == (2.0, 4.0)
    assert step["highest_before"] == 0.05 and step["at_after"] == 0.6


def test_b_difference_pairs_each_seeds_two_curves():
    widths = [1, 2, 4, 8]
    rows = [
        {"seed": s, "width": w, "step": float(w == 8), "line": i / 3} for s in range(4) for i, w in enumerate(widths)
    ]
    frame = pd.DataFrame(rows)
    out = mirage.b_difference(frame, frame, "step")
    assert out.estimate == 0 and out.low == 0 and out.high == 0
    steep = mirage.b_difference(frame.assign(v=frame["step"]), frame.assign(v=frame["line"]), "v")
    assert steep.estimate == pytest.approx(100 - 3) and steep.low > 0


# The sentences the chapter shows


def _vision(accuracy_counts: list[int], sizes: list[int], thresholds: list[float]) -> mirage.VisionCurves:
    """Two identical seeds at widths 1, 2, 4, 8 (so every interval over seeds is a point).

    Autoencoders: two images per model with errors whose mean falls in a straight line, 4, 3, 2, 1, while
    fewer than 1 has neither image up to width 2 and one of them from width 4. Classifiers: eight
    images, of which ``accuracy_counts`` are right at each width.
    """
    widths = [1, 2, 4, 8]
    errors = {1: [4.0, 4.0], 2: [3.0, 3.0], 4: [3.5, 0.5], 8: [1.5, 0.5]}
    autoencoders = pd.DataFrame(
        [{"width": w, "seed": s, "image": i, "sq_error": errors[w][i]} for w in widths for s in (0, 1) for i in (0, 1)]
    )
    classifiers = pd.DataFrame(
        [
            {"width": w, "seed": s, "image": i, "correct": i < n}
            for w, n in zip(widths, accuracy_counts)
            for s in (0, 1)
            for i in range(8)
        ]
    )
    return mirage.vision_curves(autoencoders, classifiers, thresholds, sizes, n_sets=50)


def test_reconstruction_summary_finds_the_jump_the_threshold_makes():
    # -MSE is a straight line (B = 3 over 4 widths); Reconstruction_1 reads 0, 0, 0.5, 0.5 (B infinite, clipped at
    # 100), so each seed's difference is 97; Reconstruction_5 is 1 everywhere.
    assert mirage.reconstruction_summary(_vision([0, 2, 4, 8], [1, 2], [1.0, 5.0])) == (
        "**Reconstruction.** The mean squared error is 4.00 at width 1 and 1.00 at width 8; its B is 3.0 [3.0, 3.0], "
        "an interval that holds the 3 of a straight line through the 4 widths: no jump. With the strictest "
        "threshold, c = 1, Reconstruction_c takes its largest step between widths 2 and 4: it reads at most 0.00 up "
        "to width 2 and 0.50 at width 4, 0.50 at the largest (B 100); with the most generous, c = 5, it starts at "
        "1.00. Seed by seed, B under the strictest threshold minus B of the error has median +97.0 [+97.0, +97.0], "
        "clearly above zero. Where the jump happens, and whether there is one to see at all, is set by c, not "
        "by anything that happens inside the models."
    )


def test_reconstruction_summary_when_the_threshold_makes_no_jump():
    # Reconstruction_5 never moves (B 0), below the error's straight line (B 3).
    text = mirage.reconstruction_summary(_vision([0, 2, 4, 8], [1, 2], [5.0]))
    assert text.endswith(
        "has median -3.0 [-3.0, -3.0], clearly below zero. So on these runs the threshold "
        "does not make the same models clearly more step-like than their error."
    )


def test_compared_with_line_places_b_against_n_minus_1():
    assert mirage.compared_with_line(8.7, 8.5, 9.1, 10) == (
        "its B is 8.7 [8.5, 9.1], an interval that holds the 9 of a straight line through the 10 widths: no jump"
    )
    assert mirage.compared_with_line(20.0, 15.0, 30.0, 10).endswith(
        "clearly above the 9 of a straight line through the 10 widths: more step-like than a line"
    )
    assert mirage.compared_with_line(4.0, 3.0, 5.0, 10).endswith(
        "clearly below the 9 of a straight line through the 10 widths: no jump"
    )


def test_difference_words_read_the_interval_against_zero():
    assert mirage.difference_words(stats.Interval(1.0, 0.5, 2.0)) == "clearly above zero"
    assert mirage.difference_words(stats.Interval(-1.0, -2.0, -0.5)) == "clearly below zero"
    assert mirage.difference_words(stats.Interval(0.1, -0.5, 0.5)) == "not clearly different from zero"


def test_classification_summary_when_both_measures_find_the_power_sharper():
    # accuracy 0, 0.25, 0.5, 1: B 4; squared 0, 0.0625, 0.25, 1: B 1 / 0.1875 = 5.3, so the difference is +1.3.
    # 10% of the range is reached at width 2 for K = 1 and at 4 for K = 2, 90% at 8 for both: 4-fold against 2-fold.
    assert mirage.classification_summary(_vision([0, 2, 4, 8], [1, 2], [1.0])) == (
        "**Classification.** Per-image accuracy goes from 0.00 to 1.00 across the widths. For sets of K = 2 the "
        "expectation goes from 0.0000 to 1.00, and a benchmark of 50 sampled sets measures 0.000 for the smallest "
        "model. Is the K-th power sharper? Its B (median over seeds) is 5 for K = 2 against 4 for K = 1; the median "
        "over seeds of each seed's difference is +1.3 [+1.3, +1.3], clearly above zero. Carrying the mean "
        "from 10% to 90% of its range takes a 2.0-fold growth in width for K = 2 against 4.0-fold for K = 1, so by "
        "that measure it is steeper. By both measures the K-th power makes the curve more step-like."
    )


def test_classification_summary_when_neither_measure_does():
    # accuracy 0, 0.5, 0.75, 1 (B 4); squared 0, 0.25, 0.5625, 1 (B 3.2); both rise from width 2 to width 8.
    text = mirage.classification_summary(_vision([0, 4, 6, 8], [1, 2], [1.0]))
    assert text.endswith(
        "[-0.8, -0.8], clearly below zero. Carrying the mean from 10% to 90% of its range takes a 4.0-fold "
        "growth in width for K = 2 against 4.0-fold for K = 1, so by that measure it is not steeper. By neither "
        "measure is the K-th power clearly more step-like here: per-image accuracy climbs from 10% to 90% of its "
        "range within a 4.0-fold growth in width, and raising it to the power K = 2 leaves the start of the rise "
        "(10% of its range) at width 2, leaves its end (90%) at width 8, and takes the smallest model from 0.00 to "
        "0.0000."
    )
    assert mirage._moved("its end (90%)", 4.0, 8.0) == "moves its end (90%) from width 4 to width 8"


def test_classification_summary_when_the_measures_disagree():
    # accuracy 0, 0.5, 0.5, 1 (B 2); squared 0, 0.25, 0.25, 1 (B 4): sharper, yet both rise from width 2 to 8.
    text = mirage.classification_summary(_vision([0, 4, 4, 8], [1, 2], [1.0]))
    assert text.endswith(
        "so by that measure it is not steeper. The two measures disagree, so the K-th power's "
        "effect on the shape is not clear on these runs."
    )
    assert "[+2.0, +2.0], clearly above zero" in text
