"""Statistics of populations of seeds, for every chapter: bootstrap and paired-bootstrap intervals over
seeds, Clopper-Pearson intervals, kernel density estimates, Hartigan's dip test, Wasserstein distances,
and the per-seed outcome table of a stored run with its divergence flags.

The unit of every resampling here is the seed: a run is one (seed, scale) pair. What the Random seeds
chapter builds from these (success rates, modes, bimodality across scales) is in
:mod:`scalingbook.chapters.seeds`.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Literal, NamedTuple

import diptest
import numpy as np
import pandas as pd
from scipy.stats import beta, gaussian_kde, norm

from scalingbook.lab.store import Result

Statistic = Callable[..., np.ndarray]
PercentileMethod = Literal["linear", "nearest", "lower", "higher", "midpoint"]
"""The numpy percentile methods the intervals use: ``linear`` for smooth statistics, ``nearest`` for discrete ones."""


class Interval(NamedTuple):
    """A point estimate with the ends of its confidence interval."""

    estimate: float
    low: float
    high: float


class DipResult(NamedTuple):
    """Hartigan's dip statistic and its p-value under the null of unimodality."""

    dip: float
    p_value: float


def finite_sample(values: np.ndarray | pd.Series, name: str = "values") -> np.ndarray:
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
    sample = finite_sample(values)
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


def seed_means(
    frame: pd.DataFrame,
    value: str,
    by: list[str],
    n_resamples: int = 1000,
    confidence: float = 0.95,
    rng_seed: int = 0,
    name: str | None = None,
) -> pd.DataFrame:
    """Mean of ``value`` over the seeds of each group of ``by``, with its :func:`bootstrap_ci` interval.

    The seed band of every chapter's curves. Columns: ``*by``, the mean (named ``name``, default
    ``value``), ``low``, ``high``, ``n_seeds``; one row per group, in sorted order. Every group
    resamples from the same ``rng_seed``, so a group's interval does not depend on the others.
    """
    missing = [c for c in [*by, value] if c not in frame.columns]
    if missing:
        raise KeyError(f"missing column(s) {missing}; has {list(frame.columns)}")
    rows = []
    for key, group in frame.groupby(by, sort=True, observed=True):
        interval = bootstrap_ci(group[value].to_numpy(), np.mean, n_resamples, confidence, rng_seed)
        rows.append(
            {
                **dict(zip(by, key)),
                name or value: interval.estimate,
                "low": interval.low,
                "high": interval.high,
                "n_seeds": len(group),
            }
        )
    return pd.DataFrame(rows, columns=[*by, name or value, "low", "high", "n_seeds"])


def paired_bootstrap(
    curves: list[np.ndarray],
    statistic: Callable[..., np.ndarray],
    n_resamples: int = 1000,
    confidence: float = 0.95,
    rng_seed: int | np.random.Generator = 0,
    method: PercentileMethod = "linear",
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


def _silverman_iqr(kernel: gaussian_kde) -> float:
    """Silverman's (1986, Eq. 3.31) robust rule, h = 0.9 min(sd, IQR / 1.34) n^(-1/5), as the factor of
    the sample sd that scipy expects. A small second group of seeds (under a quarter) inflates the sd
    but not the IQR, so the kernel stays narrow enough not to smooth it into the large one; for an
    even split the IQR grows too and the rule is close to Scott's. With IQR 0 (over three quarters of
    the seeds tied) it falls back to the sd; with nearly that many tied, the bandwidth can be tiny."""
    sample = kernel.dataset[0]
    sd = sample.std(ddof=1)
    q1, q3 = np.percentile(sample, [25, 75])
    spread = min(sd, (q3 - q1) / 1.34) if q3 > q1 else sd
    return float(0.9 * spread * sample.size ** (-1 / 5) / sd)


BANDWIDTH_RULES = {"silverman-iqr": _silverman_iqr}
"""Bandwidth rules beyond scipy's own ("scott", "silverman"), by the name a ``bw_method`` may give."""


def _kernel(sample: np.ndarray, bw_method: str | float) -> gaussian_kde | None:
    """scipy's Gaussian KDE, or None for a sample with no spread (its covariance is singular)."""
    if sample.size < 2 or np.ptp(sample) == 0:
        return None
    rule = BANDWIDTH_RULES.get(bw_method) if isinstance(bw_method, str) else None
    return gaussian_kde(sample, bw_method=rule or bw_method)


def kde(
    values: np.ndarray | pd.Series,
    grid: np.ndarray,
    bw_method: str | float = "scott",
    min_bandwidth: float = 1e-3,
) -> np.ndarray:
    """Gaussian kernel density of a sample evaluated on ``grid`` (Zhao et al. 2025, Fig. 4).

    Bandwidth: Scott's rule by default, kernel sd = sample sd * n^(-1/5) (scipy's ``gaussian_kde``;
    the paper does not state its choice), scipy's "silverman", or "silverman-iqr" (Silverman's robust
    rule, which a small second mode does not widen; see :func:`_silverman_iqr`). A sample with no
    spread, such as every seed failing with EM = 0, has no Scott bandwidth; it gets a normal density
    of sd ``min_bandwidth`` at its value.
    """
    sample = finite_sample(values)
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
    samples = [finite_sample(s) for s in samples]
    reach = max(_bandwidth(s, bw_method, min_bandwidth) for s in samples)
    low = min(s.min() for s in samples) - 3 * reach
    high = max(s.max() for s in samples) + 3 * reach
    return np.linspace(low, high, n_grid)


def dip_test(values: np.ndarray | pd.Series) -> DipResult:
    """Hartigan and Hartigan's (1985) dip test of unimodality, via the maintained ``diptest`` package.

    Zhao et al. 2025 report p < 0.001 for the seed distributions around the breakthrough. A small
    p-value rejects unimodality. The p-value interpolates the package's tables of critical values
    (no bootstrap, so it is deterministic). The test is not defined for fewer than 4 values.
    """
    sample = finite_sample(values)
    if sample.size < 4:
        raise ValueError(f"values: the dip test needs at least 4 values, got {sample.size}")
    dip, p_value = diptest.diptest(sample)
    return DipResult(float(dip), float(p_value))


def wasserstein(a: np.ndarray | pd.Series, b: np.ndarray | pd.Series, p: float = 2.0) -> float:
    """p-Wasserstein distance between two empirical 1-D distributions, from their quantile functions.

    W_p^p = integral over u in (0, 1) of |F_a^-1(u) - F_b^-1(u)|^p du (the 1-D optimal coupling is
    the monotone one). Both quantile functions are step functions, so the integral is an exact sum
    over the merged steps; samples may differ in size. Zhao et al. 2025, Fig. 5 use p = 2.
    """
    x, y = np.sort(finite_sample(a, "a")), np.sort(finite_sample(b, "b"))
    if p < 1:
        raise ValueError(f"p: expected p >= 1, got {p}")
    steps = np.union1d(np.arange(1, x.size + 1) / x.size, np.arange(1, y.size + 1) / y.size)
    widths = np.diff(steps, prepend=0.0)
    middle = steps - widths / 2
    qx = x[np.minimum(np.searchsorted(np.arange(1, x.size + 1) / x.size, middle), x.size - 1)]
    qy = y[np.minimum(np.searchsorted(np.arange(1, y.size + 1) / y.size, middle), y.size - 1)]
    return float(np.sum(widths * np.abs(qx - qy) ** p) ** (1 / p))


def trained_records(records: pd.DataFrame | Result, seed: str = "seed") -> tuple[pd.DataFrame, list[int]]:
    """A run's per-example records without the seeds that diverged in training, and those seeds.

    Given a stored run, the diverged seeds are :func:`scalingbook.lab.sweeps.diverged_seeds`; a bare
    table is taken as it is."""
    if not isinstance(records, Result):
        return records, []
    from scalingbook.lab.sweeps import diverged_seeds

    diverged = diverged_seeds(records)
    return records.table[~records.table[seed].isin(diverged)], diverged


def seed_outcomes(records: pd.DataFrame | Result, seed: str = "seed") -> pd.DataFrame:
    """Per-seed exact match and continuous loss-based error from per-example evaluation records.

    ``em`` is the fraction of test examples answered exactly (Zhao et al. 2025, Figs. 1-3). ``loss``
    is the continuous error of Fig. 4, whose normalisation the paper leaves open: here the mean over
    test examples of each example's per-token negative log-likelihood, -sum_logprob / target_len, so
    every example weighs the same whatever its length. Columns: ``seed, em, loss, n_diverged``.

    Given a stored run (a sweep's ``records`` :class:`~scalingbook.lab.store.Result`), the seeds that
    diverged in training (:func:`scalingbook.lab.sweeps.diverged_seeds`) are left out, and
    ``n_diverged`` says how many were, on every row of the run; given a bare table, none is left out.
    """
    records, diverged = trained_records(records, seed)
    missing = [c for c in (seed, "exact_match", "sum_logprob", "target_len") if c not in records.columns]
    if missing:
        raise KeyError(f"records: missing column(s) {missing}; has {list(records.columns)}")
    per_token_nll = -records["sum_logprob"].astype(np.float64) / records["target_len"].astype(np.float64)
    frame = pd.DataFrame({seed: records[seed], "em": records["exact_match"].astype(np.float64), "loss": per_token_nll})
    return frame.groupby(seed, as_index=False, sort=True).mean().assign(n_diverged=len(diverged))


def seed_dispersion(
    records: pd.DataFrame | Result, seed: str = "seed", example: str = "example", value: str = "exact_match"
) -> float:
    """How much more the per-seed exact match varies than if the seeds were interchangeable.

    The variance across seeds of each seed's mean ``value`` over the test examples, divided by the
    variance it would have if every seed answered each example independently with that example's
    success rate across seeds, p_j: mean_j p_j (1 - p_j) / n_examples (each p_j (1 - p_j) made unbiased
    by S / (S - 1) for S seeds). About 1 when seeds differ only by per-example chance; exactly
    n_examples when every seed answers all examples or none, the clean split into failed and
    successful seeds. Every seed must answer the same examples. NaN when no example varies across seeds.
    """
    records, _ = trained_records(records, seed)
    pairs = records.groupby([seed, example]).size()
    n_seeds, n_examples = records[seed].nunique(), records[example].nunique()
    if len(pairs) != n_seeds * n_examples or (pairs != 1).any():
        raise ValueError(f"records: every {seed} must answer each {example} exactly once")
    flags = records.pivot(index=seed, columns=example, values=value).to_numpy(dtype=np.float64)
    if n_seeds < 2:
        raise ValueError(f"records: the dispersion across seeds needs at least 2 seeds, got {n_seeds}")
    p = flags.mean(axis=0)
    chance = (p * (1 - p)).mean() * n_seeds / (n_seeds - 1) / n_examples
    if chance == 0:
        return float("nan")
    return float(flags.mean(axis=1).var(ddof=1) / chance)


def divergence_note(outcomes: pd.DataFrame, by: list[str] | tuple[str, ...], seed: str = "seed") -> str:
    """A sentence saying how many diverged seeds were left out of the statistics, per group of ``by``.

    ``outcomes`` has an ``n_diverged`` column (:func:`seed_outcomes`, :func:`scalingbook.chapters.emergence.run_outcomes`).
    """
    counts = outcomes.groupby(list(by), sort=False)["n_diverged"].max()
    kept = outcomes.groupby(list(by), sort=False)[seed].nunique()
    if not counts.any():
        return "No seed diverged in training (rule: `scalingbook.lab.train.diverged_from_losses`)."
    parts = [
        f"{', '.join(map(str, k if isinstance(k, tuple) else (k,)))}: {n} of {n + kept[k]}"
        for k, n in counts.items()
        if n
    ]
    return (
        "Seeds that diverged in training (a non-finite loss, or a last loss over "
        "1.5 times the first; `scalingbook.lab.train.diverged_from_losses`) are left out of every statistic: "
        + "; ".join(parts)
        + "."
    )
