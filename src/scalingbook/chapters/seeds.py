"""The Random seeds chapter (Zhao et al. 2025, "Random Scaling of Emergent Capabilities", Figs. 1-5).

Zhao et al. train many seeds at each scale and read the outcome distribution across seeds: a run
succeeds when its exact match exceeds 20% (Fig. 3); the success rate, the mode and the mean of the
successful runs move with scale; a distribution that is bimodal (Hartigan's dip test, or several KDE
peaks) marks the scales where some seeds break through and others do not. Each function takes the
seed-level table (one row per run: a scale column, a seed column and a value column, exact match or
a continuous loss-based error) and returns a tidy DataFrame (one row per scale, or per scale and
statistic) that the chapter's charts encode directly. The generic statistics are in
:mod:`scalingbook.analysis.stats`.

The rest serves the notebook, which only calls and displays: reading the four populations (two tasks x
two axes) into one per-seed table, the per-panel tables and charts of Figs. 1-5, and every sentence
that states a conclusion, computed here from the numbers so that tests can pin each verdict.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import altair as alt
import numpy as np
import pandas as pd
import yaml
from pandas.io.formats.style import Styler
from scipy.signal import find_peaks

from scalingbook.analysis import metrics, stats
from scalingbook.chapters import charts
from scalingbook.lab.model import param_count
from scalingbook.lab.store import REPO_ROOT, Result
from scalingbook.lab.sweeps import RunSpec, Shown, read_or_train, read_stored
from scalingbook.lab.tasks import Count, IndexHintAddition

BimodalityRule = Literal["dip", "peaks", "both", "either"]


SUCCESS_THRESHOLD = 0.2  # Zhao et al. 2025, Fig. 3: a run succeeds when its exact match exceeds 20%
KDE_BANDWIDTH = "silverman-iqr"  # the paper does not say; a robust rule that a small second mode does not widen


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
    """Mean, mode, P(success) and mean of successful runs per scale, each with an interval.

    Zhao et al. 2025, Fig. 3: the mode jumps while the mean moves continuously. P(success) is a
    binomial proportion and gets the exact Clopper-Pearson interval, which keeps a width where a
    bootstrap of 0 successes would give [0, 0]; the other three get percentile bootstrap intervals,
    every scale resampled with the same ``rng_seed``. Long format, columns ``scale, statistic,
    estimate, low, high, n_seeds``.
    """
    statistics: dict[str, stats.Statistic] = {
        "mean": np.mean,
        "mode": histogram_mode,
        "mean_successful": lambda x, axis: mean_of_successful(x, axis, threshold),
    }
    rows = []
    for s, v in _by_scale(frame, value, scale):
        successes = int(np.sum(v > threshold))
        low, high = stats.clopper_pearson(successes, v.size, confidence)
        intervals = {
            name: stats.bootstrap_ci(v, fn, n_resamples, confidence, rng_seed) for name, fn in statistics.items()
        }
        intervals["p_success"] = stats.Interval(successes / v.size, float(low), float(high))
        rows += [
            {scale: s, "statistic": name, **intervals[name]._asdict(), "n_seeds": v.size}
            for name in ("mean", "mode", "p_success", "mean_successful")
        ]
    return pd.DataFrame(rows)


def kde_by_scale(
    frame: pd.DataFrame,
    value: str = "loss",
    scale: str = "scale",
    n_grid: int = 256,
    bw_method: str | float = KDE_BANDWIDTH,
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
    bw_method: str | float = KDE_BANDWIDTH,
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
    bw_method: str | float = KDE_BANDWIDTH,
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
        rows.append(
            {
                scale: s,
                "n_seeds": v.size,
                "dip": dip,
                "p_value": p_value,
                "n_peaks": peaks,
                "multimodal": _multimodal(p_value < alpha, peaks >= 2, rule),
            }
        )
    return pd.DataFrame(rows)


def _multimodal(dip_rejects: bool, several_peaks: bool, rule: BimodalityRule) -> bool:
    verdicts = {
        "dip": dip_rejects,
        "peaks": several_peaks,
        "both": dip_rejects and several_peaks,
        "either": dip_rejects or several_peaks,
    }
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
    bw_method: str | float = KDE_BANDWIDTH,
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
    return pd.DataFrame(
        {
            seed: curves.index.to_numpy(),
            "B": metrics.breakthroughness(y, clip=clip),
            "L": metrics.linearity(y),
            "improvement": improvement,
            "jump_from": scales[jump],
            "jump_to": scales[jump + 1],
        }
    )


def top_seeds(scores: pd.DataFrame, by: Literal["B", "L"] = "B", k: int = 1, seed: str = "seed") -> pd.DataFrame:
    """The ``k`` seeds with the highest B (or L), as in Zhao et al. 2025, Fig. 1 (their seeds 93 and 205).

    Ties, common for B, which is infinite for every clean step, go to the larger improvement,
    then to the smaller seed id, so the choice is deterministic.
    """
    if by not in ("B", "L"):
        raise ValueError(f"by: expected 'B' or 'L', got {by!r}")
    ordered = scores.sort_values([by, "improvement", seed], ascending=[False, False, True], kind="stable")
    return ordered.head(k).reset_index(drop=True)


# ---------------------------------------------------------------------------------------------
# The chapter's populations: four sweeps (two tasks x two axes) read into one per-seed table

TASKS = ("count", "addition")  # the chapter's tasks, in the order its panels show them
AXES = {"width": "d_model", "depth": "n_layers"}  # each axis varies one model setting, the other stays fixed
PanelKey = tuple[str, str]  # (task, axis): one population, drawn as one panel


def read_populations(task: str, profile: str, device: str) -> dict[PanelKey, Shown]:
    """Both axes' sweeps of one task (a chapter calls this once per task, so that each of its cells stays
    short). At ``quick`` they are trained here, in seconds. At ``full`` or ``paper`` only stored runs are
    read, never trained: a sweep with none stored at that profile is left out (see :func:`populations_left_out`)
    rather than shown at the quick profile beside populations of 200 seeds."""
    paths = {axis: REPO_ROOT / "sweeps" / f"seeds-{task}-{axis}.yaml" for axis in AXES}
    if profile == "quick":
        return {(task, axis): read_or_train(path, profile, device, log=lambda _: None) for axis, path in paths.items()}
    stored = {(task, axis): read_stored(path, profile) for axis, path in paths.items()}
    return {key: population for key, population in stored.items() if population is not None}


def populations_left_out(shown: dict[PanelKey, Shown], profile: str) -> list[PanelKey]:
    """The chapter's populations with no run stored at ``profile``, in panel order; an error naming the
    command that trains them when that is all of them, since the page would have nothing to show."""
    missing = [(task, axis) for task in TASKS for axis in AXES if (task, axis) not in shown]
    if not shown:
        raise ValueError(
            f"no Random seeds population is stored at the {profile!r} profile: train them with "
            f"`scalingbook sweep sweeps/seeds-*.yaml --profile {profile}`, or run the chapter at the quick profile"
        )
    return missing


def left_out_sentence(missing: list[PanelKey], profile: str) -> str:
    """Which populations the page leaves out because none of their runs is stored at ``profile``."""
    if not missing:
        return f"Every population of this chapter is shown at the {profile} profile."
    names = "; ".join(panel_label(task, axis) for task, axis in missing)
    return (
        f"Not shown: {names}. No run of {'it' if len(missing) == 1 else 'them'} is stored at the {profile} profile, "
        "and a book build does not train populations."
    )


def panel_label(task: str, axis: str) -> str:
    """How charts and sentences name a population: task, axis and the model setting it varies."""
    return f"{task} · {axis} ({AXES[axis]})"


def per_seed_table(shown: dict[PanelKey, Shown]) -> pd.DataFrame:
    """One row per (task, axis, scale, seed), every analysis's input: exact match, continuous loss
    (:func:`scalingbook.analysis.stats.seed_outcomes`), the model's size and the panel's label."""
    parts = [
        stats.seed_outcomes(result).assign(
            task=task,
            axis=axis,
            scale=spec.model[AXES[axis]],
            n_params=param_count(spec.model_config(spec.build_task())),
            panel=panel_label(task, axis),
        )
        for (task, axis), population in shown.items()
        for spec, result in zip(population.sweep.runs, population.results)
    ]
    return pd.concat(parts, ignore_index=True)


def panels_of(per_seed: pd.DataFrame) -> dict[PanelKey, pd.DataFrame]:
    """Each population's rows of the per-seed table, keyed by (task, axis), in the table's order."""
    return {(task, axis): frame for (task, axis), frame in per_seed.groupby(["task", "axis"], sort=False)}


def stored_results(shown: dict[PanelKey, Shown]) -> list[Result]:
    """Every run the page reads, for its header."""
    return [result for population in shown.values() for result in population.results]


def source_lines(shown: dict[PanelKey, Shown]) -> list[str]:
    """A chart's sources: each population's largest run, and how many smaller runs it has."""
    return [p.source_line() for p in shown.values()]


def profiles_of(shown: dict[PanelKey, Shown]) -> dict[PanelKey, str]:
    """The profile each population comes from (at quick, all of them; otherwise the one asked for)."""
    return {key: population.profile for key, population in shown.items()}


def population_table(per_seed: pd.DataFrame, shown: dict[PanelKey, Shown]) -> pd.DataFrame:
    """What each population is: scales, seeds, sizes, fixed settings, lengths, profile and runs still to train."""
    table = (
        per_seed.groupby(["task", "axis"], sort=False)
        .agg(
            scales=("scale", lambda s: ", ".join(str(v) for v in sorted(s.unique()))),
            seeds_per_scale=("seed", "nunique"),
            params_min=("n_params", "min"),
            params_max=("n_params", "max"),
        )
        .reset_index()
    )
    facts = pd.DataFrame([_population_facts(shown[(t, a)], a) for t, a in zip(table["task"], table["axis"])])
    return pd.concat([table, facts], axis=1)


def distinct_answers(records: pd.DataFrame) -> pd.DataFrame:
    """The records with one row per seed and distinct target answer, and an ``answer`` key column.

    A test set drawn at random can repeat a problem (count at test length L over n_values integers
    has only n_values - L + 1), and greedy decoding answers a repeat exactly as the first time, so
    statistics that treat test problems as independent must count each once. For count the answer
    fixes the prompt; for addition two prompts may, rarely, share an answer.
    """
    answer = records["target"].map(lambda target: np.asarray(target).tobytes())
    return records.assign(answer=answer).drop_duplicates(["seed", "answer"])


def _prompt_counts(result: Result) -> tuple[int, int]:
    """How many test problems one seed of a run answered, and how many distinct answers they ask for."""
    table = result.table
    one_seed = table[table["seed"] == table["seed"].min()]
    return len(one_seed), len(distinct_answers(one_seed))


def prompts_answered(result: Result) -> str:
    """:func:`_prompt_counts` as the population table shows it: "200 (79 distinct)"."""
    answered, distinct = _prompt_counts(result)
    return f"{answered} ({distinct} distinct)"


def repeated_tests_sentence(shown: dict[PanelKey, Shown]) -> str:
    """Which stored populations were tested on repeated problems (a test drawn from too few of them),
    from the first run of each; exact match counts a repeat as often as it was drawn."""
    repeated = []
    for (task, axis), population in shown.items():
        if not population.results:
            continue
        answered, distinct = _prompt_counts(population.results[0])
        if distinct < answered:
            lengths = _test_lengths(population.sweep.runs[0])
            repeated.append(
                f"{panel_label(task, axis)}, {answered} draws of length {lengths} holding {distinct} "
                f"problem{'' if distinct == 1 else 's'}"
            )
    if not repeated:
        return "Every population shown was tested on distinct problems."
    return (
        f"Tested on repeated problems: {'; '.join(repeated)}. Exact match there counts a repeated problem as often "
        "as it was drawn; the analyses of single answers below count each problem once."
    )


def _test_lengths(spec: RunSpec) -> str:
    """A run's test length, or its range of test lengths ("11-13")."""
    task = spec.build_task()
    if not isinstance(task, Count | IndexHintAddition):
        raise TypeError(f"the Random seeds tasks are count and addition, not {type(task).__name__}")
    lengths = task.test_lengths
    return str(lengths[0]) if len(lengths) == 1 else f"{lengths[0]}-{lengths[-1]}"


def _population_facts(population: Shown, axis: str) -> dict[str, object]:
    """The settings a population's runs share, read from its first run, and what is still to train."""
    first = population.sweep.runs[0]
    return {
        "fixed": ", ".join(f"{k} = {v}" for k, v in first.model.items() if k != AXES[axis]),
        "train -> test length": f"{first.task['train_length']} -> {_test_lengths(first)}",
        "test problems (distinct answers)": (
            prompts_answered(population.results[0]) if population.results else "none stored"
        ),
        "profile": population.profile,
        "scales not trained yet": ", ".join(str(spec.model[AXES[axis]]) for spec in population.pending) or "none",
        "training steps": first.train["steps"],
    }


# ---------------------------------------------------------------------------------------------
# Pilots: the settings tried on seeds the populations never use (scripts/pilot)

PILOT_COLUMNS = {
    "label": "pilot",
    "model": "model",
    "seeds": "seeds",
    "p_success": "P(success)",
    "mean_em": "mean EM",
    "hist": "EM histogram (10 bins, 0-1)",
    "dip_p": "dip p",
    "cpu_seconds": "CPU seconds",
}


def read_pilots(folder: Path, tasks: tuple[str, ...] = TASKS) -> pd.DataFrame:
    """The pilot tables of ``tasks``, one row per pilot setting, with a task column: per task the first
    round (``seeds-TASK.csv``), then each later one (``seeds-TASK-ROUND.csv``), by name."""
    files = [
        (task, path)
        for task in tasks
        for path in [folder / f"seeds-{task}.csv", *sorted(folder.glob(f"seeds-{task}-*.csv"))]
    ]
    return pd.concat([pd.read_csv(path).assign(task=task) for task, path in files], ignore_index=True)


def pilot_table(pilots: pd.DataFrame) -> Styler:
    """The pilots as the page lists them."""
    table = pilots[["task", *PILOT_COLUMNS]].rename(columns=PILOT_COLUMNS)
    return table.style.format(precision=3).hide(axis="index")


def _pilots_named(pilots: pd.DataFrame, labels: list[str]) -> pd.DataFrame:
    """The pilot rows of ``labels``, or an error naming them when none is stored."""
    rows = pilots[pilots["label"].isin(labels)]
    if rows.empty:
        raise ValueError(f"none of the pilots {labels} is stored")
    return rows


def _width(model: str) -> int:
    """The d_model of a pilot row's model column (YAML)."""
    return int(yaml.safe_load(model)["d_model"])


def _members_succeeded(rows: pd.DataFrame) -> int:
    """How many pilot members (seeds x settings) of ``rows`` succeeded."""
    return int(round((rows["p_success"] * rows["seeds"]).sum()))


def pilot_sentence(pilots: pd.DataFrame, task: str, in_distribution: tuple[str, ...] = ()) -> str:
    """How many of one task's pilot members succeeded on problems longer than their training, and the
    best mean EM any such pilot reached; the pilots ``in_distribution`` are left out (see
    :func:`learning_finding`)."""
    rows = pilots[(pilots["task"] == task) & ~pilots["label"].isin(in_distribution)]
    return (
        f"In the {task} pilots tested on longer problems than they trained on, {_members_succeeded(rows)} of "
        f"{int(rows['seeds'].sum())} pilot members (seeds x settings) succeeded (EM > 0.2); the highest "
        f"mean EM of any of these pilots was {rows['mean_em'].max():.3f}."
    )


def learning_finding(pilots: pd.DataFrame, labels: list[str]) -> str:
    """Whether the pilots ``labels``, tested in distribution, learnt the task at all: per label and
    width, P(success), mean EM and mean test loss, and how many members succeeded."""
    rows = _pilots_named(pilots, labels)
    cells = [
        f"`{r.label}` at width {_width(r.model)}: P(success) {r.p_success:.3f}, mean EM "
        f"{r.mean_em:.3f}, mean test loss {r.mean_loss:.2f} nats per token"
        for r in rows.itertuples()
    ]
    return (
        "In distribution (tested on held-out problems of the longest training length): "
        + "; ".join(cells)
        + f". {_members_succeeded(rows)} of {int(rows['seeds'].sum())} of these pilot members succeeded."
    )


def population_cost_sentence(pilots: pd.DataFrame, label: str, seeds_per_scale: int, scales: int) -> str:
    """What a population of the pilot ``label``'s setting would cost on a CPU: its measured CPU-seconds
    per seed, times ``seeds_per_scale`` seeds at each of ``scales`` scales (at that width's cost)."""
    rows = _pilots_named(pilots, [label])
    per_seed = float(rows["cpu_seconds"].sum() / rows["seeds"].sum())
    hours = per_seed * seeds_per_scale * scales / 3600
    return (
        f"`{label}` took {per_seed:.0f} CPU-seconds a seed, so {seeds_per_scale} seeds at each of {scales} "
        f"scales at that cost would take about {hours:.0f} CPU-hours."
    )


def longer_training_finding(pilots: pd.DataFrame, short: str, long: str, alpha: float = 0.05) -> str:
    """What training longer did to the pilot seeds, width by width: the pilot ``long`` against ``short``
    (same task and widths, more steps), in mean test loss, P(success) and the dip test's p-value."""
    rows = pilots.set_index(["label", "model"])
    widths = [model for label, model in rows.index if label == long and (short, model) in rows.index]
    if not widths:
        raise ValueError(f"no width was piloted as both {short!r} and {long!r}")
    parts, split = [], []
    for model in widths:
        a, b = rows.loc[(short, model)], rows.loc[(long, model)]
        width = _width(model)
        parts.append(
            f"at width {width}, mean test loss {a['mean_loss']:.2f} -> {b['mean_loss']:.2f}, "
            f"P(success) {a['p_success']:.3f} -> {b['p_success']:.3f}, dip p {a['dip_p']:.2f} -> {b['dip_p']:.2f}"
        )
        if b["dip_p"] < alpha:
            split.append(str(width))
    verdict = (
        f"the dip test rejects a single mode at width {', '.join(split)} (p < {alpha:g})"
        if split
        else f"the dip test rejects a single mode at no width (every p >= {alpha:g}): longer training did not split the seeds"
    )
    return f"Trained longer (`{long}` against `{short}`): " + "; ".join(parts) + f". So {verdict}."


def split_finding(pilots: pd.DataFrame, labels: list[str], change: str, alpha: float = 0.05) -> str:
    """What one change of setting (``change``, such as "a longer test") did to the pilot seeds of
    ``labels``: per label and width, P(success), mean EM and the dip test's p-value, and whether any
    width rejects a single mode with the seeds on both sides of the success threshold (a dip-test
    rejection at P(success) 0 is a pile of seeds at zero, not two modes)."""
    rows = _pilots_named(pilots, labels)
    parts, split = [], []
    for label in labels:
        widths = rows[rows["label"] == label]
        cells = [
            f"width {_width(r.model)}: P(success) {r.p_success:.3f}, mean EM {r.mean_em:.3f}, dip p {r.dip_p:.2f}"
            for r in widths.itertuples()
        ]
        parts.append(f"`{label}` ({'; '.join(cells)})")
        split += [
            f"`{label}` at width {_width(r.model)}"
            for r in widths.itertuples()
            if r.dip_p < alpha and 0 < r.p_success < 1
        ]
    if split:
        verdict = (
            f"the dip test rejects a single mode, with seeds on both sides of the threshold, for {', '.join(split)}"
        )
    elif (rows["p_success"] == 0).all():
        verdict = f"no seed succeeded: {change} left no successful seeds to split from the failed ones"
    else:
        verdict = (
            f"in no pilot and width does the dip test reject a single mode with seeds on both sides of the "
            f"threshold (p < {alpha:g}): {change} did not split the seeds"
        )
    return f"{change[0].upper()}{change[1:]}: " + "; ".join(parts) + f". So {verdict}."


# ---------------------------------------------------------------------------------------------
# Figs. 2-4 per panel: histograms, seed statistics, densities

EM_BIN_EDGES = np.linspace(0, 1, 21)  # Fig. 2's histogram: 20 bins of exact match


def em_histograms(per_seed: pd.DataFrame, edges: np.ndarray = EM_BIN_EDGES) -> pd.DataFrame:
    """Seeds per exact-match bin at every panel and scale (Fig. 2), panels in the table's order.

    Columns ``panel, scale, bin, seeds, em_low, em_high``; a bin holds ``em_low <= em < em_high``, the
    last one also ``em == 1``, and bins no seed falls in have no row.
    """
    bins = np.clip(np.digitize(per_seed["em"], edges[1:-1]), 0, len(edges) - 2)
    table = (
        per_seed.assign(bin=bins)
        .groupby(["panel", "scale", "bin"])
        .size()
        .rename("seeds")
        .reset_index()
        .assign(em_low=lambda t: edges[t["bin"]], em_high=lambda t: edges[t["bin"] + 1])
    )
    order = {panel: i for i, panel in enumerate(per_seed["panel"].unique())}
    return table.sort_values("panel", key=lambda p: p.map(order), kind="stable").reset_index(drop=True)


def histogram_chart(histograms: pd.DataFrame, sources: list[str]) -> alt.TopLevelMixin:
    """Fig. 2: a row of exact-match histograms per panel, one per scale."""
    rows = [
        alt.Chart(histograms[histograms["panel"] == panel])
        .mark_bar()
        .encode(
            x=alt.X(
                "em_low:Q", bin="binned", scale=alt.Scale(domain=[0, 1]), title="exact match (longer test problems)"
            ),
            x2="em_high:Q",
            y=alt.Y("seeds:Q", title="seeds"),
            tooltip=["scale:O", "em_low:Q", "em_high:Q", "seeds:Q"],
        )
        .properties(width=150, height=90)
        .facet(column=alt.Column("scale:O", title=panel))
        for panel in histograms["panel"].unique()
    ]
    return charts.with_source(alt.vconcat(*rows), *sources, title="Exact match across seeds, per scale")


def panel_summaries(
    panels: dict[PanelKey, pd.DataFrame], threshold: float, n_resamples: int, confidence: float, rng_seed: int
) -> pd.DataFrame:
    """:func:`seed_summary` of exact match for every panel, with a panel column."""
    return pd.concat(
        [
            seed_summary(frame, "em", "scale", threshold, n_resamples, confidence, rng_seed).assign(
                panel=frame["panel"].iloc[0]
            )
            for frame in panels.values()
        ],
        ignore_index=True,
    )


def summary_chart(summary: pd.DataFrame, sources: list[str], confidence: float) -> alt.TopLevelMixin:
    """Fig. 3: mode, mean, P(success) and mean of successful runs against scale, with their intervals."""
    base = alt.Chart().encode(
        x=alt.X("scale:Q", scale=alt.Scale(type="log", nice=False, zero=False), title="scale (d_model or n_layers)"),
        color=alt.Color("statistic:N", title="statistic", scale=alt.Scale(range=charts.PALETTE)),
    )
    chart = (
        alt.layer(
            base.mark_line(point=True).encode(
                y=alt.Y("estimate:Q", scale=alt.Scale(domain=[0, 1]), title="exact match statistic"),
                tooltip=[
                    "panel:N",
                    "scale:Q",
                    "statistic:N",
                    alt.Tooltip("estimate:Q", format=".3f"),
                    alt.Tooltip("low:Q", format=".3f"),
                    alt.Tooltip("high:Q", format=".3f"),
                ],
            ),
            base.mark_rule().encode(y="low:Q", y2="high:Q"),
            data=summary,
        )
        .properties(width=260, height=170)
        .facet(facet=alt.Facet("panel:N", title=None), columns=2)
        .resolve_scale(x="independent")
    )
    return charts.with_source(
        chart, *sources, title=f"Seed statistics with {confidence:.0%} intervals (bootstrap; exact for P(success))"
    )


def statistic_rows(summary: pd.DataFrame, panel: str, statistic: str) -> pd.DataFrame:
    """One statistic of one panel of :func:`panel_summaries`, in scale order."""
    return summary[(summary["panel"] == panel) & (summary["statistic"] == statistic)].sort_values("scale")


def _two_decimals(values: pd.Series) -> str:
    return ", ".join("-" if np.isnan(v) else f"{v:.2f}" for v in values)


def grid_sentence(summary: pd.DataFrame) -> str:
    """What the grid shows, per panel: mode, mean and P(success) at every scale, and the largest steps
    of the mode and the mean between neighbouring scales (a jumping mode beside a gliding mean is Fig. 3's point)."""
    lines = []
    for panel in summary["panel"].unique():
        mode, mean, p = (statistic_rows(summary, panel, s) for s in ("mode", "mean", "p_success"))
        steps = (
            f" The mode's largest step between neighbouring scales is {np.abs(np.diff(mode['estimate'])).max():.2f}, "
            f"the mean's {np.abs(np.diff(mean['estimate'])).max():.2f}."
            if len(mode) > 1
            else ""
        )
        lines.append(
            f"- **{panel}** (scales {', '.join(str(s) for s in mode['scale'])}): mode {_two_decimals(mode['estimate'])}; "
            f"mean {_two_decimals(mean['estimate'])}; P(success) {_two_decimals(p['estimate'])}.{steps}"
        )
    return "**What the grid shows.**\n\n" + "\n".join(lines)


def _finite_loss(per_seed: pd.DataFrame) -> pd.DataFrame:
    """The seeds whose continuous error is finite, which the density and the dip test need."""
    return per_seed[np.isfinite(per_seed["loss"])]


def panel_densities(per_seed: pd.DataFrame, n_grid: int, bw_method: str | float = KDE_BANDWIDTH) -> pd.DataFrame:
    """Fig. 4: :func:`kde_by_scale` of the continuous error in every panel, each on its own grid."""
    return pd.concat(
        [
            kde_by_scale(frame, "loss", "scale", n_grid, bw_method).assign(panel=frame["panel"].iloc[0])
            for _, frame in _finite_loss(per_seed).groupby("panel", sort=False)
        ],
        ignore_index=True,
    )


def density_chart(densities: pd.DataFrame, sources: list[str]) -> alt.TopLevelMixin:
    """Fig. 4: one density curve per scale in every panel."""
    chart = (
        alt.Chart(densities)
        .mark_line()
        .encode(
            x=alt.X("x:Q", title="per-token NLL of the test targets (nats)"),
            y=alt.Y("density:Q", title="density across seeds"),
            color=alt.Color("scale:O", title="scale", scale=alt.Scale(scheme="viridis")),
            tooltip=["panel:N", "scale:O", alt.Tooltip("x:Q", format=".3f")],
        )
        .properties(width=260, height=150)
        .facet(facet=alt.Facet("panel:N", title=None), columns=2)
        .resolve_scale(x="independent", y="independent", color="independent")
    )
    return charts.with_source(chart, *sources, title="Density of the continuous error across seeds")


# ---------------------------------------------------------------------------------------------
# Fig. 5: bimodality per scale, Wasserstein distances and the two markers

MARKERS = ("emergence of bimodality", "mode breakthrough")


def panel_bimodality(
    per_seed: pd.DataFrame,
    alpha: float,
    min_prominence: float,
    rule: BimodalityRule,
    bw_method: str | float = KDE_BANDWIDTH,
) -> pd.DataFrame:
    """:func:`bimodality_by_scale` of both metrics, exact match and the continuous error, in every panel."""
    return pd.concat(
        [
            bimodality_by_scale(frame, metric, "scale", alpha, min_prominence, rule, bw_method).assign(
                panel=panel, metric=metric
            )
            for panel, frame in _finite_loss(per_seed).groupby("panel", sort=False)
            for metric in ("em", "loss")
        ],
        ignore_index=True,
    )


def bimodality_table(bimodality: pd.DataFrame) -> Styler:
    """The dip test and the density peaks of every (panel, metric, scale), as the page lists them."""
    columns = ["panel", "metric", "scale", "n_seeds", "dip", "p_value", "n_peaks", "multimodal"]
    return bimodality[columns].style.format({"dip": "{:.3f}", "p_value": "{:.3g}"}).hide(axis="index")


# ---------------------------------------------------------------------------------------------
# Why seeds do or do not split: where count's failures go wrong, and how much seeds differ


def count_failures(records: pd.DataFrame | Result) -> dict[str, float]:
    """Where one count run's failed test prompts first go wrong, over its trained seeds.

    ``failed``: share of (seed, prompt) answers that are wrong. Of those, ``at_first``: share whose
    first wrong token is the first answer token, and ``from_end``: share that begin with the prompt's
    end number e instead of its start s (count writes s, ..., e, so e is the first target plus the
    length minus one).
    """
    table, _ = stats.trained_records(records)
    failed = table[~table["exact_match"].astype(bool)]
    if failed.empty:
        return {"failed": 0.0, "at_first": float("nan"), "from_end": float("nan")}
    first_wrong = np.array([np.argmin(correct) for correct in failed["correct"]])
    first_said = np.array([p[0] if len(p) else -1 for p in failed["prediction"]], dtype=np.int64)
    first_target = np.array([t[0] for t in failed["target"]], dtype=np.int64)
    end = first_target + failed["length"].to_numpy(dtype=np.int64) - 1
    return {
        "failed": len(failed) / len(table),
        "at_first": float(np.mean(first_wrong == 0)),
        "from_end": float(np.mean(first_said == end)),
    }


def panel_failures(shown: dict[PanelKey, Shown]) -> pd.DataFrame:
    """Per count panel and scale: mean exact match, then, over the distinct test prompts
    (:func:`distinct_answers`, since a repeated prompt is answered the same way every time),
    :func:`scalingbook.analysis.stats.seed_dispersion`, the seed's share of one answer's variance,
    and :func:`count_failures`.

    If each seed's answers vary around its own success rate (an additive seed effect), the
    dispersion R over n prompts is 1 + (n - 1) rho, where rho is the share of one answer's variance
    that the seed accounts for (the intraclass correlation): 0 for interchangeable seeds, 1 for a
    clean split. A seed-by-prompt interaction counts as chance.
    """
    rows = []
    for (task, axis), population in shown.items():
        if task != "count":
            continue
        for spec, result in zip(population.sweep.runs, population.results):
            trained, _ = stats.trained_records(result)
            distinct = distinct_answers(trained)
            n_prompts = distinct["answer"].nunique()
            dispersion = stats.seed_dispersion(distinct, example="answer")
            rows.append(
                {
                    "panel": panel_label(task, axis),
                    "scale": spec.model[AXES[axis]],
                    "distinct_prompts": n_prompts,
                    "mean_em": stats.seed_outcomes(result)["em"].mean(),
                    "dispersion": dispersion,
                    "seed_share": (dispersion - 1) / (n_prompts - 1),
                    **count_failures(distinct),
                }
            )
    return pd.DataFrame(rows)


def failure_table(failures: pd.DataFrame) -> Styler:
    """The :func:`panel_failures` rows as the page lists them, shares in percent."""
    shares = {c: "{:.0%}" for c in ("seed_share", "failed", "at_first", "from_end")}
    return failures.style.format({"mean_em": "{:.3f}", "dispersion": "{:.1f}", **shares}).hide(axis="index")


def failure_sentence(failures: pd.DataFrame) -> str:
    """What the failure table says over all its scales: how much of an answer's variance the seed
    accounts for, against the 100% of a clean split, and where the failed answers go wrong."""
    n_prompts = failures["distinct_prompts"]
    return (
        f"**In these populations**, over their {n_prompts.min()}"
        f"{'' if n_prompts.min() == n_prompts.max() else f' to {n_prompts.max()}'} distinct test prompts, "
        f"the variance of exact match across seeds is "
        f"{failures['dispersion'].min():.1f} to {failures['dispersion'].max():.1f} times what "
        f"interchangeable seeds would give: the seed accounts for {failures['seed_share'].min():.0%} to "
        f"{failures['seed_share'].max():.0%} of the variance of a single answer, where a clean split into "
        "failed and successful seeds would make it 100%. Of the failed answers, "
        f"{failures['at_first'].min():.0%} to {failures['at_first'].max():.0%} go wrong at the first answer "
        f"token, and {failures['from_end'].min():.0%} to {failures['from_end'].max():.0%} begin with the "
        "prompt's end number instead of its start."
    )


def bandwidth_sentence(
    per_seed: pd.DataFrame,
    alpha: float,
    min_prominence: float,
    rule: BimodalityRule,
    chosen: str | float,
    rules: tuple[str | float, ...] = ("scott", "silverman", "silverman-iqr"),
) -> str:
    """Whether the bimodality verdicts hinge on the kernel bandwidth: every other rule's density peak
    counts and verdicts against the chosen rule's, cell by cell (the dip test has no bandwidth, and
    the Fig. 5 bimodality marker follows the verdicts)."""
    base = panel_bimodality(per_seed, alpha, min_prominence, rule, chosen)
    parts = []
    for other in (r for r in rules if r != chosen):
        alternative = panel_bimodality(per_seed, alpha, min_prominence, rule, other)
        n_peaks = int((alternative["n_peaks"] != base["n_peaks"]).sum())
        flipped = base[alternative["multimodal"] != base["multimodal"]]
        cells = "; ".join(f"{r.panel}, {r.metric}, scale {r.scale}" for r in flipped.itertuples())
        verdicts = f"{len(flipped)} change their verdict ({cells})" if len(flipped) else "none changes its verdict"
        parts.append(
            f"with the '{other}' bandwidth, {n_peaks} of {len(base)} cells count a different number of "
            f"density peaks and {verdicts}"
        )
    return f"**Bandwidth check** (this page uses '{chosen}'): " + "; ".join(parts) + "."


def panel_distances(panels: dict[PanelKey, pd.DataFrame]) -> pd.DataFrame:
    """:func:`wasserstein_to_reference` of exact match in every panel, with a panel column."""
    return pd.concat(
        [
            wasserstein_to_reference(frame, "em", "scale").assign(panel=frame["panel"].iloc[0])
            for frame in panels.values()
        ],
        ignore_index=True,
    )


def fig5_markers(
    panels: dict[PanelKey, pd.DataFrame],
    threshold: float,
    alpha: float,
    min_prominence: float,
    rule: BimodalityRule,
    bw_method: str | float = KDE_BANDWIDTH,
) -> pd.DataFrame:
    """Both Fig. 5 markers of every panel (:func:`bimodality_emergence`, :func:`mode_breakthrough`) on
    exact match: columns ``panel, marker, scale``, the scale NaN where the event has no scale before it."""
    rows = [
        {"panel": frame["panel"].iloc[0], "marker": marker, "scale": scale}
        for frame in panels.values()
        for marker, scale in zip(
            MARKERS,
            (
                bimodality_emergence(frame, "em", "scale", alpha, min_prominence, rule, bw_method),
                mode_breakthrough(frame, "em", "scale", threshold),
            ),
        )
    ]
    return pd.DataFrame(rows, columns=["panel", "marker", "scale"])


def wasserstein_chart(distances: pd.DataFrame, markers: pd.DataFrame, sources: list[str]) -> alt.TopLevelMixin:
    """Fig. 5: W2 to the largest scale in every panel, a dashed rule at each marker that has a scale."""
    placed = markers.dropna(subset=["scale"])
    scale_x = alt.X("scale:Q", scale=alt.Scale(type="log", nice=False, zero=False), title="scale (d_model or n_layers)")
    rows = [
        alt.layer(
            alt.Chart(distances[distances["panel"] == panel])
            .mark_line(point=True, color="#000")
            .encode(
                x=scale_x,
                y=alt.Y("distance:Q", title="W2 to the largest scale"),
                tooltip=["scale:Q", alt.Tooltip("distance:Q", format=".3f")],
            ),
            alt.Chart(placed[placed["panel"] == panel])
            .mark_rule(strokeDash=[4, 4], size=2)
            .encode(
                x="scale:Q",
                color=alt.Color(
                    "marker:N", title="marker", scale=alt.Scale(domain=list(MARKERS), range=charts.PALETTE[1:3])
                ),
                tooltip=["marker:N", "scale:Q"],
            ),
        ).properties(width=420, height=110, title=panel)
        for panel in distances["panel"].unique()
    ]
    return charts.with_source(
        alt.vconcat(*rows), *sources, title="Wasserstein-2 distance to the largest scale, with the Fig. 5 markers"
    )


# ---------------------------------------------------------------------------------------------
# Fig. 1: single seeds across scales


def jump_histograms(histograms: pd.DataFrame, panel: pd.DataFrame, jump_from: float, jump_to: float) -> pd.DataFrame:
    """The panel's exact-match histograms at the two sizes (parameter counts) on either side of a seed's
    largest step, each labelled "just before" or "just after" with its size: Fig. 1's two histograms."""
    sizes = panel[["scale", "n_params"]].drop_duplicates()
    around = histograms[histograms["panel"] == panel["panel"].iloc[0]].merge(sizes, on="scale")
    around = around[around["n_params"].isin([jump_from, jump_to])]
    return around.assign(
        when=np.where(around["n_params"] == jump_from, "just before", "just after")
        + " ("
        + around["n_params"].map("{:,}".format)
        + " parameters)"
    )


def single_seeds_chart(
    panel: pd.DataFrame, shapes: pd.DataFrame, histograms: pd.DataFrame, source: str
) -> alt.TopLevelMixin:
    """Fig. 1: every seed's exact match against parameters, the highest-B and highest-L seeds drawn out,
    beside the population's histograms just before and after the highest-B seed's largest step."""
    top_b, top_l = top_seeds(shapes, "B").iloc[0], top_seeds(shapes, "L").iloc[0]
    roles = {int(top_b["seed"]): "highest B", int(top_l["seed"]): "highest L"}
    curves = panel.assign(role=panel["seed"].map(roles).fillna("other seeds"))
    params_x = alt.X("n_params:Q", scale=alt.Scale(type="log", nice=False), title="parameters")
    seed_lines = alt.layer(
        alt.Chart(curves[curves["role"] == "other seeds"])
        .mark_line(color="#bbb", opacity=0.4)
        .encode(x=params_x, y=alt.Y("em:Q", scale=alt.Scale(domain=[0, 1]), title="exact match"), detail="seed:N"),
        alt.Chart(curves[curves["role"] != "other seeds"])
        .mark_line(point=True, strokeWidth=2.5)
        .encode(
            x=params_x,
            y="em:Q",
            color=alt.Color("role:N", title="seed", scale=alt.Scale(range=charts.PALETTE)),
            detail="seed:N",
            tooltip=["seed:N", "role:N", "n_params:Q", alt.Tooltip("em:Q", format=".3f")],
        ),
    ).properties(width=300, height=220, title="Exact match of each seed")
    around_jump = (
        alt.Chart(jump_histograms(histograms, panel, top_b["jump_from"], top_b["jump_to"]))
        .mark_bar()
        .encode(
            x=alt.X("em_low:Q", bin="binned", scale=alt.Scale(domain=[0, 1]), title="exact match"),
            x2="em_high:Q",
            y=alt.Y("seeds:Q", title="seeds"),
            color=alt.Color("when:N", legend=None),
        )
        .properties(width=180, height=90)
        .facet(row=alt.Row("when:N", title=None))
    )
    return charts.with_source(
        alt.hconcat(seed_lines, around_jump),
        source,
        title=f"Seed {int(top_b['seed'])} breaks through; seed {int(top_l['seed'])} rises most linearly",
    )


def _score(value: float) -> str:
    return "infinite" if np.isinf(value) else "undefined" if np.isnan(value) else f"{value:.2f}"


def single_seeds_sentence(shapes: pd.DataFrame, n_widths: int) -> str:
    """Which seeds break through and rise linearly most, and how many step cleanly or never move (Fig. 1)."""
    top_b, top_l = top_seeds(shapes, "B").iloc[0], top_seeds(shapes, "L").iloc[0]
    return (
        f"Seed {int(top_b['seed'])} has the highest breakthroughness, B = {_score(top_b['B'])}; its largest "
        f"step is between {int(top_b['jump_from']):,} and {int(top_b['jump_to']):,} parameters. Seed "
        f"{int(top_l['seed'])} has the highest linearity, L = {_score(top_l['L'])}. Of the "
        f"{len(shapes)} seeds, {int(np.isinf(shapes['B']).sum())} have an infinite B (more than half of "
        f"their steps exactly flat) and {int((shapes['improvement'] == 0).sum())} do not change at all "
        f"across the {n_widths} widths."
    )


# ---------------------------------------------------------------------------------------------
# Conclusions: inverse scaling, and what the populations can and cannot show

FEW_SEEDS = 50  # below this many seeds per scale, a small second mode is a handful of runs


def _success_runs(frame: pd.DataFrame, threshold: float) -> tuple[pd.Index, np.ndarray, np.ndarray]:
    """One panel's runs as (seeds, scales) arrays in scale order, seed i in row i at every scale: whether
    each run succeeded, and its exact match where it succeeded (0 where it failed); NaN for a run left
    out. The paired bootstraps of P(success) and of the mean of successful runs resample these rows."""
    em = frame.pivot(index="seed", columns="scale", values="em").sort_index(axis=1)
    success = np.where(em.isna(), np.nan, em > threshold)
    good = np.where(success == 1, em, 0.0) + np.where(em.isna(), np.nan, 0.0)
    return em.columns, success, good


def _success_change(success: np.ndarray) -> np.ndarray:
    """P(success) at the second of two scales minus at the first, per resample."""
    return success[:, 1] - success[:, 0]


def success_falls(
    panels: dict[PanelKey, pd.DataFrame],
    threshold: float = SUCCESS_THRESHOLD,
    n_resamples: int = 1000,
    confidence: float = 0.95,
    rng_seed: int = 0,
) -> pd.DataFrame:
    """Neighbouring scales where P(success) falls as the scale grows, whatever the successful runs do.

    A fall that the larger model makes is a finding on its own, and it is judged like the inverse-scaling
    pairs: a paired bootstrap interval over seeds of the change, ``clear`` when it lies below zero.
    Columns ``panel, scale_from, scale_to, p_from, p_to, low, high, clear``.
    """
    rows = []
    for frame in panels.values():
        scales, success, _ = _success_runs(frame, threshold)
        p = np.nanmean(success, axis=0)
        for i in np.flatnonzero(p[1:] < p[:-1]):
            change = stats.paired_bootstrap([success[:, i : i + 2]], _success_change, n_resamples, confidence, rng_seed)
            rows.append(
                {
                    "panel": frame["panel"].iloc[0],
                    "scale_from": scales[i],
                    "scale_to": scales[i + 1],
                    "p_from": p[i],
                    "p_to": p[i + 1],
                    "low": change.low,
                    "high": change.high,
                    "clear": bool(change.high < 0),
                }
            )
    columns = ["panel", "scale_from", "scale_to", "p_from", "p_to", "low", "high", "clear"]
    return pd.DataFrame(rows, columns=columns)


def success_falls_text(falls: pd.DataFrame, confidence: float = 0.95) -> str:
    """The :func:`success_falls` pairs as a list with their paired intervals, or the sentence saying the
    grid has none."""
    if falls.empty:
        return "**P(success) never falls** from one scale to the next larger one in this grid."
    lines = [
        f"- **{r.panel}**, scale {r.scale_from} -> {r.scale_to}: P(success) {r.p_from:.2f} -> {r.p_to:.2f} "
        f"(change [{r.low:+.2f}, {r.high:+.2f}]): "
        f"{'a clear fall, the interval lies below zero' if r.clear else 'not clear, the interval includes zero'}."
        for r in falls.itertuples()
    ]
    return (
        f"**Where P(success) falls** as the scale grows (paired {confidence:.0%} bootstrap interval of each change):\n\n"
        + "\n".join(lines)
    )


def inverse_scaling(
    panels: dict[PanelKey, pd.DataFrame],
    threshold: float = SUCCESS_THRESHOLD,
    n_resamples: int = 1000,
    confidence: float = 0.95,
    rng_seed: int = 0,
) -> pd.DataFrame:
    """The :func:`success_falls` pairs where the mean of successful runs rises too (Zhao Sec. 1.7).

    Each change between the two scales gets a paired bootstrap interval over seeds
    (:func:`scalingbook.analysis.stats.paired_bootstrap`: seed i at both scales resampled together),
    and the pair is ``clear`` when the interval of the fall in P(success) lies below zero and the
    interval of the rise in the mean of successful runs above it: a test on the differences
    themselves, not on whether two separate intervals overlap. A scale without a successful run has
    no mean of successful runs and takes part in no pair. Columns ``panel, scale_from, scale_to,
    p_from, p_to, good_from, good_to, fall_low, fall_high, rise_low, rise_high, clear``.
    """

    def rise(success: np.ndarray, good: np.ndarray) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            return good[:, 1] / success[:, 1] - good[:, 0] / success[:, 0]

    falls = success_falls(panels, threshold, n_resamples, confidence, rng_seed)
    rows = []
    for frame in panels.values():
        panel = frame["panel"].iloc[0]
        scales, success, good = _success_runs(frame, threshold)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean_good = np.nansum(good, axis=0) / np.nansum(success, axis=0)
        for fall in falls[falls["panel"] == panel].itertuples():
            i = scales.get_loc(fall.scale_from)
            if not mean_good[i + 1] > mean_good[i]:
                continue
            pair = [success[:, i : i + 2], good[:, i : i + 2]]
            good_rise = stats.paired_bootstrap(pair, rise, n_resamples, confidence, rng_seed)
            rows.append(
                {
                    "panel": panel,
                    "scale_from": fall.scale_from,
                    "scale_to": fall.scale_to,
                    "p_from": fall.p_from,
                    "p_to": fall.p_to,
                    "good_from": mean_good[i],
                    "good_to": mean_good[i + 1],
                    "fall_low": fall.low,
                    "fall_high": fall.high,
                    "rise_low": good_rise.low,
                    "rise_high": good_rise.high,
                    "clear": bool(fall.clear and good_rise.low > 0),
                }
            )
    columns = ["panel", "scale_from", "scale_to", "p_from", "p_to", "good_from", "good_to"]
    return pd.DataFrame(rows, columns=[*columns, "fall_low", "fall_high", "rise_low", "rise_high", "clear"])


def inverse_scaling_text(pairs: pd.DataFrame, confidence: float = 0.95) -> str:
    """The :func:`inverse_scaling` pairs as a list with their paired intervals, or the sentence saying
    the grid has none."""
    if pairs.empty:
        return (
            "**In this grid** no pair of neighbouring scales has P(success) falling while the mean of "
            "successful runs rises (a scale with no successful run has no mean of successful runs and "
            "cannot take part)."
        )
    lines = [
        f"- **{r.panel}**, scale {r.scale_from} -> {r.scale_to}: P(success) {r.p_from:.2f} -> {r.p_to:.2f} "
        f"(change [{r.fall_low:+.2f}, {r.fall_high:+.2f}]), mean of successful runs {r.good_from:.2f} -> "
        f"{r.good_to:.2f} (change [{r.rise_low:+.2f}, {r.rise_high:+.2f}]): "
        f"{'clear, both intervals exclude zero' if r.clear else 'not clear, an interval includes zero'}."
        for r in pairs.itertuples()
    ]
    return f"**In this grid** (paired {confidence:.0%} bootstrap intervals of each change):\n\n" + "\n".join(lines)


def limits_text(
    per_seed: pd.DataFrame,
    summary: pd.DataFrame,
    bimodality: pd.DataFrame,
    profiles: dict[PanelKey, str],
    confidence: float,
    rule: BimodalityRule,
) -> str:
    """What these populations can and cannot show: where each comes from, how many seeds it has, how
    precise P(success) is, which panels never succeed, how many cells the bimodality rule passes, and
    how little a test on few seeds says."""
    seeds_per_scale = per_seed.groupby(["panel", "scale"])["seed"].nunique().groupby(level="panel").min()
    few = [panel for panel, n in seeds_per_scale.items() if n < FEW_SEEDS]
    p_success = summary[summary["statistic"] == "p_success"]
    never = [
        panel
        for panel in per_seed["panel"].unique()
        if statistic_rows(summary, panel, "p_success")["estimate"].max() == 0
    ]
    n_multimodal = int(bimodality["multimodal"].sum())
    smallest_p = bimodality["p_value"].min()
    parts = [
        "Profiles shown: " + "; ".join(f"{t} · {a}: **{profile}**" for (t, a), profile in profiles.items()) + ".",
        "Seeds per scale: " + "; ".join(f"{panel}: {n}" for panel, n in seeds_per_scale.items()) + ".",
        f"P(success) is measured in steps of 1/n, and its {confidence:.0%} intervals are on average "
        f"{(p_success['high'] - p_success['low']).mean():.2f} wide.",
        f"In {len(never)} of {per_seed['panel'].nunique()} panels ({'; '.join(never)}) no seed succeeded at any "
        "scale, so the transition from failing to succeeding lies outside that grid."
        if never
        else "Every panel has successful seeds at some scale.",
        f"{n_multimodal} of {len(bimodality)} (panel, metric, scale) cells pass the '{rule}' bimodality rule, "
        f"the smallest dip-test p-value being {smallest_p:.3g}."
        if n_multimodal
        else f"No (panel, metric, scale) cell passes the '{rule}' bimodality rule (smallest dip-test p-value "
        f"{smallest_p:.3g}).",
    ]
    if few:
        parts.append(
            f"In {'; '.join(few)}, with under {FEW_SEEDS} seeds, a second mode holds only a handful of runs, "
            "and whether the dip test rejects depends on those few draws (exercise 3 measures how often), so "
            "a failure to reject there says little about full-size populations."
        )
    if len(few) < len(seeds_per_scale):
        parts.append(
            f"With {seeds_per_scale.max()} seeds per scale the dip test can tell a mixture of two modes "
            "from one spread-out mode when both modes hold a fair share of the seeds."
        )
    return " ".join(parts)


def synthetic_mixture(seed: int) -> pd.DataFrame:
    """Exercise 3's population, whose answer is known: 200 seeds, 140 failing near EM 0 and 60
    succeeding near 0.9, in an order shuffled by ``seed``."""
    draws = np.random.default_rng(seed)
    mixture = pd.DataFrame({"seed": np.arange(200), "em": np.r_[draws.beta(1, 60, 140), draws.beta(40, 5, 60)]})
    return mixture.sample(frac=1, random_state=seed).reset_index(drop=True)
