"""Per-example metrics on stored model outputs, and the two curve-shape scores L and B.

The Mirage chapter rescores one set of outputs under several metrics (Schaeffer, Miranda and Koyejo
2023, Sec. 2-4), and the seeds chapter scores each seed's curve across scales (Zhao et al. 2025,
Fig. 1). Every per-example function here takes a batch and returns one value per example, so a
caller aggregates (mean over a test set, bootstrap over seeds) however it needs.

Token sequences may be given as a 2-D integer array (every row full length) or as any sequence of
1-D sequences of token ids of varying length, such as a pandas column of lists or arrays.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np

TokenBatch = np.ndarray | Sequence[Sequence[int]] | Sequence[np.ndarray]
ScoreBatch = np.ndarray | Sequence[Sequence[float]] | Sequence[np.ndarray]


def _padded(rows: TokenBatch | ScoreBatch, name: str, fill: float = 0) -> tuple[np.ndarray, np.ndarray]:
    """A ragged batch as a right-padded 2-D array and the true length of each row.

    The pad value never matters to a caller: every function below masks by the lengths.
    """
    if isinstance(rows, np.ndarray) and rows.dtype != object:
        if rows.ndim != 2:
            raise ValueError(f"{name}: expected a 2-D array or a sequence of 1-D sequences, got {rows.shape}")
        return rows, np.full(rows.shape[0], rows.shape[1], dtype=np.int64)
    arrays = [np.asarray(row) for row in rows]
    if any(a.ndim != 1 for a in arrays):
        raise ValueError(f"{name}: every row must be a 1-D sequence")
    lengths = np.array([a.size for a in arrays], dtype=np.int64)
    flat = np.concatenate(arrays) if arrays else np.empty(0)
    out = np.full((len(arrays), int(lengths.max(initial=0))), fill, dtype=np.result_type(flat, type(fill)))
    out[np.arange(out.shape[1]) < lengths[:, None]] = flat
    return out, lengths


def _check_batch_sizes(**lengths: np.ndarray) -> None:
    sizes = {name: len(value) for name, value in lengths.items()}
    if len(set(sizes.values())) > 1:
        raise ValueError(f"batches differ in number of examples: {sizes}")


def _widen(a: np.ndarray, width: int) -> np.ndarray:
    """Right-pad a 2-D array with zeros to ``width`` columns (masked out by the callers)."""
    return np.pad(a, ((0, 0), (0, width - a.shape[1])))


def exact_match(predictions: TokenBatch, targets: TokenBatch) -> np.ndarray:
    """1.0 where the prediction equals the target token for token (same length), else 0.0.

    Zhao et al. 2025: a run's EM is the mean of this over the test set;
    BIG-bench's ``exact_str_match`` at the token level. Schaeffer et al. 2023 (Sec. 2) call it the
    nonlinear metric that makes smooth per-token progress look emergent.
    """
    pred, pred_len = _padded(predictions, "predictions")
    targ, targ_len = _padded(targets, "targets")
    _check_batch_sizes(predictions=pred_len, targets=targ_len)
    width = max(pred.shape[1], targ.shape[1])
    inside = np.arange(width) < targ_len[:, None]
    same = (_widen(pred, width) == _widen(targ, width)) | ~inside
    return ((pred_len == targ_len) & same.all(axis=1)).astype(np.float64)


def token_accuracy(hits: ScoreBatch) -> np.ndarray:
    """Fraction of each target's tokens the model gets right, from per-token hits (teacher forcing).

    Schaeffer et al. 2023, Sec. 2: the estimate of p(single token correct), the quantity that moves
    smoothly with scale and whose L-th power predicts exact match. ``hits`` are the stored
    ``tf_correct`` arrays (:func:`scalingbook.lab.evaluate.teacher_forced`): each target token judged
    given the right prefix. A positional match on a free-running output would instead mark every
    token after a dropped or inserted one wrong, which is the all-or-nothing behaviour the smooth
    metric is meant to avoid.
    """
    values, lengths = _padded(hits, "hits", fill=0)
    if np.any(lengths == 0):
        raise ValueError("hits: per-token accuracy needs targets of at least one token")
    inside = np.arange(values.shape[1]) < lengths[:, None]
    return np.where(inside, values.astype(np.float64), 0.0).sum(axis=1) / lengths


def token_edit_distance(predictions: TokenBatch, targets: TokenBatch) -> np.ndarray:
    """Levenshtein distance between token sequences: fewest insertions, deletions, substitutions.

    Schaeffer et al. 2023, Sec. 2-3: "token edit distance", the linear metric under which the
    arithmetic outputs that look emergent under exact match improve smoothly.

    Computed for the whole batch at once, one DP row per prediction position. A row
    ``D[i, j] = min(D[i-1, j] + 1, D[i-1, j-1] + cost, D[i, j-1] + 1)`` has a left-to-right
    dependency; writing ``t[j]`` for the first two terms gives ``D[i, j] = min_k<=j (t[k] + j - k)``,
    a running minimum of ``t[k] - k``, which numpy does in one call. Examples are sorted by
    prediction length so the rows still in play are always a prefix of the batch.
    """
    pred, pred_len = _padded(predictions, "predictions")
    targ, targ_len = _padded(targets, "targets")
    _check_batch_sizes(predictions=pred_len, targets=targ_len)
    order = np.argsort(-pred_len, kind="stable")
    pred, pred_len, targ, targ_len = pred[order], pred_len[order], targ[order], targ_len[order]
    distance = np.empty(len(order), dtype=np.int64)
    distance[pred_len == 0] = targ_len[pred_len == 0]
    columns = np.arange(targ.shape[1] + 1, dtype=np.int32)
    row = np.broadcast_to(columns, (len(order), columns.size)).copy()
    for i in range(1, pred.shape[1] + 1):
        active = int(np.count_nonzero(pred_len >= i))
        row = _next_dp_row(row[:active], pred[:active, i - 1], targ[:active], i, columns)
        ends = np.flatnonzero(pred_len[:active] == i)
        distance[ends] = row[ends, targ_len[ends]]
    result = np.empty_like(distance)
    result[order] = distance
    return result


def _next_dp_row(row: np.ndarray, token: np.ndarray, targ: np.ndarray, i: int, columns: np.ndarray) -> np.ndarray:
    """Levenshtein row i from row i-1, for a batch (see :func:`token_edit_distance`)."""
    best = np.empty_like(row)
    best[:, 0] = i
    np.minimum(row[:, :-1] + (token[:, None] != targ), row[:, 1:] + 1, out=best[:, 1:])
    return np.minimum.accumulate(best - columns, axis=1) + columns


def target_log_likelihood(token_log_probs: ScoreBatch, reduction: Literal["sum", "mean"] = "sum") -> np.ndarray:
    """Log-likelihood of each target from its per-token log-probabilities (teacher forcing).

    ``"sum"`` is log p(target) = sum_t log p(y_t | y_<t), the continuous score Schaeffer et al. 2023
    (Sec. 2) start from (L_CE = -log p); ``"mean"`` divides by the target length, the per-token
    form whose negative is the loss-based continuous error of Zhao et al. 2025 (Fig. 4), which does
    not depend on target length.
    """
    values, lengths = _padded(token_log_probs, "token_log_probs", fill=0.0)
    values = values.astype(np.float64)
    mask = np.arange(values.shape[1]) < lengths[:, None]
    if np.any(values[mask] > 1e-6):
        raise ValueError("token_log_probs: log-probabilities must be <= 0 (got probabilities or losses?)")
    total = np.where(mask, values, 0.0).sum(axis=1)
    if reduction == "sum":
        return total
    if reduction == "mean":
        if np.any(lengths == 0):
            raise ValueError("token_log_probs: a per-token mean needs targets of at least one token")
        return total / lengths
    raise ValueError(f"reduction: expected 'sum' or 'mean', got {reduction!r}")


def _options(
    option_values: ScoreBatch, correct: Sequence[int] | np.ndarray, fill: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Options as a padded float array, their counts, and validated correct-option indices."""
    values, counts = _padded(option_values, "option scores", fill=fill)
    values = np.where(np.arange(values.shape[1]) < counts[:, None], values.astype(np.float64), fill)
    answer = np.asarray(correct)
    _check_batch_sizes(options=counts, correct=answer)
    if answer.ndim != 1 or not np.issubdtype(answer.dtype, np.integer):
        raise ValueError("correct: expected a 1-D array of integer option indices")
    if np.any((answer < 0) | (answer >= counts)):
        raise ValueError("correct: an index is outside its example's options")
    return values, counts, answer


def multiple_choice_grade(option_scores: ScoreBatch, correct: Sequence[int] | np.ndarray) -> np.ndarray:
    """1.0 where the correct option has the highest score (e.g. log-likelihood), else 0.0.

    BIG-bench ``multiple_choice_grade`` (Srivastava et al. 2022); Schaeffer et al. 2023, Sec. 4 and
    Fig. 6: the discontinuous metric behind most claimed emergent abilities. Ties go to the
    first-listed option (``argmax``), so a model indifferent between options is not credited with
    a later correct one. Examples may have different numbers of options.
    """
    scores, _, answer = _options(option_scores, correct, fill=-np.inf)
    return (np.argmax(scores, axis=1) == answer).astype(np.float64)


def option_probabilities(option_log_likelihoods: ScoreBatch) -> list[np.ndarray]:
    """Softmax of each example's option log-likelihoods: the model's probability of each option.

    Schaeffer et al. 2023, Sec. 4 (Fig. 6), score LaMDA's options by these normalised
    probabilities under the Brier score; this turns stored option log-likelihoods into them.
    """
    scores, counts = _padded(option_log_likelihoods, "option_log_likelihoods", fill=-np.inf)
    scores = np.where(np.arange(scores.shape[1]) < counts[:, None], scores.astype(np.float64), -np.inf)
    shifted = np.exp(scores - scores.max(axis=1, keepdims=True))
    probs = shifted / shifted.sum(axis=1, keepdims=True)
    return [p[:n] for p, n in zip(probs, counts)]


def brier_score(option_probs: ScoreBatch, correct: Sequence[int] | np.ndarray) -> np.ndarray:
    """Multi-class Brier score: sum over options of (p_k - 1[k is correct])^2, per example.

    Brier (1950); BIG-bench ``calibration_multiple_choice_brier_score`` ("squared error between
    model assigned probabilities and 0, 1 targets across classes"), the continuous metric under
    which Schaeffer et al. 2023 (Fig. 6) find LaMDA's multiple-choice emergence disappears. Lower is
    better: 0 for certainty on the right option, 2 for certainty on a wrong one. Each row of
    probabilities must sum to 1 (see :func:`option_probabilities`).
    """
    probs, _, answer = _options(option_probs, correct, fill=0.0)
    if np.any(probs < 0) or not np.allclose(probs.sum(axis=1), 1.0, atol=1e-6):
        raise ValueError("option_probs: each example's probabilities must be >= 0 and sum to 1")
    onehot = np.arange(probs.shape[1]) == answer[:, None]
    return ((probs - onehot) ** 2).sum(axis=1)


def _sorted_curves(y: np.ndarray, x: np.ndarray | None) -> np.ndarray:
    """Curves along the last axis, ordered by increasing scale x, validated."""
    y = np.asarray(y, dtype=np.float64)
    if y.ndim == 0 or y.shape[-1] < 2:
        raise ValueError("y: a curve needs at least two scales along its last axis")
    if not np.all(np.isfinite(y)):
        raise ValueError("y: every performance value must be finite")
    if x is None:
        return y
    x = np.asarray(x, dtype=np.float64)
    if x.shape != (y.shape[-1],):
        raise ValueError(f"x: expected one scale per point, shape {(y.shape[-1],)}, got {x.shape}")
    return y[..., np.argsort(x, kind="stable")]


def signed_improvement(y: np.ndarray, x: np.ndarray | None = None) -> np.ndarray:
    """I(y) = sign(argmax y - argmin y) * (max y - min y): the numerator of L and B.

    Srivastava et al. 2022 (BIG-bench), Sec. 3.4 and App. B; Schaeffer et al. 2023, Eq. 1. Positive
    when the best score comes at a larger scale than the worst. Ties resolve to the first (smallest)
    scale reaching the extreme, as ``argmax`` does.
    """
    y = _sorted_curves(y, x)
    direction = np.sign(np.argmax(y, axis=-1) - np.argmin(y, axis=-1))
    return direction * (y.max(axis=-1) - y.min(axis=-1))


def _shape_score(y: np.ndarray, x: np.ndarray | None, denominator: np.ndarray) -> np.ndarray:
    """I(y) / denominator with the zero-denominator rule of :func:`breakthroughness`."""
    numerator = signed_improvement(y, x)
    with np.errstate(divide="ignore", invalid="ignore"):
        score = numerator / denominator
    return np.where(numerator == 0, 0.0, score)


def linearity(y: np.ndarray, x: np.ndarray | None = None) -> np.ndarray:
    """BIG-bench linearity L = I(y) / sqrt(mean((y_{i+1} - y_i)^2)), points ordered by scale.

    Srivastava et al. 2022, Sec. 3.4 (BIG-bench): high when performance improves in steps
    of similar size. A perfectly linear curve of n points gives n - 1; a single step gives
    sqrt(n - 1). The root-mean-square is zero only for a flat curve, where I(y) = 0 too: L is 0.
    Curves lie along the last axis, so a (seeds, scales) array gives one L per seed (Zhao et al.
    2025, Fig. 1); ``x`` (one scale per column) reorders columns into increasing scale.
    """
    steps = np.diff(_sorted_curves(y, x), axis=-1)
    return _shape_score(y, x, np.sqrt(np.mean(steps**2, axis=-1)))


def breakthroughness(y: np.ndarray, x: np.ndarray | None = None, clip: float | None = None) -> np.ndarray:
    """BIG-bench breakthroughness B = I(y) / sqrt(median((y_{i+1} - y_i)^2)); Schaeffer's Emergence Score.

    Srivastava et al. 2022, Sec. 3.4; Schaeffer et al. 2023, Eq. 1 (the same formula, points sorted
    by increasing scale); Zhao et al. 2025 compute it per seed. The median ignores a few large steps,
    so B is large when most steps are small and the improvement comes in a few jumps.

    Zero denominator (half or more of the steps are exactly 0), a case BIG-bench's definition leaves
    open, so it is stated here: B = sign(I) * inf when the curve changes at all, and 0 for a flat curve (I = 0: no
    improvement, nothing broke through). ``clip`` bounds B to [-clip, clip], which keeps steps and
    infinities orderable and plottable; infinities are returned when it is None. A perfectly linear
    curve of n points gives n - 1.
    """
    steps = np.diff(_sorted_curves(y, x), axis=-1)
    score = _shape_score(y, x, np.sqrt(np.median(steps**2, axis=-1)))
    if clip is None:
        return score
    if clip <= 0:
        raise ValueError(f"clip: expected a positive bound, got {clip}")
    return np.clip(score, -clip, clip)
