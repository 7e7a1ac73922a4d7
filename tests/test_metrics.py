"""Per-example metrics and the curve-shape scores L and B against hand-computed values."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scalingbook.analysis import metrics

tokens = st.lists(st.integers(0, 4), max_size=8)


def reference_levenshtein(a: list[int], b: list[int]) -> int:
    """Textbook two-row dynamic programme, the oracle for the batched version."""
    previous = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        current = [i]
        for j, y in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (x != y)))
        previous = current
    return previous[-1]


def ids(text: str) -> list[int]:
    return [ord(c) for c in text]


# exact match, per-token accuracy


def test_exact_match_needs_equal_length_and_tokens() -> None:
    predictions = [[1, 2, 3], [1, 2], [1, 2, 3, 4], [1, 2, 4], []]
    targets = [[1, 2, 3], [1, 2, 3], [1, 2, 3], [1, 2, 3], []]
    np.testing.assert_array_equal(metrics.exact_match(predictions, targets), [1, 0, 0, 0, 1])


def test_exact_match_on_dataframe_columns_and_2d_arrays() -> None:
    frame = pd.DataFrame({"pred": [np.array([5, 6]), np.array([5])], "target": [[5, 6], [5, 7]]})
    np.testing.assert_array_equal(metrics.exact_match(frame["pred"], frame["target"]), [1, 0])
    fixed = metrics.exact_match(np.array([[1, 2], [3, 4]]), np.array([[1, 2], [3, 5]]))
    np.testing.assert_array_equal(fixed, [1, 0])


def test_exact_match_rejects_batches_of_different_sizes() -> None:
    with pytest.raises(ValueError, match="differ in number of examples"):
        metrics.exact_match([[1]], [[1], [2]])


def test_token_accuracy_is_the_share_of_hits_per_target() -> None:
    hits = [np.array([True, True, False]), [False, True], np.array([True])]
    np.testing.assert_allclose(metrics.token_accuracy(hits), [2 / 3, 1 / 2, 1])
    np.testing.assert_allclose(metrics.token_accuracy(np.array([[1, 0], [0, 0]], dtype=bool)), [0.5, 0])


def test_token_accuracy_rejects_empty_targets() -> None:
    with pytest.raises(ValueError, match="at least one token"):
        metrics.token_accuracy([[True], []])


# token edit distance


def test_edit_distance_hand_cases() -> None:
    predictions = [ids("kitten"), ids("flaw"), [], ids("abc"), ids("abc")]
    targets = [ids("sitting"), ids("lawn"), ids("abc"), [], ids("abc")]
    np.testing.assert_array_equal(metrics.token_edit_distance(predictions, targets), [3, 2, 3, 3, 0])


def test_edit_distance_keeps_the_input_order_of_a_ragged_batch() -> None:
    rng = np.random.default_rng(0)
    ragged = [rng.integers(0, 3, rng.integers(0, 12)).tolist() for _ in range(600)]
    pairs = list(zip(ragged[::2], ragged[1::2]))
    got = metrics.token_edit_distance(pd.Series([a for a, _ in pairs]), pd.Series([b for _, b in pairs]))
    np.testing.assert_array_equal(got, [reference_levenshtein(a, b) for a, b in pairs])


@settings(max_examples=150, deadline=None)
@given(tokens, tokens, tokens)
def test_edit_distance_is_a_metric_bounded_by_length(a: list[int], b: list[int], c: list[int]) -> None:
    ab, ba, ac, bc = metrics.token_edit_distance([a, b, a, b], [b, a, c, c])
    assert ab == ba == reference_levenshtein(a, b)
    assert (ab == 0) == (a == b)
    assert abs(len(a) - len(b)) <= ab <= max(len(a), len(b))
    assert ac <= ab + bc


# log-likelihood


def test_target_log_likelihood_sum_and_mean_on_ragged_targets() -> None:
    log_probs = [[-1.0, -2.0, -3.0], [-0.5], [0.0, 0.0]]
    np.testing.assert_allclose(metrics.target_log_likelihood(log_probs), [-6.0, -0.5, 0.0])
    np.testing.assert_allclose(metrics.target_log_likelihood(log_probs, "mean"), [-2.0, -0.5, 0.0])
    np.testing.assert_allclose(metrics.target_log_likelihood(np.log([[0.5, 0.5]]), "mean"), [np.log(0.5)])


def test_target_log_likelihood_rejects_probabilities_and_unknown_reductions() -> None:
    with pytest.raises(ValueError, match="<= 0"):
        metrics.target_log_likelihood([[0.9, 0.8]])
    with pytest.raises(ValueError, match="reduction"):
        metrics.target_log_likelihood([[-1.0]], "median")  # type: ignore[arg-type]


# multiple choice


def test_multiple_choice_grade_with_ragged_options_and_ties() -> None:
    scores = [[-1.0, -0.5, -3.0], [-2.0, -1.0], [-1.0, -1.0], [-4.0, -1.0, -2.0, -3.0]]
    np.testing.assert_array_equal(metrics.multiple_choice_grade(scores, [1, 0, 1, 1]), [1, 0, 0, 1])


def test_multiple_choice_rejects_an_answer_outside_the_options() -> None:
    with pytest.raises(ValueError, match="outside"):
        metrics.multiple_choice_grade([[0.0, 1.0]], [2])


def test_option_probabilities_is_a_softmax_per_example() -> None:
    probs = metrics.option_probabilities([np.log([1.0, 3.0]), np.log([2.0, 2.0, 4.0])])
    np.testing.assert_allclose(probs[0], [0.25, 0.75])
    np.testing.assert_allclose(probs[1], [0.25, 0.25, 0.5])


def test_brier_score_hand_cases() -> None:
    probs = [[1.0, 0.0], [0.0, 1.0], [0.25, 0.25, 0.25, 0.25], [0.5, 0.5]]
    np.testing.assert_allclose(metrics.brier_score(probs, [0, 0, 2, 1]), [0.0, 2.0, 0.75, 0.5])


def test_brier_score_rejects_unnormalised_rows() -> None:
    with pytest.raises(ValueError, match="sum to 1"):
        metrics.brier_score([[0.5, 0.6]], [0])


# linearity and breakthroughness


@pytest.mark.parametrize("n", [2, 3, 7, 20])
def test_perfectly_linear_curve_gives_n_minus_one(n: int) -> None:
    y = 3.0 + 2.5 * np.arange(n)
    assert metrics.linearity(y) == pytest.approx(n - 1)
    assert metrics.breakthroughness(y) == pytest.approx(n - 1)
    assert metrics.breakthroughness(y[::-1]) == pytest.approx(-(n - 1))


def test_step_gives_root_n_minus_one_and_infinite_b() -> None:
    step = np.array([0, 0, 0, 0, 60, 60, 60.0])
    assert metrics.linearity(step) == pytest.approx(np.sqrt(6))
    assert metrics.breakthroughness(step) == np.inf
    assert metrics.breakthroughness(-step) == -np.inf
    assert metrics.breakthroughness(step, clip=100.0) == 100.0


def test_jump_with_noise_matches_papers_table() -> None:
    y = np.array([0, 1, 0, 2, 60, 61, 60.0])
    assert metrics.signed_improvement(y) == 61
    assert metrics.breakthroughness(y) == pytest.approx(61)
    assert metrics.linearity(y) == pytest.approx(61 / np.sqrt(3372 / 6))


def test_flat_curve_scores_zero() -> None:
    assert metrics.linearity(np.full(5, 0.3)) == 0
    assert metrics.breakthroughness(np.full(5, 0.3)) == 0


def test_curves_are_ordered_by_scale_and_batched_over_rows() -> None:
    x = np.array([1e6, 1e4, 1e5])
    y = np.array([[3.0, 1.0, 2.0], [0.0, 0.0, 0.0]])
    np.testing.assert_allclose(metrics.linearity(y, x), [2.0, 0.0])
    np.testing.assert_allclose(metrics.breakthroughness(y, x), [2.0, 0.0])


def test_shape_scores_reject_short_or_missing_curves() -> None:
    with pytest.raises(ValueError, match="at least two"):
        metrics.linearity(np.array([1.0]))
    with pytest.raises(ValueError, match="finite"):
        metrics.breakthroughness(np.array([1.0, np.nan, 2.0]))
    with pytest.raises(ValueError, match="x:"):
        metrics.linearity(np.array([1.0, 2.0]), np.array([1.0, 2.0, 3.0]))


curves = st.lists(st.integers(-50, 50), min_size=2, max_size=12).map(lambda v: np.array(v, dtype=np.float64))


@settings(max_examples=150, deadline=None)
@given(curves, st.floats(0.1, 10), st.floats(-5, 5))
def test_shape_scores_ignore_affine_rescaling(y: np.ndarray, a: float, c: float) -> None:
    for score in (metrics.linearity, metrics.breakthroughness):
        assert score(a * y + c) == pytest.approx(score(y), rel=1e-6)
        assert score(-a * y + c) == pytest.approx(-score(y), rel=1e-6)


@settings(max_examples=150, deadline=None)
@given(curves)
def test_linearity_is_bounded_by_n_minus_one(y: np.ndarray) -> None:
    assert abs(metrics.linearity(y)) <= y.size - 1 + 1e-9
