"""The Mirage chapter's analysis (Schaeffer et al. 2023): the mathematical model (Sec. 2) and the rescoring of
stored emergence outputs (Figs. 3-6), on hand-computed cases."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from scalingbook.chapters import emergence, mirage
from scalingbook.lab.store import Result, ResultStore
from scalingbook.lab.sweeps import Sweep
from scalingbook.lab.tasks import encode
from tests.test_emergence import CONFIG


def _outcomes(values: dict[str, list[float]]) -> pd.DataFrame:
    """Two sizes x two seeds of one task, with the given metric columns (size-major, then seed)."""
    return pd.DataFrame(
        {
            "task": "t",
            "d_model": [4, 4, 8, 8],
            "n_params": [100, 100, 400, 400],
            "flops": [1.0, 1.0, 4.0, 4.0],
            "seed": [0, 1, 0, 1],
            **values,
        }
    )


def test_metric_curves_are_long_with_one_curve_per_metric_in_the_given_order():
    outcomes = _outcomes({"em": [0.0, 0.0, 0.5, 1.0], "edit_distance": [3.0, 1.0, 0.0, 0.0]})
    curves = mirage.metric_curves(outcomes, ["edit_distance", "em"], 100, 0.9, 0)
    assert list(curves["metric"]) == ["edit_distance", "edit_distance", "em", "em"]
    np.testing.assert_allclose(curves["mean"], [2.0, 0.0, 0.0, 0.75])
    with pytest.raises(ValueError, match="names: unknown metric"):
        mirage.metric_curves(outcomes, ["rouge"], 100, 0.9, 0)


def test_emergence_scores_negate_metrics_where_lower_is_better_and_leave_flat_curves_unscored():
    curves = pd.DataFrame(
        {
            "task": "t",
            "metric": ["em"] * 4 + ["edit_distance"] * 4 + ["token_accuracy"] * 4,
            "n_params": [1, 2, 3, 4] * 3,
            # em: flat, flat, jump -> steps (0, 0, 1), median 0, B infinite -> clipped; edit distance falls linearly;
            # token accuracy: one noisy blip whose interval still overlaps the start: flat, no B (issue 14).
            "mean": [0.0, 0.0, 0.0, 1.0, 3.0, 2.0, 1.0, 0.0, 0.0, 0.002, 0.0, 0.0],
            "low": [0.0, 0.0, 0.0, 0.9, 2.9, 1.9, 0.9, 0.0, 0.0, 0.0, 0.0, 0.0],
            "high": [0.0, 0.0, 0.0, 1.0, 3.1, 2.1, 1.1, 0.1, 0.0, 0.004, 0.0, 0.0],
        }
    )
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
            rows.append(
                {
                    "task": "t",
                    "d_model": n,
                    "n_params": n,
                    "flops": 1.0,
                    "seed": seed,
                    "em": (0.9 if k == 4 else 0.0) + noise,
                    "token_accuracy": 0.2 * k + noise,
                    "log_likelihood": -1.0 + noise,
                }
            )
    outcomes = pd.DataFrame(rows)
    names = ["em", "token_accuracy", "log_likelihood"]
    curves = mirage.metric_curves(outcomes, names, 200, 0.9, 0)
    scores = mirage.metric_emergence_scores(curves)
    out = mirage.sharpness(outcomes, scores, "em", ["token_accuracy", "log_likelihood"], 200, 0.9, 0).set_index(
        "metric"
    )
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
    table = pd.DataFrame(
        {
            "seed": [0, 0, 1, 1],
            "component": 0,
            "correct": [0, 0, 0, 0],
            "option_logprob": [np.array(sure_right), np.array(uniform), np.array(sure_wrong), np.array(sure_right)],
        }
    )
    # softmax of -inf is an exact 0, so Brier is 0 (right), 0.5 (uniform over 2), 2 (wrong).
    records = [_result(_length_records())] * 2  # their manifests record no diverged seed
    out = mirage.choice_outcomes(sweep, records, [_result(table), _result(table)])
    first = out[out["d_model"] == 8].set_index("seed")
    np.testing.assert_allclose(first["grade"], [1.0, 0.5])  # a tie goes to the first option, here the right one
    np.testing.assert_allclose(first["brier"], [0.25, 1.0])
    assert (out["n_options"] == 2).all() and (out["task"] == "add-1").all() and (out["n_diverged"] == 0).all()
    assert out["n_params"].nunique() == 2
    with pytest.raises(ValueError, match="choices: run .* has no stored table"):
        mirage.choice_outcomes(sweep, records, [None, _result(table)])


def _length_records() -> pd.DataFrame:
    """add-1 (component 0) answers of 2 and 3 tokens, and one unscramble record that must be ignored."""
    return pd.DataFrame(
        {
            "seed": [0, 0, 0, 0],
            "component": [0, 0, 0, 2],
            "target_len": [2, 2, 3, 4],
            "prediction": [encode("7 EOS"), encode("6 EOS"), encode("1 2 EOS"), encode("3 2 1 EOS")],
            "target": [encode("7 EOS"), encode("7 EOS"), encode("1 4 EOS"), encode("3 2 1 EOS")],
            "logprob": [np.zeros(2), np.zeros(2), np.zeros(3), np.zeros(4)],
            # teacher-forced hits: the second add-1 answer's first token is wrong, the third's middle one
            "tf_correct": [
                np.array([True, True]),
                np.array([False, True]),
                np.array([True, False, True]),
                np.ones(4, bool),
            ],
        }
    )


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
    lengths = pd.DataFrame(
        {
            "d_model": 8,
            "n_params": 50,
            "flops": 1.0,
            "seed": [0, 0],
            "target_len": [2, 4],
            "em": [0.5, 0.1],
            "edit_distance": [0.5, 1.0],
            "correct_tokens": [3, 5],
            "tokens": [4, 8],
            "n_examples": [2, 2],
        }
    )
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
    large = pd.DataFrame(
        {
            "task": "add-3",
            "d_model": [4] * 3 + [8] * 3,
            "n_params": [10] * 3 + [20] * 3,
            "flops": [1.0] * 3 + [2.0] * 3,
            "seed": [0, 1, 2] * 2,
            "successes": [0, 0, 1, 40, 50, 60],
            "trials": 1000,
        }
    )
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
    table = pd.DataFrame(
        {
            "seed": [0] * 4 + [1] * 4,
            "example": [0, 1, 2, 3] * 2,
            "exact_match": [False, False, True, True, False, False, False, True],
        }
    )
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
    assert ce == pytest.approx([1.0, 10**-0.5])
    assert mirage.per_token_correct(ce) == pytest.approx([math.exp(-1.0), math.exp(-(10**-0.5))])


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


# Diverged members (issue 18, item 7)

NO_DIVERGENCE = "No seed diverged in training (rule: `scalingbook.lab.train.diverged_from_losses`)."


def _left_out(parts: str) -> str:
    return (
        "Seeds that diverged in training (a non-finite loss, or a last loss over 1.5 times the first; "
        f"`scalingbook.lab.train.diverged_from_losses`) are left out of every statistic: {parts}."
    )


def _stored_family(root: Path) -> mirage.Family:
    """Two runs of three seeds stored as a sweep stores them, whose seed 1 diverged in the larger run only:
    its loss curve climbs from 2.9 to 8.2, as the lr-10 member of issue 18 did."""
    sweep = _tiny_sweep()
    store = ResultStore(root)
    started = pd.Timestamp.now(tz="UTC").to_pydatetime()
    seeds = [0, 1, 2]
    options = [np.array([0.0, -2.0]), np.array([-2.0, 0.0])]
    records, choices, large = [], [], []
    for spec, blows_up in zip(sweep.runs, (False, True)):
        training = pd.DataFrame({"seed": np.repeat(seeds, 2), "step": [3, 6] * 3, "loss": [2.9, 2.5] * 3})
        if blows_up:
            training.loc[(training["seed"] == 1) & (training["step"] == 6), "loss"] = 8.2
        write = {"profile": "quick", "device": "cpu", "started": started}
        store.write(f"{spec.sweep}/training", spec.params(), training, **write)
        records.append(
            store.write(
                f"{spec.sweep}/records",
                spec.params(),
                pd.concat([_length_records().assign(seed=s) for s in seeds], ignore_index=True),
                **write,
            )
        )
        choices.append(
            store.write(
                f"{spec.sweep}/choices",
                spec.params(),
                pd.DataFrame(
                    {"seed": np.repeat(seeds, 2), "component": 0, "correct": 0, "option_logprob": options * 3}
                ),
                **write,
            )
        )
        large.append(
            store.write(
                f"{spec.sweep}/large",
                spec.params(),
                pd.DataFrame(
                    {
                        "seed": np.repeat(seeds, 4),
                        "example": [0, 1, 2, 3] * 3,
                        "exact_match": [True, False, False, False] * 3,
                    }
                ),
                **write,
            )
        )
    return mirage.Family(sweep, "quick", records, choices, large)


def test_the_extra_tables_leave_out_a_diverged_member_and_say_so(tmp_path):
    family = _stored_family(tmp_path)
    small, large_run = (emergence.size_columns(spec)["d_model"] for spec in family.sweep.runs)
    note = _left_out(f"d_model {large_run}: 1 of 3")

    def seeds_by_size(frame: pd.DataFrame) -> dict[int, list[int]]:
        return {int(d): sorted(set(group["seed"])) for d, group in frame.groupby("d_model")}

    choices = mirage.choice_outcomes(family.sweep, family.records, family.choices)
    lengths = mirage.length_outcomes(family.sweep, family.records, ["add-1"])
    independent = mirage.independent_token_outcomes(family.sweep, family.records)
    large = mirage.large_test_set(family, n_resamples=50, confidence=0.95)
    for frame in (choices, lengths, independent, large.outcomes):
        assert seeds_by_size(frame) == {small: [0, 1, 2], large_run: [0, 2]}
        assert mirage.divergence_text(frame) == note
    assert large.summary.set_index("d_model")["trials"].to_dict() == {small: 12, large_run: 8}
    assert large.by_prompts.groupby("n_params")["trials"].max().tolist() == [12, 8], "the prompt prefixes too"
    outcomes = mirage.rescored_outcomes(family, choices)
    assert seeds_by_size(outcomes) == {small: [0, 1, 2], large_run: [0, 2]}
    assert mirage.large_text(large, "full").endswith(note)


def test_divergence_text_says_when_nothing_was_left_out():
    outcomes = pd.DataFrame({"d_model": [8, 8, 16], "seed": [0, 1, 0], "n_diverged": [0, 0, 0]})
    assert mirage.divergence_text(outcomes) == NO_DIVERGENCE
    assert mirage.divergence_text(outcomes.assign(n_diverged=[0, 0, 2])) == _left_out("d_model 16: 2 of 3")


# The sentences the chapter shows


def _sharpness(rows: list[tuple[str, str, str]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["task", "metric", "verdict"])


def test_sharpness_summary_names_the_metrics_of_every_verdict_and_counts_the_tasks():
    sharp = _sharpness(
        [
            ("a", "edit_distance", "sharper"),
            ("a", "token_accuracy", "sharper"),
            ("a", "log_likelihood", "smoother"),
            ("b", "edit_distance", "no clear difference"),
            ("b", "token_accuracy", "flat"),
            ("c", "edit_distance", "flat"),
        ]
    )
    assert mirage.sharpness_summary(sharp, "em") == (
        "- **`a`**: B under exact match is clearly higher than under token edit distance, per-token accuracy; "
        "clearly lower than under target log-likelihood (nats).\n"
        "- **`b`**: B under exact match is not clearly different from token edit distance; no B to compare with "
        "per-token accuracy (a flat curve).\n"
        "- **`c`**: no B to compare with token edit distance (a flat curve).\n\n"
        "In all, 1 of 3 tasks have a continuous metric whose B is clearly below that of exact match."
    )


def _swap(profile_sizes: int = 3) -> mirage.Swap:
    outcomes = pd.DataFrame({"task": "a", "d_model": [4, 4, 8], "seed": [0, 1, 0], "n_diverged": [0, 0, 1]})
    curves = pd.DataFrame({"task": "a", "metric": "em", "n_params": range(profile_sizes)})
    sharp = _sharpness([("a", "edit_distance", "sharper")])
    return mirage.Swap(outcomes, ("em", "edit_distance"), curves, pd.DataFrame(), sharp)


@pytest.mark.parametrize("profile", ["quick", "full"])
def test_rescoring_text_states_the_straight_line_b_the_verdicts_and_the_seeds_left_out(profile):
    caveat = f"\n\n{mirage.QUICK_CAVEAT}" if profile == "quick" else ""
    assert mirage.rescoring_text(_swap(), profile) == (
        f"**What the rescoring shows** ({profile} profile, 3 sizes, so a straight line scores B = 2):\n\n"
        "- **`a`**: B under exact match is clearly higher than under token edit distance.\n\n"
        "In all, 1 of 1 tasks have a continuous metric whose B is clearly below that of exact match."
        f"{caveat}\n\n{_left_out('d_model 8: 1 of 2')}"
    )


def test_choices_text_compares_grade_with_brier():
    swap = mirage.Swap(
        _swap().outcomes,
        ("grade", "brier"),
        pd.DataFrame(),
        pd.DataFrame(),
        _sharpness([("a", "brier", "no clear difference")]),
    )
    assert mirage.choices_text(swap, "full") == (
        "**What multiple choice shows** (full profile):\n\n"
        "- **`a`**: B under multiple-choice grade is not clearly different from Brier score.\n\n"
        "In all, 0 of 1 tasks have a continuous metric whose B is clearly below that of multiple-choice grade.\n\n"
        + _left_out("d_model 8: 1 of 2")
    )


def test_independence_summary_counts_sizes_clearly_above_and_below_p_to_the_l():
    table = pd.DataFrame(
        {
            "task": ["x"] * 3 + ["y"] * 2,
            "n_params": [10, 20, 30, 10, 20],
            "em": [0.1, 0.2, 0.5, 0.0, 0.3],
            "em_model": [0.2, 0.25, 0.4, 0.0, 0.3],
            "low": [-0.2, -0.1, 0.05, 0.0, -0.1],
            "high": [-0.01, 0.02, 0.2, 0.0, 0.1],
        }
    )
    outcomes = pd.DataFrame({"d_model": [4, 8], "seed": [0, 0], "n_diverged": [0, 0]})
    assert mirage.independence_text(outcomes, table, 0.9, "quick") == (
        "**Measured against p^L** (quick profile):\n\n"
        "- **`x`**: measured exact match is clearly above p^L at 1 of 3 sizes and clearly below at 1 (90% paired "
        "intervals); at the largest, 0.500 measured against 0.400 predicted.\n"
        "- **`y`**: measured exact match is clearly above p^L at 0 of 2 sizes and clearly below at 0 (90% paired "
        "intervals); at the largest, 0.300 measured against 0.300 predicted.\n\n" + NO_DIVERGENCE
    )


def _lengths(correct_small: list[int], correct_large: list[int]) -> pd.DataFrame:
    """One seed of two sizes answering two prompts of 2 tokens and two of 3 (4 and 6 answer tokens)."""
    return pd.DataFrame(
        {
            "d_model": [4, 4, 8, 8],
            "n_params": [100, 100, 400, 400],
            "flops": 1.0,
            "seed": 0,
            "target_len": [2, 3, 2, 3],
            "em": [0.5, 0.0, 0.5, 0.5],
            "edit_distance": [0.5, 1.0, 0.25, 0.5],
            "correct_tokens": [*correct_small, *correct_large],
            "tokens": [4, 6, 4, 6],
            "n_examples": 2,
            "n_diverged": 0,
        }
    )


def test_lengths_text_reads_the_largest_size_and_counts_sizes_that_follow_the_model():
    # p is 6/10 at the smaller size and 8/10 at the larger: p^2 = 0.64, p^3 = 0.512, 2(1-p) = 0.4, 3(1-p) = 0.6
    # there; the mean |em - p^L| is (0.14 + 0.216 + 0.14 + 0.012) / 4 = 0.127; ln(-ln p) against ln N has slope -0.597.
    assert mirage.lengths_text(_lengths([2, 4], [3, 5]), "full") == (
        "**What the lengths show** (full profile; target lengths 2, 3). Measured per-token accuracy goes from 0.60 "
        "at the smallest size to 0.80 at the largest. At the largest size exact match reads 0.500 at L = 2 "
        "(p^L = 0.640), 0.500 at L = 3 (p^L = 0.512), and edit distance 0.25 (L(1-p) = 0.40), 0.50 (L(1-p) = 0.60). "
        "Across the 2 sizes, exact match never rises with length for 2 and edit distance never falls with length "
        "for 2; the mean gap between measured exact match and p^L is 0.127. A power law fitted to the measured "
        "per-token accuracy, -ln p = (N/c)^alpha, gives alpha = -0.597 and c = 32.5. " + NO_DIVERGENCE
    )


@pytest.mark.parametrize(
    ("small", "large", "sentence"),
    [
        (
            [3, 5],
            [2, 4],
            "Per-token accuracy does not fall as a power law in size here (a fit of -ln p = (N/c)^alpha "
            "gives alpha = 0.597, not negative), so the mathematical model's smooth loss is not what these models show.",
        ),
        (
            [4, 6],
            [2, 4],
            "Per-token accuracy does not fall as a power law in size here (a fit of -ln p = (N/c)^alpha "
            "gives no usable exponent), so the mathematical model's smooth loss is not what these models show.",
        ),
    ],
)
def test_lengths_text_says_when_per_token_accuracy_is_no_power_law(small, large, sentence):
    text = mirage.lengths_text(_lengths(small, large), "quick")
    assert text.endswith(f"{sentence} {mirage.QUICK_CAVEAT} {NO_DIVERGENCE}")


def _large(verdicts: list[str], successes: list[int]) -> mirage.LargeTestSet:
    summary = pd.DataFrame(
        {
            "n_params": [1000, 20000, 300000][: len(verdicts)],
            "verdict": verdicts,
            "successes": successes,
            "trials": 4000,
            "em": [s / 4000 for s in successes],
            "cp_high": [0.0009, 0.002, 0.03][: len(verdicts)],
        }
    )
    outcomes = pd.DataFrame({"d_model": 4, "seed": [0, 1], "n_diverged": 0})
    return mirage.LargeTestSet("add-2", 0.0056, outcomes, summary, pd.DataFrame())


def test_large_text_counts_verdicts_and_names_the_first_size_above_chance_and_the_sizes_at_zero():
    text = mirage.large_text(
        _large(["below chance", "not distinguishable from chance", "above chance"], [0, 20, 100]), "full"
    )
    assert text == (
        "**What more data shows** (full profile): On `add-2` (chance 0.0056) the large test set puts 1 of 3 sizes "
        "above chance, 1 below it and 1 indistinguishable from it (both intervals must agree). The smallest size "
        "above chance has 300,000 parameters, at exact match 0.0250. 1 size(s) answer none of their 4,000 (prompt, "
        f"seed) pairs exactly; there the test set only bounds exact match below 0.0009. {NO_DIVERGENCE}"
    )


def test_large_text_when_no_size_is_above_chance_and_none_is_at_zero():
    text = mirage.large_text(_large(["below chance", "not distinguishable from chance"], [5, 20]), "quick")
    assert text == (
        "**What more data shows** (quick profile): On `add-2` (chance 0.0056) the large test set puts 0 of 2 sizes "
        "above chance, 1 below it and 1 indistinguishable from it (both intervals must agree). Every size answers "
        "some prompts exactly, so a test set this large resolves exact match at every size. "
        f"{mirage.QUICK_CAVEAT} {NO_DIVERGENCE}"
    )


def test_first_resolvable_is_the_smallest_model_above_one_over_n():
    model = mirage.model_curves(np.array([1e8, 1e9, 1e10]), c=1e8, alpha=-0.5, lengths=[1, 4], test_set_size=10)
    table = mirage.first_resolvable(model).data.set_index("length")
    # exact match of L = 4 is exp(-4) = 0.018 < 1/10 at 1e8 and exp(-4 / sqrt(10)) = 0.28 at 1e9
    assert table["smallest resolvable N"].to_dict() == {1: 1e8, 4: 1e9}
    assert table.loc[4, "p(token) there"] == pytest.approx(math.exp(-(10**-0.5)))
    with pytest.raises(ValueError, match="log10_params_min"):
        mirage.params_grid(3.0, 3.0)


def test_a_family_still_training_names_its_missing_runs_in_every_source_line(tmp_path):
    family = _stored_family(tmp_path)
    assert "not stored yet" not in family.sources()["records"]
    partial = dataclasses.replace(family, pending=2)
    assert partial.sources()["records"].endswith("with 1 smaller runs; 2 not stored yet")
