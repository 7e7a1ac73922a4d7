"""The Mirage chapter's analysis (Schaeffer et al. 2023): the mathematical model (Sec. 2) and the rescoring of
stored emergence outputs (Figs. 3-6), on hand-computed cases."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from scalingbook.chapters import emergence, mirage
from scalingbook.lab.store import Result
from scalingbook.lab.sweeps import Sweep
from scalingbook.lab.tasks import encode
from tests.test_emergence import CONFIG


def _outcomes(values: dict[str, list[float]]) -> pd.DataFrame:
    """Two sizes x two seeds of one task, with the given metric columns (size-major, then seed)."""
    return pd.DataFrame({"task": "t", "d_model": [4, 4, 8, 8], "n_params": [100, 100, 400, 400], "flops": [1.0, 1.0, 4.0, 4.0],
                         "seed": [0, 1, 0, 1], **values})


def test_metric_curves_are_long_with_one_curve_per_metric_in_the_given_order():
    outcomes = _outcomes({"em": [0.0, 0.0, 0.5, 1.0], "edit_distance": [3.0, 1.0, 0.0, 0.0]})
    curves = mirage.metric_curves(outcomes, ["edit_distance", "em"], 100, 0.9, 0)
    assert list(curves["metric"]) == ["edit_distance", "edit_distance", "em", "em"]
    np.testing.assert_allclose(curves["mean"], [2.0, 0.0, 0.0, 0.75])
    with pytest.raises(ValueError, match="names: unknown metric"):
        mirage.metric_curves(outcomes, ["rouge"], 100, 0.9, 0)


def test_emergence_scores_negate_metrics_where_lower_is_better_and_leave_flat_curves_unscored():
    curves = pd.DataFrame({
        "task": "t", "metric": ["em"] * 4 + ["edit_distance"] * 4 + ["token_accuracy"] * 4, "n_params": [1, 2, 3, 4] * 3,
        # em: flat, flat, jump -> steps (0, 0, 1), median 0, B infinite -> clipped; edit distance falls linearly;
        # token accuracy: one noisy blip whose interval still overlaps the start: flat, no B (issue 14).
        "mean": [0.0, 0.0, 0.0, 1.0, 3.0, 2.0, 1.0, 0.0, 0.0, 0.002, 0.0, 0.0],
        "low": [0.0, 0.0, 0.0, 0.9, 2.9, 1.9, 0.9, 0.0, 0.0, 0.0, 0.0, 0.0],
        "high": [0.0, 0.0, 0.0, 1.0, 3.1, 2.1, 1.1, 0.1, 0.0, 0.004, 0.0, 0.0],
    })
    scores = mirage.metric_emergence_scores(curves, clip=100.0).set_index("metric")
    assert scores.loc["em", "B"] == 100.0 and not scores.loc["em", "flat"]
    assert scores.loc["edit_distance", "B"] == pytest.approx(3.0), "a falling straight line of 4 points scores +3"
    assert scores.loc["edit_distance", "smallest"] == 3.0 and scores.loc["edit_distance", "largest"] == 0.0
    assert np.isnan(scores.loc["token_accuracy", "B"]) and scores.loc["token_accuracy", "flat"]


def test_sharpness_puts_a_paired_interval_on_the_difference_of_b():
    sizes = [1, 2, 3, 4, 5]
    rows = []
    for seed in range(6):
        noise = 0.01 * seed
        # exact match steps at the last size; token accuracy rises in equal steps: same seeds, two metrics.
        for k, n in enumerate(sizes):
            rows.append({"task": "t", "d_model": n, "n_params": n, "flops": 1.0, "seed": seed,
                         "em": (0.9 if k == 4 else 0.0) + noise, "token_accuracy": 0.2 * k + noise,
                         "log_likelihood": -1.0 + noise})
    outcomes = pd.DataFrame(rows)
    names = ["em", "token_accuracy", "log_likelihood"]
    curves = mirage.metric_curves(outcomes, names, 200, 0.9, 0)
    scores = mirage.metric_emergence_scores(curves)
    out = mirage.sharpness(outcomes, scores, "em", ["token_accuracy", "log_likelihood"], 200, 0.9, 0).set_index("metric")
    assert out.loc["token_accuracy", "verdict"] == "sharper" and out.loc["token_accuracy", "low"] > 0
    assert out.loc["token_accuracy", "B_metric"] == pytest.approx(4.0)
    assert out.loc["log_likelihood", "verdict"] == "flat", "a curve that never moves is not compared"


def _tiny_sweep() -> Sweep:
    return Sweep.from_dict({**CONFIG, "grid": [{"d_model": 8}, {"d_model": 16}]})


def _result(table: pd.DataFrame) -> Result:
    return Result(table=table, manifest={}, path=Path("."))


def test_choice_outcomes_grade_and_brier_per_seed():
    sweep = _tiny_sweep()
    uniform, sure_right, sure_wrong = [0.0, 0.0], [0.0, -np.inf], [-np.inf, 0.0]
    table = pd.DataFrame({"seed": [0, 0, 1, 1], "component": 0, "correct": [0, 0, 0, 0],
                          "option_logprob": [np.array(sure_right), np.array(uniform), np.array(sure_wrong), np.array(sure_right)]})
    # softmax of -inf is an exact 0, so Brier is 0 (right), 0.5 (uniform over 2), 2 (wrong).
    out = mirage.choice_outcomes(sweep, [_result(table), _result(table)])
    first = out[out["d_model"] == 8].set_index("seed")
    np.testing.assert_allclose(first["grade"], [1.0, 0.5])  # a tie goes to the first option, here the right one
    np.testing.assert_allclose(first["brier"], [0.25, 1.0])
    assert (out["n_options"] == 2).all() and (out["task"] == "add-1").all()
    assert out["n_params"].nunique() == 2
    with pytest.raises(ValueError, match="choices: run .* has no stored table"):
        mirage.choice_outcomes(sweep, [None, _result(table)])


def _length_records() -> pd.DataFrame:
    """add-1 (component 0) answers of 2 and 3 tokens, and one unscramble record that must be ignored."""
    return pd.DataFrame({
        "seed": [0, 0, 0, 0], "component": [0, 0, 0, 2], "target_len": [2, 2, 3, 4],
        "prediction": [encode("7 EOS"), encode("6 EOS"), encode("1 2 EOS"), encode("3 2 1 EOS")],
        "target": [encode("7 EOS"), encode("7 EOS"), encode("1 4 EOS"), encode("3 2 1 EOS")],
        "logprob": [np.zeros(2), np.zeros(2), np.zeros(3), np.zeros(4)],
        # teacher-forced hits: the second add-1 answer's first token is wrong, the third's middle one
        "tf_correct": [np.array([True, True]), np.array([False, True]), np.array([True, False, True]), np.ones(4, bool)],
    })


def test_length_outcomes_group_the_chosen_components_by_target_length():
    sweep = _tiny_sweep()
    records = _length_records()
    out = mirage.length_outcomes(sweep, [_result(records), _result(records)], ["add-1"])
    one = out[out["d_model"] == 8].set_index("target_len")
    np.testing.assert_allclose(one["em"], [0.5, 0.0])
    np.testing.assert_allclose(one["edit_distance"], [0.5, 1.0])
    np.testing.assert_array_equal(one["correct_tokens"], [3, 2])
    np.testing.assert_array_equal(one["tokens"], [4, 3])
    with pytest.raises(ValueError, match="labels: .*mul-9"):
        mirage.length_outcomes(sweep, [_result(records)] * 2, ["mul-9"])


def test_length_curves_put_the_independent_token_model_beside_the_measurement():
    lengths = pd.DataFrame({"d_model": 8, "n_params": 50, "flops": 1.0, "seed": [0, 0], "target_len": [2, 4],
                            "em": [0.5, 0.1], "edit_distance": [0.5, 1.0], "correct_tokens": [3, 5], "tokens": [4, 8],
                            "n_examples": [2, 2]})
    p = mirage.token_accuracy_by_size(lengths)["p_token"].iloc[0]
    assert p == pytest.approx(8 / 12)
    curves = mirage.length_curves(lengths)
    np.testing.assert_allclose(curves["em_model"], [p**2, p**4])
    np.testing.assert_allclose(curves["edit_distance_model"], [2 * (1 - p), 4 * (1 - p)])


def test_independent_token_outcomes_compare_exact_match_with_p_to_the_l():
    sweep = _tiny_sweep()
    records = _length_records()
    out = mirage.independent_token_outcomes(sweep, [_result(records), _result(records)])
    one = out[(out["d_model"] == 8) & (out["task"] == "add-1")].iloc[0]
    assert one["p_token"] == pytest.approx(5 / 7) and one["em"] == pytest.approx(1 / 3)
    assert one["em_model"] == pytest.approx(((5 / 7) ** 2 * 2 + (5 / 7) ** 3) / 3)
    assert set(out["task"]) == {"add-1", "unscramble-3"}


def test_large_summary_needs_both_intervals_to_call_a_size_above_chance():
    large = pd.DataFrame({"task": "add-3", "d_model": [4] * 3 + [8] * 3, "n_params": [10] * 3 + [20] * 3,
                          "flops": [1.0] * 3 + [2.0] * 3, "seed": [0, 1, 2] * 2,
                          "successes": [0, 0, 1, 40, 50, 60], "trials": 1000})
    large["em"] = large["successes"] / large["trials"]
    out = mirage.large_summary(large, chance=0.01, n_resamples=200, confidence=0.95, rng_seed=0).set_index("d_model")
    assert out.loc[8, "verdict"] == "above chance" and out.loc[8, "successes"] == 150 and out.loc[8, "trials"] == 3000
    assert out.loc[4, "verdict"] == "below chance" and out.loc[4, "cp_high"] < 0.01
    assert out.loc[8, "seed_low"] <= out.loc[8, "em"] <= out.loc[8, "seed_high"]


def test_subset_sizes_are_powers_of_ten_then_the_whole_set():
    assert mirage.subset_sizes(3000) == [100, 1000, 3000]
    assert mirage.subset_sizes(100_000) == [100, 1000, 10_000, 100_000]
    assert mirage.subset_sizes(50) == [50]
    with pytest.raises(ValueError, match="n_prompts"):
        mirage.subset_sizes(0)


def test_exact_match_by_test_size_pools_seeds_on_the_first_prompts():
    table = pd.DataFrame({"seed": [0] * 4 + [1] * 4, "example": [0, 1, 2, 3] * 2,
                          "exact_match": [False, False, True, True, False, False, False, True]})
    out = mirage.exact_match_by_test_size(table, [2, 4], 0.95).set_index("prompts")
    assert out.loc[2, "successes"] == 0 and out.loc[2, "trials"] == 4 and out.loc[2, "low"] == 0.0
    assert out.loc[2, "high"] == pytest.approx(1 - 0.025 ** (1 / 4))
    assert out.loc[4, "em"] == pytest.approx(3 / 8) and out.loc[4, "resolution"] == pytest.approx(1 / 8)
    with pytest.raises(ValueError, match="sizes"):
        mirage.exact_match_by_test_size(table, [5], 0.95)


def test_evenly_spaced_keeps_both_ends():
    assert mirage.evenly_spaced([5, 1, 3, 3, 9, 7], 3) == [1, 5, 9]
    assert mirage.evenly_spaced([2, 1], 5) == [1, 2]
    with pytest.raises(ValueError, match="k"):
        mirage.evenly_spaced([1, 2], 0)


def test_size_columns_agree_with_run_outcomes():
    sweep = _tiny_sweep()
    sizes = [emergence.size_columns(spec) for spec in sweep.runs]
    assert [s["d_model"] for s in sizes] == [8, 16] and sizes[0]["n_params"] < sizes[1]["n_params"]


# The mathematical model (Sec. 2)


def test_cross_entropy_and_token_probability():
    # (1e9 / 1e8) ** -0.5 = 10 ** -0.5
    ce = mirage.per_token_cross_entropy(np.array([1e8, 1e9]), c=1e8, alpha=-0.5)
    assert ce == pytest.approx([1.0, 10 ** -0.5])
    assert mirage.per_token_correct(ce) == pytest.approx([math.exp(-1.0), math.exp(-(10 ** -0.5))])


def test_exact_match_is_geometric_and_edit_distance_linear_in_length():
    p = np.array([0.9])
    assert [mirage.model_exact_match(p, L)[0] for L in (1, 2, 3)] == pytest.approx([0.9, 0.81, 0.729])
    assert [mirage.model_edit_distance(p, L)[0] for L in (1, 2, 3)] == pytest.approx([0.1, 0.2, 0.3])


def test_curves_table():
    table = mirage.model_curves(np.array([1e8, 1e10]), c=1e8, alpha=-0.5, lengths=[1, 4], test_set_size=10)
    assert len(table) == 4
    row = table[(table["length"] == 4) & (table["n_params"] == 1e8)].iloc[0]
    assert row["exact_match"] == pytest.approx(math.exp(-4.0))
    assert row["edit_distance"] == pytest.approx(4 * (1 - math.exp(-1.0)))
    assert row["p_all_wrong"] == pytest.approx((1 - math.exp(-4.0)) ** 10)
    assert not row["resolvable"]  # exp(-4) = 0.018 < 1/10
    assert table[table["length"] == 1]["resolvable"].all()


@pytest.mark.parametrize(("c", "alpha"), [(0.0, -0.5), (1.0, 0.0), (1.0, 0.3)])
def test_invalid_constants_are_rejected(c, alpha):
    with pytest.raises(ValueError):
        mirage.per_token_cross_entropy(np.array([1.0]), c=c, alpha=alpha)


def test_resolution():
    assert mirage.resolution(100) == 0.01
    with pytest.raises(ValueError, match="test_set_size"):
        mirage.resolution(0)


def test_params_for_exact_match_inverts_the_model():
    n = mirage.params_for_exact_match(0.5, 5, c=2e8, alpha=-0.35)
    p = mirage.per_token_correct(mirage.per_token_cross_entropy(np.array([n]), c=2e8, alpha=-0.35))
    assert mirage.model_exact_match(p, 5)[0] == pytest.approx(0.5)
    with pytest.raises(ValueError, match="accuracy"):
        mirage.params_for_exact_match(1.0, 5, c=2e8, alpha=-0.35)


def test_min_test_set_size():
    # (1 - 0.5) ** n <= 0.05 first at n = 5 (0.03125), not at 4 (0.0625)
    assert mirage.min_test_set_size(0.5) == 5
    assert mirage.min_test_set_size(1.0) == 1
    assert mirage.min_test_set_size(0.01, confidence=0.95) == math.ceil(math.log(0.05) / math.log(0.99))


def test_fit_recovers_the_power_law_and_drops_saturated_points():
    n = np.logspace(6, 12, 13)
    p = mirage.per_token_correct(mirage.per_token_cross_entropy(n, c=2e8, alpha=-0.35))
    p[0], p[-1] = 0.0, 1.0
    c, alpha = mirage.fit_cross_entropy_power_law(n, p)
    assert alpha == pytest.approx(-0.35) and c == pytest.approx(2e8)
    with pytest.raises(ValueError, match="two accuracies"):
        mirage.fit_cross_entropy_power_law(n[:2], np.array([0.0, 1.0]))


def test_sampled_accuracy_is_binomial_and_seeded():
    n = np.logspace(6, 12, 5)
    a = mirage.sample_token_accuracy(n, 2e8, -0.35, tokens=400, seed=3)
    assert a.equals(mirage.sample_token_accuracy(n, 2e8, -0.35, tokens=400, seed=3))
    assert ((a["correct"] >= 0) & (a["correct"] <= 400)).all()
    assert a["accuracy"].tolist() == (a["correct"] / 400).tolist()
