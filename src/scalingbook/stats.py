"""Statistics of a population of seeds across scales (Zhao et al. 2025, "Random Scaling of Emergent
Capabilities", Figs. 1-5; PAPERS.md Sec. 1.6 and 1.10).

The unit of every resampling here is the seed: a run is one (seed, scale) pair, and the seed-level
table has one row per run with a scale column, a seed column and a value column (exact match, or a
continuous loss-based error). Functions that summarise across scales return tidy DataFrames (one row
per scale, or per scale and statistic) so charts can encode columns directly.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Literal, NamedTuple

import diptest
import numpy as np
import pandas as pd
from scipy.signal import find_peaks
from scipy.stats import beta, gaussian_kde, norm

from scalingbook import metrics
from scalingbook.results import Result

Statistic = Callable[..., np.ndarray]
BimodalityRule = Literal["dip", "peaks", "both", "either"]

SUCCESS_THRESHOLD = 0.2  # Zhao et al. 2025, Fig. 3: a run succeeds when its exact match exceeds 20%


class Interval(NamedTuple):
    """A point estimate with the ends of its confidence interval."""

    estimate: float
    low: float
    high: float


class DipResult(NamedTuple):
    """Hartigan's dip statistic and its p-value under the null of unimodality."""

    dip: float
    p_value: float


def _sample(values: np.ndarray | pd.Series, name: str = "values") -> np.ndarray:
    """A 1-D float sample with no missing values."""
    sample = np.asarray(values, dtype=np.float64)
    if sample.ndim != 1 or sample.size == 0:
        raise ValueError(f"{name}: expected a non-empty 1-D sample, got shape {sample.shape}")
    if not np.all(np.isfinite(sample)):
        raise ValueError(f"{name}: every value must be finite")
    return sample


def bootstrap_ci(
    values: np.ndarray | pd.Series,
    statistic: Statistic = np.mean,
    n_resamples: int = 1000,
    confidence: float = 0.95,
    rng_seed: int | np.random.Generator = 0,
) -> Interval:
    """Percentile bootstrap interval of ``statistic`` over a sample of seeds.

    Zhao et al. 2025, Fig. 3: 95% intervals from 1,000 bootstrap resamples, the seed being the unit
    resampled. All resamples are drawn as one (n_resamples, n) index array, so ``statistic`` must
    accept an ``axis`` keyword and reduce along it (``np.mean``, :func:`success_probability`, ...).
    ``rng_seed`` (an int or a Generator) makes the intervals reproducible. Resamples where the
    statistic is undefined (NaN, e.g. the mean of successful runs when a resample has none) are
    left out of the percentiles.
    """
    sample = _sample(values)
    if not 0 < confidence < 1:
        raise ValueError(f"confidence: expected a level in (0, 1), got {confidence}")
    if n_resamples < 1:
        raise ValueError(f"n_resamples: expected a positive count, got {n_resamples}")
    picks = np.random.default_rng(rng_seed).integers(0, sample.size, size=(n_resamples, sample.size))
    resamples = sample[picks]
    replicates = np.asarray(statistic(resamples, axis=-1), dtype=np.float64)
    estimate = float(statistic(sample, axis=-1))
    if np.all(np.isnan(replicates)):
        return Interval(estimate, np.nan, np.nan)
    tail = 100 * (1 - confidence) / 2
    low, high = np.nanpercentile(replicates, [tail, 100 - tail])
    return Interval(estimate, float(low), float(high))


def paired_bootstrap(
    curves: list[np.ndarray],
    statistic: Callable[..., np.ndarray],
    n_resamples: int = 1000,
    confidence: float = 0.95,
    rng_seed: int | np.random.Generator = 0,
    method: str = "linear",
) -> Interval:
    """Percentile bootstrap over seeds of a statistic of several mean curves measured on the same seeds.

    Each array of ``curves`` is (seeds, scales), row i the same seed in every array: one family scored
    under two metrics, or two families trained from the same seeds. A resample draws seeds with
    replacement, the same rows for every array, averages each array over them (NaN, a run left out,
    is skipped) and hands the mean curves, each (n_resamples, scales), to ``statistic``, which returns
    one value per resample. Drawing the seeds jointly keeps a seed's luck on both sides of a
    difference, so the interval of "B under exact match minus B under edit distance" or "scratchpad
    minus direct" is the interval of the claim itself (Zhao et al. 2025 resample seeds the same way).
    The estimate is the statistic of the mean curves over all seeds; resamples where it is NaN are
    left out of the percentiles. ``method`` is numpy's percentile method: ``"nearest"`` keeps a
    statistic that takes a few discrete values (a model size, or inf for "never") on those values.
    """
    arrays = [np.asarray(c, dtype=np.float64) for c in curves]
    if not arrays or any(a.ndim != 2 or a.shape[0] != arrays[0].shape[0] for a in arrays):
        raise ValueError("curves: expected (seeds, scales) arrays with the same seeds (rows) in each")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence: expected a level in (0, 1), got {confidence}")
    if n_resamples < 1:
        raise ValueError(f"n_resamples: expected a positive count, got {n_resamples}")
    picks = np.random.default_rng(rng_seed).integers(0, arrays[0].shape[0], size=(n_resamples, arrays[0].shape[0]))
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a resample of only left-out runs at a scale: NaN
        replicates = np.asarray(statistic(*(np.nanmean(a[picks], axis=1) for a in arrays)), dtype=np.float64)
        estimate = float(np.asarray(statistic(*(np.nanmean(a, axis=0)[None, :] for a in arrays))).reshape(-1)[0])
    if np.all(np.isnan(replicates)):
        return Interval(estimate, np.nan, np.nan)
    tail = 100 * (1 - confidence) / 2
    low, high = np.nanpercentile(replicates, [tail, 100 - tail], method=method)
    return Interval(estimate, float(low), float(high))


def clopper_pearson(
    successes: np.ndarray | int, trials: np.ndarray | int, confidence: float = 0.95
) -> tuple[np.ndarray, np.ndarray]:
    """Exact (Clopper-Pearson) interval of a binomial proportion: ``(low, high)``, elementwise.

    Clopper & Pearson (1934): the ends are quantiles of Beta distributions, ``low = Beta(a/2; k, n-k+1)``
    and ``high = Beta(1 - a/2; k+1, n-k)`` with ``a = 1 - confidence``, and ``low = 0`` when
    ``k = 0``, ``high = 1`` when ``k = n``. It never undercovers, so with no success in n trials it
    still says how large the rate could be (about 3.7/n at 95%): the resolution limit of a test set
    (Schaeffer et al. 2023, App. A and Fig. 4).
    """
    k = np.asarray(successes, dtype=np.float64)
    n = np.asarray(trials, dtype=np.float64)
    if not 0 < confidence < 1:
        raise ValueError(f"confidence: expected a level in (0, 1), got {confidence}")
    if np.any(n < 1) or np.any(k < 0) or np.any(k > n) or np.any(k != np.round(k)) or np.any(n != np.round(n)):
        raise ValueError("successes, trials: expected whole counts with 0 <= successes <= trials and trials >= 1")
    tail = (1 - confidence) / 2
    with np.errstate(invalid="ignore"):
        low = np.where(k == 0, 0.0, beta.ppf(tail, k, n - k + 1))
        high = np.where(k == n, 1.0, beta.ppf(1 - tail, k + 1, n - k))
    return low, high


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
    return [(s, _sample(group[value], f"{value} at {scale}={s}")) for s, group in groups]


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
    statistics: dict[str, Statistic] = {
        "mean": np.mean,
        "mode": histogram_mode,
        "p_success": lambda x, axis: success_probability(x, axis, threshold),
        "mean_successful": lambda x, axis: mean_of_successful(x, axis, threshold),
    }
    rows = [
        {scale: s, "statistic": name, **bootstrap_ci(v, fn, n_resamples, confidence, rng_seed)._asdict(),
         "n_seeds": v.size}
        for s, v in _by_scale(frame, value, scale)
        for name, fn in statistics.items()
    ]
    return pd.DataFrame(rows)


def _kernel(sample: np.ndarray, bw_method: str | float) -> gaussian_kde | None:
    """scipy's Gaussian KDE, or None for a sample with no spread (its covariance is singular)."""
    if sample.size < 2 or np.ptp(sample) == 0:
        return None
    return gaussian_kde(sample, bw_method=bw_method)


def kde(
    values: np.ndarray | pd.Series,
    grid: np.ndarray,
    bw_method: str | float = "scott",
    min_bandwidth: float = 1e-3,
) -> np.ndarray:
    """Gaussian kernel density of a sample evaluated on ``grid`` (Zhao et al. 2025, Fig. 4).

    Bandwidth: Scott's rule by default, kernel sd = sample sd * n^(-1/5) (scipy's ``gaussian_kde``;
    the paper does not state its choice). A sample with no spread, such as every seed failing with
    EM = 0, has no Scott bandwidth; it gets a normal density of sd ``min_bandwidth`` at its value.
    """
    sample = _sample(values)
    kernel = _kernel(sample, bw_method)
    grid = np.asarray(grid, dtype=np.float64)
    if kernel is None:
        return norm.pdf(grid, loc=sample[0], scale=min_bandwidth)
    return kernel(grid)


def _bandwidth(sample: np.ndarray, bw_method: str | float, min_bandwidth: float) -> float:
    kernel = _kernel(sample, bw_method)
    return min_bandwidth if kernel is None else float(np.sqrt(kernel.covariance[0, 0]))


def kde_grid(
    samples: list[np.ndarray],
    n_grid: int = 512,
    bw_method: str | float = "scott",
    min_bandwidth: float = 1e-3,
) -> np.ndarray:
    """A grid covering every sample plus three kernel bandwidths each side, so densities decay to ~0."""
    samples = [_sample(s) for s in samples]
    reach = max(_bandwidth(s, bw_method, min_bandwidth) for s in samples)
    low = min(s.min() for s in samples) - 3 * reach
    high = max(s.max() for s in samples) + 3 * reach
    return np.linspace(low, high, n_grid)


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
    grid = kde_grid([v for _, v in groups], n_grid, bw_method)
    step = grid[1] - grid[0]
    parts = [pd.DataFrame({scale: s, "x": grid, "density": kde(v, grid, bw_method, step)}) for s, v in groups]
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
    sample = _sample(values)
    grid = kde_grid([sample], n_grid, bw_method)
    density = kde(sample, grid, bw_method)
    peaks, _ = find_peaks(density, prominence=min_prominence * density.max())
    return int(peaks.size)


def dip_test(values: np.ndarray | pd.Series) -> DipResult:
    """Hartigan and Hartigan's (1985) dip test of unimodality, via the maintained ``diptest`` package.

    Zhao et al. 2025 report p < 0.001 for the seed distributions around the breakthrough. A small
    p-value rejects unimodality. The p-value interpolates the package's tables of critical values
    (no bootstrap, so it is deterministic). The test is not defined for fewer than 4 values.
    """
    sample = _sample(values)
    if sample.size < 4:
        raise ValueError(f"values: the dip test needs at least 4 values, got {sample.size}")
    dip, p_value = diptest.diptest(sample)
    return DipResult(float(dip), float(p_value))


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
        dip, p_value = dip_test(v)
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


def wasserstein(a: np.ndarray | pd.Series, b: np.ndarray | pd.Series, p: float = 2.0) -> float:
    """p-Wasserstein distance between two empirical 1-D distributions, from their quantile functions.

    W_p^p = integral over u in (0, 1) of |F_a^-1(u) - F_b^-1(u)|^p du (the 1-D optimal coupling is
    the monotone one). Both quantile functions are step functions, so the integral is an exact sum
    over the merged steps; samples may differ in size. Zhao et al. 2025, Fig. 5 use p = 2.
    """
    x, y = np.sort(_sample(a, "a")), np.sort(_sample(b, "b"))
    if p < 1:
        raise ValueError(f"p: expected p >= 1, got {p}")
    steps = np.union1d(np.arange(1, x.size + 1) / x.size, np.arange(1, y.size + 1) / y.size)
    widths = np.diff(steps, prepend=0.0)
    middle = steps - widths / 2
    qx = x[np.minimum(np.searchsorted(np.arange(1, x.size + 1) / x.size, middle), x.size - 1)]
    qy = y[np.minimum(np.searchsorted(np.arange(1, y.size + 1) / y.size, middle), y.size - 1)]
    return float(np.sum(widths * np.abs(qx - qy) ** p) ** (1 / p))


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
    distances = [wasserstein(v, groups[target], p) for v in groups.values()]
    return pd.DataFrame({scale: list(groups), "distance": distances})


def seed_shape_scores(
    frame: pd.DataFrame,
    value: str = "em",
    scale: str = "scale",
    seed: str = "seed",
    clip: float | None = None,
) -> pd.DataFrame:
    """Breakthroughness B and linearity L of every seed's curve across scales (Zhao et al. 2025, Fig. 1).

    See :func:`scalingbook.metrics.breakthroughness` for B's zero-denominator rule and ``clip``.
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


def seed_outcomes(records: pd.DataFrame | Result, seed: str = "seed") -> pd.DataFrame:
    """Per-seed exact match and continuous loss-based error from per-example evaluation records.

    ``em`` is the fraction of test examples answered exactly (Zhao et al. 2025, Figs. 1-3). ``loss``
    is the continuous error of Fig. 4, whose normalisation the paper leaves open: here the mean over
    test examples of each example's per-token negative log-likelihood, -sum_logprob / target_len, so
    every example weighs the same whatever its length. Columns: ``seed, em, loss, n_diverged``.

    Given a stored run (a sweep's ``records`` :class:`~scalingbook.results.Result`), the seeds that
    diverged in training (:func:`scalingbook.sweeps.diverged_seeds`) are left out, and
    ``n_diverged`` says how many were, on every row of the run; given a bare table, none is left out.
    """
    diverged: list[int] = []
    if isinstance(records, Result):
        from scalingbook.sweeps import diverged_seeds

        diverged = diverged_seeds(records)
        records = records.table
        records = records[~records[seed].isin(diverged)]
    missing = [c for c in (seed, "exact_match", "sum_logprob", "target_len") if c not in records.columns]
    if missing:
        raise KeyError(f"records: missing column(s) {missing}; has {list(records.columns)}")
    per_token_nll = -records["sum_logprob"].astype(np.float64) / records["target_len"].astype(np.float64)
    frame = pd.DataFrame({seed: records[seed], "em": records["exact_match"].astype(np.float64), "loss": per_token_nll})
    return frame.groupby(seed, as_index=False, sort=True).mean().assign(n_diverged=len(diverged))


def divergence_note(outcomes: pd.DataFrame, by: list[str] | tuple[str, ...], seed: str = "seed") -> str:
    """A sentence saying how many diverged seeds were left out of the statistics, per group of ``by``.

    ``outcomes`` has an ``n_diverged`` column (:func:`seed_outcomes`, :func:`scalingbook.emergence.run_outcomes`).
    """
    counts = outcomes.groupby(list(by), sort=False)["n_diverged"].max()
    kept = outcomes.groupby(list(by), sort=False)[seed].nunique()
    if not counts.any():
        return "No seed diverged in training (rule: `scalingbook.train.diverged_from_losses`)."
    parts = [f"{', '.join(map(str, k if isinstance(k, tuple) else (k,)))}: {n} of {n + kept[k]}"
             for k, n in counts.items() if n]
    return ("Seeds that diverged in training (a non-finite loss, or a last loss over "
            "1.5 times the first; `scalingbook.train.diverged_from_losses`) are left out of every statistic: "
            + "; ".join(parts) + ".")
