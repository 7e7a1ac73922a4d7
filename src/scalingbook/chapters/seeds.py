"""The Random seeds chapter (Zhao et al. 2025, "Random Scaling of Emergent Capabilities", Figs. 1-5).

Zhao et al. train many seeds at each scale and read the outcome distribution across seeds: a run
succeeds when its exact match exceeds 20% (Fig. 3); the success rate, the mode and the mean of the
successful runs move with scale; a distribution that is bimodal (Hartigan's dip test, or several KDE
peaks) marks the scales where some seeds break through and others do not. Each function takes the
seed-level table (one row per run: a scale column, a seed column and a value column, exact match or
a continuous loss-based error) and returns a tidy DataFrame (one row per scale, or per scale and
statistic) that the chapter's charts encode directly. The generic statistics are in
:mod:`scalingbook.analysis.stats`.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd
from scipy.signal import find_peaks

from scalingbook.analysis import metrics, stats

BimodalityRule = Literal["dip", "peaks", "both", "either"]


SUCCESS_THRESHOLD = 0.2  # Zhao et al. 2025, Fig. 3: a run succeeds when its exact match exceeds 20%


def success_probability(em: np.ndarray, axis: int = -1, threshold: float = SUCCESS_THRESHOLD) -> np.ndarray:
    """Fraction of runs whose exact match exceeds ``threshold`` (strictly): P(success), Zhao Fig. 3."""
    return np.mean(np.asarray(em) > threshold, axis=axis)


def mean_of_successful(em: np.ndarray, axis: int = -1, threshold: float = SUCCESS_THRESHOLD) -> np.ndarray:
    """Mean exact match of the successful runs only (EM > threshold); NaN where none succeeded.

    Zhao et al. 2025, Fig. 3: with :func:`success_probability` it splits the mean into how often a
    seed succeeds and how well successful seeds do, which is what exposes inverse scaling (Sec. 1.7).
    """
    em = np.asarray(em, dtype=np.float64)
    success = em > threshold
    with np.errstate(invalid="ignore"):
        return np.sum(np.where(success, em, 0.0), axis=axis) / np.sum(success, axis=axis)


def histogram_mode(values: np.ndarray, axis: int = -1, bins: int = 21) -> np.ndarray:
    """Mode of values on [0, 1]: the most populated of ``bins`` equally spaced points 0, ..., 1.

    Estimator (Zhao et al. 2025, Fig. 3 plot a "mode" without saying how): each value is rounded to
    the nearest grid point k / (bins - 1) and the most common point wins, ties going to the smallest.
    Exact match has atoms at 0 (every seed failing) and near 1, so a grid that contains 0 and 1
    reports those atoms exactly, which a bin centre (0.025) or a KDE argmax (whose Gaussian kernel
    leaks past the boundaries and moves with the bandwidth) would not; the histogram is also the one
    the reader sees (Fig. 2) and is cheap enough to bootstrap. The end points collect only a
    half-width bin each, a bias that matters for smooth densities, not for atoms.
    """
    values = np.moveaxis(np.asarray(values, dtype=np.float64), axis, -1)
    if np.any((values < 0) | (values > 1)):
        raise ValueError("values: the histogram mode is defined for values in [0, 1]")
    if bins < 2:
        raise ValueError(f"bins: expected at least 2 grid points, got {bins}")
    nearest = np.rint(values * (bins - 1)).astype(np.int64)
    counts = (nearest[..., None] == np.arange(bins)).sum(axis=-2)
    return np.argmax(counts, axis=-1) / (bins - 1)


def _by_scale(frame: pd.DataFrame, value: str, scale: str) -> list[tuple[float, np.ndarray]]:
    """(scale, values) pairs in increasing scale order, with the column names checked."""
    missing = [c for c in (value, scale) if c not in frame.columns]
    if missing:
        raise KeyError(f"frame: missing column(s) {missing}; has {list(frame.columns)}")
    groups = frame.groupby(scale, sort=True)
    return [(s, stats.finite_sample(group[value], f"{value} at {scale}={s}")) for s, group in groups]


def seed_summary(
    frame: pd.DataFrame,
    value: str = "em",
    scale: str = "scale",
    threshold: float = SUCCESS_THRESHOLD,
    n_resamples: int = 1000,
    confidence: float = 0.95,
    rng_seed: int = 0,
) -> pd.DataFrame:
    """Mean, mode, P(success) and mean of successful runs per scale, each with a bootstrap interval.

    Zhao et al. 2025, Fig. 3: the mode jumps while the mean moves continuously. Long format, columns
    ``scale, statistic, estimate, low, high, n_seeds``; every scale resamples with the same ``rng_seed``.
    """
    statistics: dict[str, stats.Statistic] = {
        "mean": np.mean,
        "mode": histogram_mode,
        "p_success": lambda x, axis: success_probability(x, axis, threshold),
        "mean_successful": lambda x, axis: mean_of_successful(x, axis, threshold),
    }
    rows = [
        {scale: s, "statistic": name, **stats.bootstrap_ci(v, fn, n_resamples, confidence, rng_seed)._asdict(),
         "n_seeds": v.size}
        for s, v in _by_scale(frame, value, scale)
        for name, fn in statistics.items()
    ]
    return pd.DataFrame(rows)


def kde_by_scale(
    frame: pd.DataFrame,
    value: str = "loss",
    scale: str = "scale",
    n_grid: int = 256,
    bw_method: str | float = "scott",
) -> pd.DataFrame:
    """Density of ``value`` across seeds at every scale, on one shared grid: columns ``scale, x, density``.

    Zhao et al. 2025, Fig. 4: a KDE of the continuous loss-based error per scale, to show whether
    bimodality under exact match persists under a continuous metric. A scale whose seeds all share
    one value is drawn as a normal density one grid step wide, so the shared grid still shows it.
    """
    groups = _by_scale(frame, value, scale)
    grid = stats.kde_grid([v for _, v in groups], n_grid, bw_method)
    step = grid[1] - grid[0]
    parts = [pd.DataFrame({scale: s, "x": grid, "density": stats.kde(v, grid, bw_method, step)}) for s, v in groups]
    return pd.concat(parts, ignore_index=True)


def count_kde_peaks(
    values: np.ndarray | pd.Series,
    min_prominence: float = 0.05,
    bw_method: str | float = "scott",
    n_grid: int = 512,
) -> int:
    """Number of peaks of the sample's KDE whose prominence is at least ``min_prominence`` x its maximum.

    The "several peaks" of Zhao et al. 2025, Fig. 5. Relative prominence (how far a peak stands above
    the valley separating it from a higher one, over the highest density) ignores wiggles of the
    kernel estimate while still seeing a small mode of successful seeds. The grid extends three
    bandwidths past the data, so a mode at the edge of the data (EM = 0) is an interior peak.
    """
    sample = stats.finite_sample(values)
    grid = stats.kde_grid([sample], n_grid, bw_method)
    density = stats.kde(sample, grid, bw_method)
    peaks, _ = find_peaks(density, prominence=min_prominence * density.max())
    return int(peaks.size)


def bimodality_by_scale(
    frame: pd.DataFrame,
    value: str = "em",
    scale: str = "scale",
    alpha: float = 0.05,
    min_prominence: float = 0.05,
    rule: BimodalityRule = "both",
    bw_method: str | float = "scott",
) -> pd.DataFrame:
    """Dip test and KDE peak count at every scale, and whether ``rule`` calls the scale multimodal.

    ``rule``: ``"dip"`` (p < alpha), ``"peaks"`` (two or more KDE peaks of relative prominence
    >= min_prominence), ``"both"`` (the default: a significant dip *and* visible peaks, so neither a
    kernel wiggle nor a test on heavily tied values alone marks a scale) or ``"either"``.
    Columns: ``scale, n_seeds, dip, p_value, n_peaks, multimodal``.
    """
    rows = []
    for s, v in _by_scale(frame, value, scale):
        dip, p_value = stats.dip_test(v)
        peaks = count_kde_peaks(v, min_prominence, bw_method)
        rows.append({scale: s, "n_seeds": v.size, "dip": dip, "p_value": p_value, "n_peaks": peaks,
                     "multimodal": _multimodal(p_value < alpha, peaks >= 2, rule)})
    return pd.DataFrame(rows)


def _multimodal(dip_rejects: bool, several_peaks: bool, rule: BimodalityRule) -> bool:
    verdicts = {"dip": dip_rejects, "peaks": several_peaks,
                "both": dip_rejects and several_peaks, "either": dip_rejects or several_peaks}
    if rule not in verdicts:
        raise ValueError(f"rule: expected one of {sorted(verdicts)}, got {rule!r}")
    return verdicts[rule]


def last_scale_before(scales: np.ndarray | pd.Series, event: np.ndarray | pd.Series) -> float | None:
    """The scale just before the first scale where ``event`` holds (scales in increasing order).

    Zhao et al. 2025, Fig. 5 place their markers on the last scale *before* an event. None when the
    event never happens in the grid, or already holds at its smallest scale (no scale precedes it).
    """
    scales, event = np.asarray(scales), np.asarray(event, dtype=bool)
    if scales.shape != event.shape or np.any(np.diff(scales) <= 0):
        raise ValueError("scales: expected strictly increasing scales, one per event flag")
    first = int(np.argmax(event))
    if not event[first] or first == 0:
        return None
    return scales[first - 1].item()


def bimodality_emergence(
    frame: pd.DataFrame,
    value: str = "em",
    scale: str = "scale",
    alpha: float = 0.05,
    min_prominence: float = 0.05,
    rule: BimodalityRule = "both",
    bw_method: str | float = "scott",
) -> float | None:
    """Zhao et al. 2025, Fig. 5 "emergence of bimodality": the last scale before several peaks appear.

    Multimodality per scale is decided by :func:`bimodality_by_scale` with the same parameters.
    See :func:`last_scale_before`.
    """
    table = bimodality_by_scale(frame, value, scale, alpha, min_prominence, rule, bw_method)
    return last_scale_before(table[scale], table["multimodal"])


def mode_breakthrough(
    frame: pd.DataFrame, value: str = "em", scale: str = "scale", threshold: float = SUCCESS_THRESHOLD
) -> float | None:
    """Zhao et al. 2025, Fig. 5 "mode breakthrough": the last scale before P(success) first exceeds 0.5.

    From there on a seed is more likely to succeed (EM > threshold) than to fail, which flips the
    mode of a bimodal population. See :func:`last_scale_before`.
    """
    groups = _by_scale(frame, value, scale)
    scales = np.array([s for s, _ in groups])
    more_likely = np.array([success_probability(v, threshold=threshold) > 0.5 for _, v in groups])
    return last_scale_before(scales, more_likely)


def wasserstein_to_reference(
    frame: pd.DataFrame,
    value: str = "em",
    scale: str = "scale",
    reference: float | None = None,
    p: float = 2.0,
) -> pd.DataFrame:
    """W_p of each scale's seed distribution to the reference scale's (default: the largest).

    Zhao et al. 2025, Fig. 5, computed separately for the depth and width axes (call once per axis).
    Columns: ``scale, distance``.
    """
    groups = dict(_by_scale(frame, value, scale))
    target = max(groups) if reference is None else reference
    if target not in groups:
        raise ValueError(f"reference: scale {target!r} is not in the {scale!r} column")
    distances = [stats.wasserstein(v, groups[target], p) for v in groups.values()]
    return pd.DataFrame({scale: list(groups), "distance": distances})


def seed_shape_scores(
    frame: pd.DataFrame,
    value: str = "em",
    scale: str = "scale",
    seed: str = "seed",
    clip: float | None = None,
) -> pd.DataFrame:
    """Breakthroughness B and linearity L of every seed's curve across scales (Zhao et al. 2025, Fig. 1).

    See :func:`scalingbook.analysis.metrics.breakthroughness` for B's zero-denominator rule and ``clip``.
    Every seed must have a value at every scale. Columns: ``seed, B, L, improvement, jump_from,
    jump_to``, where ``improvement`` is the signed range I(y) and the jump is the largest step in the
    direction of improvement: the histograms just before and after it are the ones Fig. 1 shows.
    """
    curves = frame.pivot(index=seed, columns=scale, values=value).sort_index(axis=1)
    if curves.isna().any().any():
        incomplete = curves.index[curves.isna().any(axis=1)].tolist()
        raise ValueError(f"frame: seeds {incomplete[:10]} lack a {value!r} value at some {scale!r}")
    y = curves.to_numpy(dtype=np.float64)
    improvement = metrics.signed_improvement(y)
    jump = np.argmax(np.diff(y, axis=1) * np.where(improvement < 0, -1.0, 1.0)[:, None], axis=1)
    scales = curves.columns.to_numpy()
    return pd.DataFrame({
        seed: curves.index.to_numpy(),
        "B": metrics.breakthroughness(y, clip=clip),
        "L": metrics.linearity(y),
        "improvement": improvement,
        "jump_from": scales[jump],
        "jump_to": scales[jump + 1],
    })


def top_seeds(
    scores: pd.DataFrame, by: Literal["B", "L"] = "B", k: int = 1, seed: str = "seed"
) -> pd.DataFrame:
    """The ``k`` seeds with the highest B (or L), as in Zhao et al. 2025, Fig. 1 (their seeds 93 and 205).

    Ties, common for B, which is infinite for every clean step, go to the larger improvement,
    then to the smaller seed id, so the choice is deterministic.
    """
    if by not in ("B", "L"):
        raise ValueError(f"by: expected 'B' or 'L', got {by!r}")
    ordered = scores.sort_values([by, "improvement", seed], ascending=[False, False, True], kind="stable")
    return ordered.head(k).reset_index(drop=True)
