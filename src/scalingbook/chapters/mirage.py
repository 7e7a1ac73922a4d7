"""The Mirage chapter (Schaeffer, Miranda and Koyejo 2023): emergence in the eye of the metric.

Three parts, in the chapter's order, each with the charts, tables and sentences the chapter shows:

* **The mathematical model** (Sec. 2). A family's per-token cross-entropy falls as a smooth power law
  in parameters N, ``L_CE(N) = (N / c) ** alpha`` (``c > 0``, ``alpha < 0``); a token is right with
  probability ``p = exp(-L_CE)``, an L-token answer exactly right with ``p ** L`` (sharp in log N for
  long targets), while the expected token edit distance ``L * (1 - p)`` moves smoothly. A test set of
  n items cannot resolve accuracies below ``1 / n`` (App. A).
* **Rescoring fixed outputs** (Secs. 3-4). The Emergence family's stored per-example tables
  (:func:`read_family`) scored again: exact match against token edit distance (Fig. 3, 5),
  multiple-choice grade against the Brier score (Fig. 6), exact match against target length
  (Fig. 3), a larger test set at small scale (Fig. 4). Nothing is retrained, and members that
  diverged in training are left out of every table, as in the Emergence chapter.
* **Induced emergence in vision** (Sec. 5, Figs. 7-10). From the per-image tables of
  :mod:`scalingbook.lab.vision`: Reconstruction_c (Eq. 2) and subset accuracy, the thresholded
  metrics that make smooth families look emergent.

Every sentence that states a result is built here from the numbers (the ``*_text`` and
``*_summary`` functions), so the chapter's conclusions follow its data.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import altair as alt
import numpy as np
import pandas as pd
from pandas.io.formats.style import Styler

from scalingbook.analysis import metrics, stats
from scalingbook.chapters import charts, emergence
from scalingbook.lab import vision
from scalingbook.lab.store import Result
from scalingbook.lab.sweeps import RunSpec, Sweep, component, load_tables, runs_line, without_diverged
from scalingbook.lab.tasks import Mixture

# The mathematical model (Sec. 2)


def per_token_cross_entropy(n_params: np.ndarray, c: float, alpha: float) -> np.ndarray:
    """``L_CE(N) = (N / c) ** alpha`` (Schaeffer et al. 2023, Sec. 2); falls with N since alpha < 0."""
    if c <= 0:
        raise ValueError(f"c must be > 0, got {c}")
    if alpha >= 0:
        raise ValueError(f"alpha must be < 0 so that loss falls with scale, got {alpha}")
    return (np.asarray(n_params, dtype=float) / c) ** alpha


def per_token_correct(cross_entropy: np.ndarray) -> np.ndarray:
    """Probability of the correct token under a one-hot target: ``exp(-L_CE)``."""
    return np.exp(-np.asarray(cross_entropy, dtype=float))


def model_exact_match(p_token: np.ndarray, length: int) -> np.ndarray:
    """Expected exact match of an L-token target with independent tokens: ``p ** L``."""
    return np.asarray(p_token, dtype=float) ** length


def model_edit_distance(p_token: np.ndarray, length: int) -> np.ndarray:
    """Expected token edit distance of an L-token target: ``L * (1 - p)`` (Sec. 2)."""
    return length * (1.0 - np.asarray(p_token, dtype=float))


def resolution(test_set_size: int) -> float:
    """The smallest non-zero accuracy a test set of n items can report: ``1 / n`` (App. A)."""
    if test_set_size < 1:
        raise ValueError(f"test_set_size must be >= 1, got {test_set_size}")
    return 1.0 / test_set_size


def model_curves(n_params: np.ndarray, c: float, alpha: float, lengths: list[int], test_set_size: int) -> pd.DataFrame:
    """All quantities of the model on a grid of sizes and target lengths, one row per (N, L).

    ``p_all_wrong`` is the chance that a test set of n items holds no exact match at all,
    ``(1 - p**L) ** n``: where it is near 1 the measured accuracy reads as zero.
    """
    n_params = np.asarray(n_params, dtype=float)
    ce = per_token_cross_entropy(n_params, c, alpha)
    p = per_token_correct(ce)
    frames = []
    for length in lengths:
        em = model_exact_match(p, length)
        frames.append(
            pd.DataFrame(
                {
                    "n_params": n_params,
                    "length": length,
                    "cross_entropy": ce,
                    "p_token": p,
                    "exact_match": em,
                    "edit_distance": model_edit_distance(p, length),
                    "p_all_wrong": (1.0 - em) ** test_set_size,
                    "resolvable": em >= resolution(test_set_size),
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def params_for_exact_match(accuracy: float, length: int, c: float, alpha: float) -> float:
    """The model size N at which expected exact match ``p(N) ** L`` equals ``accuracy``.

    Inverts the model of Sec. 2 in closed form: ``p = accuracy ** (1 / L)``, so
    ``L_CE = -ln(accuracy) / L`` and ``N = c * L_CE ** (1 / alpha)``. Exact match rises with N, so
    every larger model does at least as well: this is where an L-token task "emerges" at that level.
    """
    if not 0 < accuracy < 1:
        raise ValueError(f"accuracy must be in (0, 1), got {accuracy}")
    if length < 1:
        raise ValueError(f"length must be >= 1, got {length}")
    if c <= 0 or alpha >= 0:
        raise ValueError(f"need c > 0 and alpha < 0, got c={c}, alpha={alpha}")
    cross_entropy = -np.log(accuracy) / length
    return float(c * cross_entropy ** (1.0 / alpha))


def min_test_set_size(exact_match_rate: float, confidence: float = 0.95) -> int:
    """The fewest test items n for which at least one exact match shows up with chance ``confidence``.

    A test set reads zero with probability ``(1 - p**L) ** n`` (App. A); the smallest n with
    ``(1 - em) ** n <= 1 - confidence`` is ``ceil(ln(1 - confidence) / ln(1 - em))``. Below that size
    a model that is already improving is likely to be reported as scoring exactly zero.
    """
    if not 0 < exact_match_rate <= 1:
        raise ValueError(f"exact_match_rate must be in (0, 1], got {exact_match_rate}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    if exact_match_rate == 1:
        return 1
    return max(1, math.ceil(math.log1p(-confidence) / math.log1p(-exact_match_rate)))


def fit_cross_entropy_power_law(n_params: np.ndarray, token_accuracy: np.ndarray) -> tuple[float, float]:
    """Recover ``(c, alpha)`` of ``L_CE = (N / c) ** alpha`` from measured per-token accuracies.

    Since ``-ln p = (N / c) ** alpha``, ``ln(-ln p) = alpha ln N - alpha ln c`` is a straight line in
    ``ln N``; an ordinary least-squares fit gives alpha as the slope. Accuracies of exactly 0 or 1 (a
    finite sample saw no correct or no wrong token) carry no information on that scale and are dropped.
    """
    n_params = np.asarray(n_params, dtype=float)
    token_accuracy = np.asarray(token_accuracy, dtype=float)
    if n_params.shape != token_accuracy.shape:
        raise ValueError(f"n_params and token_accuracy differ in shape: {n_params.shape} vs {token_accuracy.shape}")
    usable = (token_accuracy > 0) & (token_accuracy < 1) & (n_params > 0)
    if usable.sum() < 2:
        raise ValueError("need at least two accuracies strictly between 0 and 1 to fit a power law")
    log_n = np.log(n_params[usable])
    slope, intercept = np.polyfit(log_n, np.log(-np.log(token_accuracy[usable])), 1)
    return float(np.exp(-intercept / slope)), float(slope)


def sample_token_accuracy(n_params: np.ndarray, c: float, alpha: float, tokens: int, seed: int) -> pd.DataFrame:
    """Per-token accuracy as a finite evaluation measures it: ``Binomial(tokens, p(N)) / tokens``.

    The noisy curve a lab would see from ``tokens`` scored tokens per model, for fitting exercises;
    deterministic given ``seed``.
    """
    if tokens < 1:
        raise ValueError(f"tokens must be >= 1, got {tokens}")
    n_params = np.asarray(n_params, dtype=float)
    p = per_token_correct(per_token_cross_entropy(n_params, c, alpha))
    correct = np.random.default_rng(seed).binomial(tokens, p)
    return pd.DataFrame({"n_params": n_params, "tokens": tokens, "correct": correct, "accuracy": correct / tokens})


def params_grid(log10_min: float, log10_max: float, points: int = 121) -> np.ndarray:
    """Model sizes spread evenly in log N between ``10 ** log10_min`` and ``10 ** log10_max``, where the model is drawn."""
    if log10_min >= log10_max:
        raise ValueError("log10_params_min must be below log10_params_max")
    return np.logspace(log10_min, log10_max, points)


def _model_source(c: float, alpha: float) -> str:
    """The source line of every chart of the closed-form model."""
    return f"closed-form model with c = {c:g}, alpha = {alpha:g}"


def _model_params_x() -> alt.X:
    """The model charts' x axis: N over many decades, in powers of ten."""
    return alt.X("n_params:Q", scale=alt.Scale(type="log"), axis=alt.Axis(format=".0e"), title="parameters N")


LENGTH_COLOUR = alt.Color("length:O", title="target length L")


def loss_chart(model: pd.DataFrame, c: float, alpha: float) -> alt.TopLevelMixin:
    """Per-token cross-entropy and p(token correct) against N (:func:`model_curves`): nothing sudden."""
    per_token = model[model["length"] == model["length"].iloc[0]]
    base = alt.Chart(per_token).encode(x=_model_params_x())
    ce_chart = base.mark_line().encode(
        y=alt.Y("cross_entropy:Q", scale=alt.Scale(type="log"), title="per-token cross-entropy (nats)")
    )
    p_chart = base.mark_line(color=charts.PALETTE[1]).encode(
        y=alt.Y("p_token:Q", title="p(token correct)", scale=alt.Scale(domain=[0, 1]))
    )
    return charts.with_source(
        alt.hconcat(ce_chart, p_chart),
        _model_source(c, alpha),
        title="Loss falls smoothly, and so does the per-token error",
    )


def model_metrics_chart(model: pd.DataFrame, c: float, alpha: float) -> alt.TopLevelMixin:
    """Exact match p^L beside edit distance L(1 - p) for every target length of ``model``, a length
    picked out by clicking the legend: the same model under two metrics."""
    pick = alt.selection_point(fields=["length"], bind="legend")
    lines = (
        alt.Chart(model)
        .mark_line()
        .encode(
            x=_model_params_x(),
            color=LENGTH_COLOUR,
            opacity=alt.condition(pick, alt.value(1.0), alt.value(0.15)),
            tooltip=["length:O", alt.Tooltip("n_params:Q", format=".3s"), "exact_match:Q", "edit_distance:Q"],
        )
    )
    em_chart = lines.encode(y=alt.Y("exact_match:Q", title="exact match  p^L")).properties(
        title="Exact match: looks emergent"
    )
    ted_chart = lines.encode(y=alt.Y("edit_distance:Q", title="token edit distance  L(1 - p)")).properties(
        title="Token edit distance: smooth"
    )
    lengths = [int(length) for length in model["length"].unique()]
    return charts.with_source(
        alt.hconcat(em_chart.add_params(pick), ted_chart),
        f"{_model_source(c, alpha)}, L in {lengths}",
        title="The same model under two metrics",
    )


def resolution_chart(model: pd.DataFrame, c: float, alpha: float, test_set_size: int) -> alt.TopLevelMixin:
    """Expected exact match on a log scale with the ``1 / n`` floor of a test set of n items (App. A),
    n picked from a menu of powers of ten and ``test_set_size``; curves fade where n cannot resolve them."""
    n_params = model["n_params"].unique()
    lengths = [int(length) for length in model["length"].unique()]
    sizes = sorted({10, 100, 1_000, 10_000, 100_000, test_set_size})
    by_size = pd.concat(
        [model_curves(n_params, c, alpha, lengths, n).assign(test_set_size=n, floor=1.0 / n) for n in sizes],
        ignore_index=True,
    )
    size_choice = alt.param(
        name="n_test", value=test_set_size, bind=alt.binding_select(options=sizes, name="test-set size n: ")
    )
    visible = alt.Chart(by_size).transform_filter("datum.test_set_size == n_test")
    floor = visible.mark_rule(strokeDash=[4, 4], color="#888").encode(y="mean(floor):Q")
    em_lines = visible.mark_line().encode(
        x=_model_params_x(),
        y=alt.Y(
            "exact_match:Q", scale=alt.Scale(type="log", domain=[1e-6, 1], clamp=True), title="expected exact match"
        ),
        color=LENGTH_COLOUR,
        opacity=alt.condition("datum.resolvable", alt.value(1.0), alt.value(0.25)),
    )
    return charts.with_source(
        (em_lines + floor).add_params(size_choice),
        f"{_model_source(c, alpha)}; dashed rule at 1/n",
        title="Below 1/n a test set reports zero",
    )


def first_resolvable(model: pd.DataFrame) -> Styler:
    """Per target length, the smallest model whose expected exact match the test set resolves
    (``resolvable`` of :func:`model_curves`), with the per-token accuracy it already has there."""
    table = (
        model[model["resolvable"]]
        .sort_values(["length", "n_params"])
        .groupby("length", as_index=False)
        .first()[["length", "n_params", "p_token", "exact_match", "edit_distance"]]
        .rename(columns={"n_params": "smallest resolvable N", "p_token": "p(token) there"})
    )
    return table.style.format(
        {
            "smallest resolvable N": "{:.3g}",
            "p(token) there": "{:.3f}",
            "exact_match": "{:.2e}",
            "edit_distance": "{:.2f}",
        }
    ).hide(axis="index")


# Rescoring the Emergence family's stored outputs (Secs. 3-4)


class Metric(NamedTuple):
    """How a metric is named on a chart, and which way is better."""

    title: str
    higher_is_better: bool


METRICS: dict[str, Metric] = {
    "em": Metric("exact match", True),
    "edit_distance": Metric("token edit distance", False),
    "token_accuracy": Metric("per-token accuracy", True),
    "log_likelihood": Metric("target log-likelihood (nats)", True),
    "grade": Metric("multiple-choice grade", True),
    "brier": Metric("Brier score", False),
}
SWAP_METRICS = (*emergence.RECORD_METRICS, "brier")
"""The metrics the stored outputs are rescored under, exact match (the reference) first."""
QUICK_CAVEAT = (
    "The quick profile's models train for minutes on a CPU, so read this for the method, not the result; "
    "the full profile is the experiment."
)


def _labels(spec: RunSpec) -> tuple[str, ...]:
    """The task names of a run, by component index."""
    return emergence.mixture_of(spec).labels


def _stored(spec: RunSpec, result: Result | None, table: str) -> Result:
    """The run's stored ``table``, which the analysis needs."""
    if result is None:
        raise ValueError(f"{table}: run {spec.key} has no stored table; train the sweep first (scalingbook sweep)")
    return result


def divergence_text(outcomes: pd.DataFrame) -> str:
    """How many diverged seeds were left out, per size (:func:`scalingbook.analysis.stats.divergence_note`)."""
    return stats.divergence_note(outcomes.assign(size="d_model " + outcomes["d_model"].astype(str)), ["size"])


@dataclass(frozen=True)
class Family:
    """The Emergence chapter's direct-prompting family as Mirage reads it: per run, its stored
    ``records`` and its ``choices`` and ``large`` test tables (None where a run has none)."""

    sweep: Sweep
    profile: str
    records: list[Result]
    choices: list[Result | None]
    large: list[Result | None]
    pending: int = 0
    """Larger runs of the family not stored yet (a full family trained over several sittings)."""

    @property
    def mixture(self) -> Mixture:
        return emergence.mixture_of(self.sweep.runs[0])

    @property
    def labels(self) -> tuple[str, ...]:
        return self.mixture.labels

    def sources(self) -> dict[str, str]:
        """Where each kind of table came from, for chart sources ('' for a kind not stored)."""
        large = [t for t in self.large if t is not None]
        last_choices = self.choices[-1]
        return {
            "records": runs_line(self.records, self.pending),
            "large": runs_line(large) if large else "",
            "choices": runs_line([c for c in self.choices if c is not None]) if last_choices else "",
        }

    def stored_sources(self) -> list[str]:
        """The page header's lines for the tables this family has."""
        return [source for source in self.sources().values() if source]


def read_family(emergence_profile: str, device: str) -> Family:
    """The family the chapter rescores: the committed full one when ``emergence_profile`` is auto or
    full and it is stored (never retrained), else the quick one, read or trained here as in the
    Emergence chapter. Its profile is chosen on its own: the vision results may be full while it is not yet."""
    shown = emergence.read_family("direct", "full" if emergence_profile == "auto" else emergence_profile, device)
    return Family(
        shown.sweep,
        shown.profile,
        list(shown.results),
        load_tables(shown.sweep, "choices", shown.profile),
        load_tables(shown.sweep, "large", shown.profile),
        len(shown.pending),
    )


def metric_curves(
    outcomes: pd.DataFrame, names: list[str] | tuple[str, ...], n_resamples: int, confidence: float, rng_seed: int
) -> pd.DataFrame:
    """Mean over seeds of each metric in ``names`` per (task, size), with bootstrap bands over seeds.

    ``outcomes`` has one row per (task, size, seed) and a column per metric
    (:func:`emergence.run_outcomes` with ``names``, or :func:`choice_outcomes`). Long format, columns
    ``metric, task, d_model, n_params, flops, mean, low, high, n_seeds``: one curve per (task, metric),
    the analogue of Schaeffer et al.'s Fig. 3 panels, one metric beside the other on the same runs.
    Missing values (a metric not measured on a task) are left out.
    """
    unknown = [n for n in names if n not in METRICS]
    if unknown:
        raise ValueError(f"names: unknown metric(s) {unknown}; expected some of {list(METRICS)}")
    long = outcomes.melt(
        id_vars=["task", "d_model", "n_params", "flops", "seed"],
        value_vars=list(names),
        var_name="metric",
        value_name="mean",
    )
    long = long.dropna(subset=["mean"])  # a metric measured on some tasks only (multiple choice)
    long["metric"] = pd.Categorical(long["metric"], categories=list(names))  # keep the caller's order
    curves = emergence.mean_curves(long, n_resamples, confidence, rng_seed, value="mean", by=["metric"])
    return curves.assign(metric=curves["metric"].astype(str))


def metric_emergence_scores(curves: pd.DataFrame, clip: float = 100.0) -> pd.DataFrame:
    """Emergence score B of every (task, metric) mean curve against parameters, oriented so up is better.

    Schaeffer et al. 2023, Eq. 1 (BIG-bench breakthroughness, :func:`emergence.curve_breakthroughness`),
    clipped to ``[-clip, clip]``. B counts a rise as positive, so a metric where lower is better
    (edit distance, Brier score) is scored on its negated curve: a model family that improves gets a
    positive B under every metric. A curve that never leaves its start (:func:`emergence.is_flat`)
    gets no B (NaN) and ``flat`` True. Columns: ``task, metric, B, flat, smallest, largest`` (the
    curve's mean at the smallest and largest size, not negated).
    """
    rows = []
    for (task, name), curve in curves.groupby(["task", "metric"], sort=False):
        curve = curve.sort_values("n_params")
        sign = 1.0 if METRICS[name].higher_is_better else -1.0
        rows.append(
            {
                "task": task,
                "metric": name,
                "B": emergence.curve_breakthroughness(curve, "mean", sign, clip),
                "flat": emergence.is_flat(curve),
                "smallest": curve["mean"].iloc[0],
                "largest": curve["mean"].iloc[-1],
            }
        )
    return pd.DataFrame(rows)


def sharpness(
    outcomes: pd.DataFrame,
    scores: pd.DataFrame,
    reference: str,
    others: list[str] | tuple[str, ...],
    n_resamples: int,
    confidence: float,
    rng_seed: int,
    clip: float = 100.0,
) -> pd.DataFrame:
    """Is ``reference`` (exact match, or grade) more step-like than each metric of ``others``, task by task?

    Schaeffer et al.'s claim (Secs. 3-4) is a difference: the same outputs score a higher B under
    the all-or-nothing metric than under a continuous one. Its interval comes from resampling seeds
    jointly for both metrics (:func:`scalingbook.analysis.stats.paired_bootstrap`), B of each resampled mean
    curve oriented as in :func:`metric_emergence_scores` and clipped at ``clip``. ``outcomes`` has one row
    per (task, size, seed) with a column per metric; ``scores`` is :func:`metric_emergence_scores` of
    their curves; a metric not measured on a task is skipped there. Columns: ``task, metric,
    B_reference, B_metric, difference, low, high, verdict``:
    ``sharper`` (the reference's B is higher: ``low > 0``), ``smoother`` (``high < 0``), ``no clear
    difference``, or ``flat`` when either curve never leaves its start (no B to compare).
    """
    indexed = scores.set_index(["task", "metric"])
    rows = []
    for task, group in outcomes.groupby("task", sort=False):
        ref, sizes = emergence.seed_matrix(group, reference)
        for name in [n for n in others if group[n].notna().any()]:
            other, _ = emergence.seed_matrix(group, name)
            signs = [1.0 if METRICS[m].higher_is_better else -1.0 for m in (reference, name)]

            def difference(
                a: np.ndarray, b: np.ndarray, signs: list[float] = signs, sizes: np.ndarray = sizes
            ) -> np.ndarray:
                return metrics.breakthroughness(signs[0] * a, sizes, clip=clip) - metrics.breakthroughness(
                    signs[1] * b, sizes, clip=clip
                )

            b_ref, b_other = indexed.loc[(task, reference), "B"], indexed.loc[(task, name), "B"]
            interval = stats.paired_bootstrap([ref, other], difference, n_resamples, confidence, rng_seed)
            verdict = (
                "flat"
                if np.isnan(b_ref) or np.isnan(b_other)
                else "sharper"
                if interval.low > 0
                else "smoother"
                if interval.high < 0
                else "no clear difference"
            )
            rows.append(
                {
                    "task": task,
                    "metric": name,
                    "B_reference": b_ref,
                    "B_metric": b_other,
                    "difference": b_ref - b_other,
                    "low": interval.low,
                    "high": interval.high,
                    "verdict": verdict,
                }
            )
    return pd.DataFrame(rows)


@dataclass(frozen=True)
class Swap:
    """One set of outcomes under several metrics, the first the all-or-nothing reference: the mean
    curves (:func:`metric_curves`), their B (:func:`metric_emergence_scores`) and the reference's
    sharpness against each other metric (:func:`sharpness`)."""

    outcomes: pd.DataFrame
    names: tuple[str, ...]
    curves: pd.DataFrame
    scores: pd.DataFrame
    sharpness: pd.DataFrame

    @property
    def reference(self) -> str:
        return self.names[0]


def swap_metrics(
    outcomes: pd.DataFrame, names: list[str] | tuple[str, ...], n_resamples: int, confidence: float
) -> Swap:
    """Score ``outcomes`` under ``names`` (the reference first) and compare the reference with the rest."""
    curves = metric_curves(outcomes, names, n_resamples, confidence, rng_seed=0)
    scores = metric_emergence_scores(curves)
    compared = sharpness(outcomes, scores, names[0], names[1:], n_resamples, confidence, 0)
    return Swap(outcomes, tuple(names), curves, scores, compared)


def choice_outcomes(sweep: Sweep, records: list[Result], tables: list[Result | None]) -> pd.DataFrame:
    """Multiple-choice grade and Brier score per (size, seed), from stored option log-likelihoods.

    Schaeffer et al. 2023, Sec. 4 and Fig. 6 (LaMDA on BIG-bench): the grade credits the option of
    highest likelihood (:func:`metrics.multiple_choice_grade`); the Brier score
    (:func:`metrics.brier_score`, lower is better) scores the softmax of the option log-likelihoods
    (:func:`metrics.option_probabilities`). Seeds that diverged in training (read beside each run's
    ``records``) are left out. Columns: ``task, d_model, n_params, flops, seed, grade, brier,
    n_examples, n_options, n_diverged``.
    """
    rows = []
    for spec, run, result in zip(sweep.runs, records, tables):
        table, n_diverged = without_diverged(_stored(spec, result, "choices").table, run)
        options = list(table["option_logprob"])
        correct = table["correct"].to_numpy().astype(np.int64)
        scored = pd.DataFrame(
            {
                "component": table["component"].to_numpy(),
                "seed": table["seed"].to_numpy(),
                "grade": metrics.multiple_choice_grade(options, correct),
                "brier": metrics.brier_score(metrics.option_probabilities(options), correct),
                "n_options": [len(o) for o in options],
            }
        )
        per_seed = scored.groupby(["component", "seed"], as_index=False).agg(
            grade=("grade", "mean"),
            brier=("brier", "mean"),
            n_examples=("grade", "size"),
            n_options=("n_options", "max"),
        )
        labels = _labels(spec)
        rows.append(
            per_seed.assign(
                task=[labels[c] for c in per_seed["component"]], **emergence.size_columns(spec), n_diverged=n_diverged
            )
        )
    return pd.concat(rows, ignore_index=True).drop(columns="component")


def rescored_outcomes(family: Family, choices: pd.DataFrame) -> pd.DataFrame:
    """Per (task, size, seed): the records under every :data:`SWAP_METRICS` metric, the Brier score
    (and grade) of the multiple-choice variant beside them (NaN where a task has none)."""
    return emergence.run_outcomes(family.sweep, family.records, list(emergence.RECORD_METRICS)).merge(
        choices[["task", "d_model", "seed", "grade", "brier"]], on=["task", "d_model", "seed"], how="left"
    )


DECADES = [10.0**k for k in range(16)]
"""Log axes of parameters or prompts: a label per power of ten, none in between."""


def _params_x() -> alt.X:
    """The family charts' x axis: parameters, labelled once per decade."""
    return alt.X(
        "n_params:Q",
        scale=alt.Scale(type="log", nice=False),
        axis=alt.Axis(format="~s", values=DECADES),
        title="parameters",
    )


def _titles(names: list[str] | tuple[str, ...] | pd.Series) -> list[str]:
    """The chart titles of metric names."""
    return [METRICS[name].title for name in names]


def metric_panels(swap: Swap, labels: tuple[str, ...], width: int, *sources: str, title: str) -> alt.TopLevelMixin:
    """One row of panels per task, one column per metric: each curve's mean over seeds with its bootstrap band."""
    base = alt.Chart().encode(x=_params_x())
    return charts.with_source(
        alt.layer(
            base.mark_area(opacity=0.25, color=charts.PALETTE[0]).encode(y=alt.Y("low:Q", title=None), y2="high:Q"),
            base.mark_line(point=True, color=charts.PALETTE[0]).encode(
                y=alt.Y("mean:Q", scale=alt.Scale(zero=False)),
                tooltip=[
                    "task:N",
                    "metric_title:N",
                    alt.Tooltip("n_params:Q", format=","),
                    alt.Tooltip("mean:Q", format=".3f"),
                    alt.Tooltip("low:Q", format=".3f"),
                    alt.Tooltip("high:Q", format=".3f"),
                ],
            ),
            data=swap.curves.assign(metric_title=_titles(swap.curves["metric"])),
        )
        .properties(width=width, height=95)
        .facet(
            row=alt.Row("task:N", title=None, sort=list(labels)),
            column=alt.Column("metric_title:N", title=None, sort=_titles(swap.names)),
        )
        .resolve_scale(y="independent"),
        *sources,
        title=title,
    )


def b_table(swap: Swap, labels: tuple[str, ...], caption: str) -> Styler:
    """B of every (task, metric) curve, tasks in the family's order; "flat" where a curve has no B."""
    table = swap.scores.pivot(index="task", columns="metric", values="B").reindex(
        index=[t for t in labels if t in set(swap.scores["task"])], columns=list(swap.names)
    )
    negated = {
        name: f"B, {METRICS[name].title}" + ("" if METRICS[name].higher_is_better else " (negated)")
        for name in swap.names
    }
    return table.rename(columns=negated).style.format("{:.1f}", na_rep="flat").set_caption(caption)


def sharpness_table(swap: Swap, caption: str) -> Styler:
    """The reference's B against each other metric's, task by task, with the paired interval and verdict."""
    sharp = swap.sharpness
    return (
        sharp.assign(metric=_titles(sharp["metric"]))
        .style.format(
            {
                "B_reference": "{:.1f}",
                "B_metric": "{:.1f}",
                "difference": "{:+.1f}",
                "low": "{:+.1f}",
                "high": "{:+.1f}",
            },
            na_rep="flat",
        )
        .hide(axis="index")
        .set_caption(caption)
    )


def sharpness_summary(sharp: pd.DataFrame, reference: str) -> str:
    """Per task, which metrics the ``reference`` is clearly more step-like than (:func:`sharpness`),
    which clearly less, and which curves are flat; then how many tasks have at least one clearly
    smoother continuous metric, the count Schaeffer et al.'s thesis predicts to be all of them."""
    title = METRICS[reference].title
    lines, sharper_somewhere = [], 0
    for task, rows in sharp.groupby("task", sort=False):
        named = {
            v: ", ".join(METRICS[m].title for m in rows.loc[rows["verdict"] == v, "metric"])
            for v in ("sharper", "smoother", "no clear difference", "flat")
        }
        sharper_somewhere += bool(named["sharper"])
        compared = "; ".join(
            p
            for p in (
                f"clearly higher than under {named['sharper']}" if named["sharper"] else "",
                f"clearly lower than under {named['smoother']}" if named["smoother"] else "",
                f"not clearly different from {named['no clear difference']}" if named["no clear difference"] else "",
            )
            if p
        )
        parts = [
            f"B under {title} is {compared}" if compared else "",
            f"no B to compare with {named['flat']} (a flat curve)" if named["flat"] else "",
        ]
        lines.append(f"- **`{task}`**: " + "; ".join(p for p in parts if p) + ".")
    return (
        "\n".join(lines) + f"\n\nIn all, {sharper_somewhere} of {sharp['task'].nunique()} tasks have a continuous "
        f"metric whose B is clearly below that of {title}."
    )


def rescoring_text(swap: Swap, profile: str) -> str:
    """What the rescoring of the records shows, per task (:func:`sharpness_summary`), and which seeds were left out."""
    n_sizes = swap.curves["n_params"].nunique()
    return (
        f"**What the rescoring shows** ({profile} profile, {n_sizes} sizes, so a straight line scores "
        f"B = {n_sizes - 1}):\n\n"
        + sharpness_summary(swap.sharpness, swap.reference)
        + (f"\n\n{QUICK_CAVEAT}" if profile == "quick" else "")
        + "\n\n"
        + divergence_text(swap.outcomes)
    )


def choices_text(swap: Swap, profile: str) -> str:
    """What the multiple-choice variant shows: grade against Brier score per task, and which seeds were left out."""
    return (
        f"**What multiple choice shows** ({profile} profile):\n\n"
        + sharpness_summary(swap.sharpness, swap.reference)
        + "\n\n"
        + divergence_text(swap.outcomes)
    )


def choices_chart(swap: Swap, labels: tuple[str, ...], confidence: float, source: str) -> alt.TopLevelMixin:
    """Grade and Brier score per task (:func:`metric_panels`), with the chance levels of k options."""
    k_options = int(swap.outcomes["n_options"].max())
    return metric_panels(
        swap,
        labels,
        150,
        source,
        f"{k_options} options; mean over seeds, {100 * confidence:g}% bootstrap bands; chance: grade {1 / k_options:.2f}, "
        f"Brier {1 - 1 / k_options:.2f}",
        title="The same option likelihoods under two metrics, per task",
    )


# Exact match against target length, and against p^L (Sec. 2 on the stored outputs)


def addition_labels(mixture: Mixture) -> list[str]:
    """The mixture's addition tasks, whose answers differ in digit count and so in target length."""
    return [label for label in mixture.labels if getattr(component(mixture, label), "op", None) == "+"]


def length_outcomes(sweep: Sweep, results: list[Result], labels: list[str] | tuple[str, ...]) -> pd.DataFrame:
    """Exact match, edit distance and per-token correctness per (size, seed, target length).

    Pools the records of the components ``labels`` (say, the addition tasks, whose answers have
    different digit counts) and groups them by ``target_len`` (answer tokens, EOS included): the
    data behind Schaeffer et al.'s Fig. 3, where exact match falls about geometrically with target
    length and token edit distance rises about linearly. ``correct_tokens`` counts teacher-forced
    hits (``tf_correct``), the per-token accuracy whose L-th power predicts exact match. Seeds that
    diverged in training are left out (``n_diverged`` counts them). Columns: ``d_model, n_params,
    flops, seed, target_len, em, edit_distance, correct_tokens, tokens, n_examples, n_diverged``.
    """
    rows = []
    for spec, result in zip(sweep.runs, results):
        table, n_diverged = without_diverged(_stored(spec, result, "records").table, result)
        task_labels = _labels(spec)
        unknown = [label for label in labels if label not in task_labels]
        if unknown:
            raise ValueError(f"labels: {unknown} are not components of {spec.sweep}; it has {list(task_labels)}")
        picked = table[table["component"].isin([task_labels.index(label) for label in labels])]
        scored = pd.concat(
            [
                picked[["seed", "target_len"]].reset_index(drop=True),
                emergence.record_scores(picked, ["em", "edit_distance", "token_accuracy"]).reset_index(drop=True),
            ],
            axis=1,
        )
        scored["hits"] = scored["token_accuracy"] * scored["target_len"]
        per_seed = scored.groupby(["seed", "target_len"], as_index=False).agg(
            em=("em", "mean"),
            edit_distance=("edit_distance", "mean"),
            correct_tokens=("hits", "sum"),
            n_examples=("em", "size"),
        )
        rows.append(
            per_seed.assign(
                tokens=per_seed["target_len"].astype(np.int64) * per_seed["n_examples"],
                **emergence.size_columns(spec),
                n_diverged=n_diverged,
            )
        )
    frame = pd.concat(rows, ignore_index=True)
    frame["target_len"] = frame["target_len"].astype(np.int64)
    return frame[
        [
            "d_model",
            "n_params",
            "flops",
            "seed",
            "target_len",
            "em",
            "edit_distance",
            "correct_tokens",
            "tokens",
            "n_examples",
            "n_diverged",
        ]
    ]


def token_accuracy_by_size(lengths: pd.DataFrame) -> pd.DataFrame:
    """Measured per-token accuracy p of each model size: correct answer tokens over all answer tokens.

    Pooled over target lengths within a seed, then averaged over seeds. This is the p of Schaeffer
    et al.'s Sec. 2 model read off the outputs themselves: the share of answer tokens that are the
    model's teacher-forced argmax. Columns: ``d_model, n_params, p_token``.
    """
    per_seed = lengths.groupby(["d_model", "n_params", "seed"], as_index=False)[["correct_tokens", "tokens"]].sum()
    per_seed["p_token"] = per_seed["correct_tokens"] / per_seed["tokens"]
    return per_seed.groupby(["d_model", "n_params"], as_index=False)["p_token"].mean()


def length_curves(lengths: pd.DataFrame) -> pd.DataFrame:
    """Mean over seeds of exact match and edit distance per (size, target length), beside the Sec. 2 model.

    ``em_model = p ** L`` and ``edit_distance_model = L * (1 - p)`` (:func:`model_exact_match`, :func:`model_edit_distance`)
    with p the size's measured per-token accuracy (:func:`token_accuracy_by_size`) and L the target
    length: what the outputs would score if every token were right independently with probability p.
    Columns: ``d_model, n_params, target_len, em, edit_distance, n_examples, p_token, em_model,
    edit_distance_model``.
    """
    means = lengths.groupby(["d_model", "n_params", "target_len"], as_index=False).agg(
        em=("em", "mean"), edit_distance=("edit_distance", "mean"), n_examples=("n_examples", "sum")
    )
    out = means.merge(token_accuracy_by_size(lengths), on=["d_model", "n_params"])
    out["em_model"] = model_exact_match(out["p_token"].to_numpy(), out["target_len"].to_numpy())
    out["edit_distance_model"] = model_edit_distance(out["p_token"].to_numpy(), out["target_len"].to_numpy())
    return out.sort_values(["n_params", "target_len"], ignore_index=True)


def evenly_spaced(values: list[float] | np.ndarray, k: int) -> list[float]:
    """``k`` of the sorted distinct ``values``, spread evenly by rank, the smallest and largest included.

    Picks the few model sizes a chart draws out of a family (all of them when ``k`` is at least
    their number).
    """
    distinct = np.unique(np.asarray(values))
    if k < 1:
        raise ValueError(f"k: expected at least one value to pick, got {k}")
    if distinct.size == 0:
        raise ValueError("values: expected at least one value")
    ranks = np.unique(np.rint(np.linspace(0, distinct.size - 1, min(k, distinct.size))).astype(int))
    return distinct[ranks].tolist()


def length_chart(lengths: pd.DataFrame, k_sizes: int, labels: list[str], source: str) -> alt.TopLevelMixin:
    """Exact match and edit distance against target length for ``k_sizes`` sizes spread over the family
    (:func:`evenly_spaced`): measured points beside the independent-token model's dashed lines."""
    by_length = length_curves(lengths)
    shown = by_length[by_length["n_params"].isin(evenly_spaced(by_length["n_params"], k_sizes))]
    base = alt.Chart(shown).encode(
        x=alt.X("target_len:Q", title="target length L (tokens, EOS included)", axis=alt.Axis(tickMinStep=1)),
        color=alt.Color("n_params:O", title="parameters", scale=alt.Scale(scheme="viridis")),
    )

    def measured_and_model(measured: str, predicted: str, title: str) -> alt.LayerChart:
        return alt.LayerChart(
            layer=[
                base.mark_line(strokeDash=[4, 3], strokeWidth=1.5).encode(y=f"{predicted}:Q"),
                base.mark_point(filled=True, size=60).encode(
                    y=alt.Y(f"{measured}:Q", title=title),
                    tooltip=[
                        alt.Tooltip("n_params:Q", format=","),
                        "target_len:Q",
                        alt.Tooltip(f"{measured}:Q", format=".3f"),
                        alt.Tooltip(f"{predicted}:Q", format=".3f"),
                        alt.Tooltip("p_token:Q", format=".3f"),
                        "n_examples:Q",
                    ],
                ),
            ]
        )

    return charts.with_source(
        alt.hconcat(
            measured_and_model("em", "em_model", "exact match").properties(title="Exact match (model: p^L)"),
            measured_and_model("edit_distance", "edit_distance_model", "token edit distance").properties(
                title="Token edit distance (model: L(1 - p))"
            ),
        ),
        source,
        f"addition tasks {', '.join(labels)} pooled; points measured, dashed lines the independent-token model with measured p",
        title="Against target length, for a few model sizes",
    )


def _power_law_sentence(p_by_size: pd.DataFrame) -> str:
    """Whether the measured per-token accuracy falls as the model's power law, and its fitted constants."""
    try:
        fit_c, fit_alpha = fit_cross_entropy_power_law(p_by_size["n_params"], p_by_size["p_token"])
    except ValueError:
        return (
            "Per-token accuracy does not fall as a power law in size here (a fit of -ln p = (N/c)^alpha gives "
            "no usable exponent), so the mathematical model's smooth loss is not what these models show."
        )
    if fit_alpha < 0:
        return (
            f"A power law fitted to the measured per-token accuracy, -ln p = (N/c)^alpha, gives alpha = "
            f"{fit_alpha:.3f} and c = {fit_c:.3g}."
        )
    return (
        f"Per-token accuracy does not fall as a power law in size here (a fit of -ln p = (N/c)^alpha gives "
        f"alpha = {fit_alpha:.3f}, not negative), so the mathematical model's smooth loss is not what these "
        "models show."
    )


def lengths_text(lengths: pd.DataFrame, profile: str) -> str:
    """What :func:`length_outcomes` shows: p from the smallest to the largest size, exact match and edit
    distance against their independent-token values at the largest, at how many sizes each moves with
    length as the model says, the fitted power law of p, and which seeds were left out."""
    by_length = length_curves(lengths)
    p_by_size = token_accuracy_by_size(lengths)
    largest = by_length[by_length["n_params"] == by_length["n_params"].max()].sort_values("target_len")
    per_size = [curve.sort_values("target_len") for _, curve in by_length.groupby("n_params")]
    falls = sum(bool(np.all(np.diff(curve["em"]) <= 0)) for curve in per_size)
    rises = sum(bool(np.all(np.diff(curve["edit_distance"]) >= 0)) for curve in per_size)
    gap = float(np.mean(np.abs(by_length["em"] - by_length["em_model"])))
    target_lengths = ", ".join(str(n) for n in sorted(by_length["target_len"].unique()))
    return (
        f"**What the lengths show** ({profile} profile; target lengths {target_lengths}). Measured per-token accuracy "
        f"goes from {p_by_size['p_token'].iloc[0]:.2f} at the smallest size to {p_by_size['p_token'].iloc[-1]:.2f} at "
        f"the largest. At the largest size exact match reads "
        + ", ".join(f"{r.em:.3f} at L = {r.target_len} (p^L = {r.em_model:.3f})" for r in largest.itertuples())
        + ", and edit distance "
        + ", ".join(f"{r.edit_distance:.2f} (L(1-p) = {r.edit_distance_model:.2f})" for r in largest.itertuples())
        + f". Across the {by_length['n_params'].nunique()} sizes, exact match never rises with length for {falls} and "
        f"edit distance never falls with length for {rises}; the mean gap between measured exact match and p^L is "
        f"{gap:.3f}. "
        + _power_law_sentence(p_by_size)
        + (f" {QUICK_CAVEAT}" if profile == "quick" else "")
        + " "
        + divergence_text(lengths)
    )


def independent_token_outcomes(sweep: Sweep, results: list[Result]) -> pd.DataFrame:
    """Measured exact match beside what per-token accuracy predicts, per (task, size, seed).

    Schaeffer et al. 2023, Sec. 2: if each of an answer's L tokens is right independently with
    probability p, exact match is p^L. Here p is the run's teacher-forced per-token accuracy on the
    task (answer tokens that are the argmax, pooled over its prompts) and ``em_model`` the mean of
    p^L over its prompts, L each prompt's answer length (EOS included). Greedy exact match is the
    product of the same hits, so ``em`` above ``em_model`` means errors come together within an
    answer; below it, that positions differ in difficulty (p pools an easy end-of-sequence token with
    hard digits) or that errors spread over more answers than independence would. Seeds that
    diverged in training are left out. Columns: ``task, d_model, n_params, flops, seed, em, p_token,
    em_model, n_diverged``.
    """
    rows = []
    for spec, result in zip(sweep.runs, results):
        table, n_diverged = without_diverged(_stored(spec, result, "records").table, result)
        sizes = emergence.size_columns(spec)
        labels = _labels(spec)
        scored = pd.DataFrame(
            {
                "component": table["component"].to_numpy(),
                "seed": table["seed"].to_numpy(),
                "target_len": table["target_len"].to_numpy().astype(np.int64),
                "em": emergence.record_scores(table, ["em"])["em"].to_numpy(),
                "hits": metrics.token_accuracy(table["tf_correct"]) * table["target_len"].to_numpy(),
            }
        )
        for (c, seed), group in scored.groupby(["component", "seed"]):
            p = group["hits"].sum() / group["target_len"].sum()
            rows.append(
                {
                    "task": labels[c],
                    **sizes,
                    "seed": seed,
                    "em": group["em"].mean(),
                    "p_token": p,
                    "em_model": float(np.mean(p ** group["target_len"].to_numpy())),
                    "n_diverged": n_diverged,
                }
            )
    return pd.DataFrame(rows)


def independence_table(outcomes: pd.DataFrame, n_resamples: int, confidence: float, rng_seed: int) -> pd.DataFrame:
    """Measured exact match minus p^L per (task, size), with a paired bootstrap interval over seeds.

    ``outcomes`` are :func:`independent_token_outcomes`. Columns: ``task, n_params, em, em_model,
    gap, low, high``; a gap whose interval excludes 0 is a size where tokens are not independent.
    """
    rows = []
    for task, group in outcomes.groupby("task", sort=False):
        measured, sizes = emergence.seed_matrix(group, "em")
        predicted, _ = emergence.seed_matrix(group, "em_model")
        for k, size in enumerate(sizes):
            gap = stats.paired_bootstrap(
                [measured, predicted], lambda a, b, k=k: a[:, k] - b[:, k], n_resamples, confidence, rng_seed
            )
            rows.append(
                {
                    "task": task,
                    "n_params": size,
                    "em": float(np.nanmean(measured[:, k])),
                    "em_model": float(np.nanmean(predicted[:, k])),
                    "gap": gap.estimate,
                    "low": gap.low,
                    "high": gap.high,
                }
            )
    return pd.DataFrame(rows)


def independence_chart(table: pd.DataFrame, labels: tuple[str, ...], source: str) -> alt.TopLevelMixin:
    """Per task, measured exact match (points, with p^L plus the gap's paired interval as bars) against
    the p^L that teacher-forced p predicts (lines), over the family's sizes (:func:`independence_table`)."""
    by_task = alt.Chart(
        table.assign(em_lo=table["em_model"] + table["low"], em_hi=table["em_model"] + table["high"])
    ).encode(x=_params_x())
    return charts.with_source(
        alt.layer(
            by_task.mark_line(color=charts.PALETTE[1]).encode(y=alt.Y("em_model:Q", title="exact match")),
            by_task.mark_rule(color=charts.PALETTE[0]).encode(y="em_lo:Q", y2="em_hi:Q"),
            by_task.mark_point(filled=True, size=40, color=charts.PALETTE[0]).encode(
                y="em:Q",
                tooltip=[
                    "task:N",
                    alt.Tooltip("n_params:Q", format=","),
                    alt.Tooltip("em:Q", format=".3f"),
                    alt.Tooltip("em_model:Q", format=".3f", title="p^L"),
                    alt.Tooltip("gap:Q", format="+.3f"),
                    alt.Tooltip("low:Q", format="+.3f"),
                    alt.Tooltip("high:Q", format="+.3f"),
                ],
            ),
        )
        .properties(width=170, height=120)
        .facet(facet=alt.Facet("task:N", title=None, sort=list(labels)), columns=3),
        source,
        "points: measured exact match (bars: p^L plus the paired interval of the gap); lines: p^L from teacher-forced p",
        title="Measured exact match against the independent-token prediction p^L, per task",
    )


def independence_summary(table: pd.DataFrame, confidence: float) -> str:
    """What the p^L comparison says, per task: at how many sizes measured exact match lies clearly
    above or below the independent-token prediction, and the two at the largest size."""
    lines = []
    for task, rows in table.groupby("task", sort=False):
        above, below = int((rows["low"] > 0).sum()), int((rows["high"] < 0).sum())
        last = rows.sort_values("n_params").iloc[-1]
        lines.append(
            f"- **`{task}`**: measured exact match is clearly above p^L at {above} of {len(rows)} sizes and clearly "
            f"below at {below} ({100 * confidence:g}% paired intervals); at the largest, {last.em:.3f} measured against "
            f"{last.em_model:.3f} predicted."
        )
    return "\n".join(lines)


def independence_text(outcomes: pd.DataFrame, table: pd.DataFrame, confidence: float, profile: str) -> str:
    """The p^L comparison's heading, per-task summary (:func:`independence_summary`) and the seeds left out."""
    return (
        f"**Measured against p^L** ({profile} profile):\n\n"
        + independence_summary(table, confidence)
        + "\n\n"
        + divergence_text(outcomes)
    )


# A larger test set at small scale (Fig. 4)


def large_outcomes(sweep: Sweep, records: list[Result], tables: list[Result | None]) -> pd.DataFrame:
    """Exact matches on the large test set per (size, seed): ``task, d_model, n_params, flops, seed,
    successes, trials, em, n_diverged`` (Schaeffer et al. 2023, Fig. 4; runs without the table are
    skipped, seeds that diverged in training left out)."""
    rows = []
    for spec, run, result in zip(sweep.runs, records, tables):
        if result is None:
            continue
        table, n_diverged = without_diverged(result.table, run)
        label = spec.eval["large_component"]
        per_seed = table.groupby("seed")["exact_match"].agg(["sum", "size"])
        for seed, (hits, n) in per_seed.iterrows():
            rows.append(
                {
                    "task": label,
                    **emergence.size_columns(spec),
                    "seed": seed,
                    "successes": int(hits),
                    "trials": int(n),
                    "em": hits / n,
                    "n_diverged": n_diverged,
                }
            )
    return pd.DataFrame(rows)


def large_summary(
    large: pd.DataFrame, chance: float, n_resamples: int, confidence: float, rng_seed: int
) -> pd.DataFrame:
    """Per size: exact match on the large test set against chance, with two intervals.

    ``cp_low, cp_high``: Clopper-Pearson on the count pooled over seeds, the test set's own
    resolution (exact for these seeds' mean). ``seed_low, seed_high``: percentile bootstrap of the
    mean over seeds, how another draw of seeds would differ. The verdict needs both: ``above
    chance`` when both lower ends exceed chance, ``below chance`` when both upper ends are under it,
    ``not distinguishable from chance`` otherwise. Columns: ``task, d_model, n_params, flops, seeds,
    successes, trials, em, cp_low, cp_high, seed_low, seed_high, verdict``.
    """
    rows = []
    for key, group in large.groupby(["task", "d_model", "n_params", "flops"], sort=True):
        successes, trials = int(group["successes"].sum()), int(group["trials"].sum())
        cp_low, cp_high = stats.clopper_pearson(successes, trials, confidence)
        seeds = stats.bootstrap_ci(group["em"], np.mean, n_resamples, confidence, rng_seed)
        above = cp_low > chance and seeds.low > chance
        below = cp_high < chance and seeds.high < chance
        rows.append(
            {
                **dict(zip(["task", "d_model", "n_params", "flops"], key)),
                "seeds": len(group),
                "successes": successes,
                "trials": trials,
                "em": successes / trials,
                "cp_low": float(cp_low),
                "cp_high": float(cp_high),
                "seed_low": seeds.low,
                "seed_high": seeds.high,
                "verdict": "above chance" if above else "below chance" if below else "not distinguishable from chance",
            }
        )
    return pd.DataFrame(rows).sort_values("n_params", ignore_index=True)


def subset_sizes(n_prompts: int, start: int = 100) -> list[int]:
    """Test-set sizes 100, 1,000, 10,000, ... below ``n_prompts``, then ``n_prompts`` itself (Fig. 4)."""
    if n_prompts < 1:
        raise ValueError(f"n_prompts: expected at least one prompt, got {n_prompts}")
    if start < 1:
        raise ValueError(f"start: expected a positive size, got {start}")
    sizes = []
    size = start
    while size < n_prompts:
        sizes.append(size)
        size *= 10
    return [*sizes, n_prompts]


def exact_match_by_test_size(table: pd.DataFrame, sizes: list[int], confidence: float) -> pd.DataFrame:
    """Exact match measured on the first n prompts of a large test set, for each n in ``sizes``.

    Schaeffer et al. 2023, Fig. 4: more test data resolves small accuracies. The same n prompts
    (the first n by ``example`` index; prompts are independent draws) are used for every seed, and
    the count of exact matches is pooled over seeds: ``successes`` of ``trials = n x seeds``. The
    interval is Clopper-Pearson on that pooled count (:func:`stats.clopper_pearson`): exact for the
    mean over the given seeds, it leaves out how another draw of seeds would differ. Columns:
    ``prompts, seeds, successes, trials, em, low, high, resolution`` (one exact match in the pool, 1 / trials).
    """
    missing = [c for c in ("example", "seed", "exact_match") if c not in table.columns]
    if missing:
        raise KeyError(f"table: missing column(s) {missing}; has {list(table.columns)}")
    n_prompts = table["example"].nunique()
    if any(n < 1 or n > n_prompts for n in sizes):
        raise ValueError(f"sizes: expected prompt counts from 1 to the {n_prompts} stored, got {sizes}")
    order = np.sort(table["example"].unique())
    rows = []
    for n in sizes:
        picked = table[table["example"].isin(order[:n])]
        successes, trials = int(picked["exact_match"].sum()), len(picked)
        low, high = stats.clopper_pearson(successes, trials, confidence)
        rows.append(
            {
                "prompts": n,
                "seeds": picked["seed"].nunique(),
                "successes": successes,
                "trials": trials,
                "em": successes / trials,
                "low": float(low),
                "high": float(high),
                "resolution": 1.0 / trials,
            }
        )
    return pd.DataFrame(rows)


@dataclass(frozen=True)
class LargeTestSet:
    """The large test set of one task: its ``chance`` exact match, per (size, seed) ``outcomes``
    (:func:`large_outcomes`), per-size ``summary`` (:func:`large_summary`) and ``by_prompts``, the
    two smallest sizes measured on growing prefixes of it (:func:`exact_match_by_test_size`)."""

    label: str
    chance: float
    outcomes: pd.DataFrame
    summary: pd.DataFrame
    by_prompts: pd.DataFrame


def large_test_set(family: Family, n_resamples: int, confidence: float) -> LargeTestSet:
    """Everything the chapter shows of the family's large test set, diverged seeds left out."""
    stored = [
        (spec, run, table)
        for spec, run, table in zip(family.sweep.runs, family.records, family.large)
        if table is not None
    ]
    if not stored:
        raise ValueError("large: no run of the family has a stored large test set; train the sweep first")
    label = stored[0][0].eval["large_component"]
    chance = emergence.chance_levels(family.mixture)[label]
    outcomes = large_outcomes(family.sweep, family.records, family.large)
    prefixes = []
    for spec, run, table in stored[:2]:
        kept, _ = without_diverged(table.table, run)
        prefixes.append(
            exact_match_by_test_size(kept, subset_sizes(kept["example"].nunique()), confidence).assign(
                n_params=emergence.size_columns(spec)["n_params"]
            )
        )
    return LargeTestSet(
        label,
        chance,
        outcomes,
        large_summary(outcomes, chance, n_resamples, confidence, 0),
        pd.concat(prefixes, ignore_index=True),
    )


def large_prompts_chart(large: LargeTestSet, confidence: float, source: str) -> alt.TopLevelMixin:
    """Exact match of the two smallest sizes on the first 100, 1,000, ... prompts, with Clopper-Pearson
    intervals, the chance line (dashed) and the resolution of the pool (dotted)."""
    resolved = large.by_prompts
    # The two sizes' marks sit slightly apart at each test-set size, so neither hides the other.
    shifted = resolved.assign(
        shifted=resolved["prompts"] * np.where(resolved["n_params"] == resolved["n_params"].min(), 0.93, 1.07)
    )
    prompts_x = alt.X(
        "shifted:Q", scale=alt.Scale(type="log"), axis=alt.Axis(format="~s", values=DECADES), title="test prompts used"
    )
    colour = alt.Color("n_params:O", title="parameters", scale=alt.Scale(range=charts.PALETTE[:2]))
    return charts.with_source(
        alt.layer(
            alt.Chart(shifted)
            .mark_rule(strokeWidth=2)
            .encode(x=prompts_x, y=alt.Y("low:Q", title=f"exact match, {large.label}"), y2="high:Q", color=colour),
            alt.Chart(shifted)
            .mark_point(filled=True, size=60)
            .encode(
                x=prompts_x,
                y="em:Q",
                color=colour,
                tooltip=[
                    alt.Tooltip("n_params:Q", format=","),
                    "prompts:Q",
                    "successes:Q",
                    "trials:Q",
                    alt.Tooltip("em:Q", format=".4f"),
                    alt.Tooltip("low:Q", format=".4f"),
                    alt.Tooltip("high:Q", format=".4f"),
                ],
            ),
            alt.Chart(shifted)
            .mark_line(strokeDash=[1, 3], color="#666")
            .encode(x=alt.X("prompts:Q", title="test prompts used"), y="mean(resolution):Q"),
            alt.Chart(pd.DataFrame({"chance": [large.chance]}))
            .mark_rule(strokeDash=[5, 4], color=charts.PALETTE[3])
            .encode(y="chance:Q"),
        ),
        source,
        f"{100 * confidence:g}% Clopper-Pearson intervals on the count pooled over seeds; dashed: chance "
        f"{large.chance:.4f}; dotted: one exact match in the pool",
        title="Exact match of the two smallest models as the test set grows",
    )


def large_table(large: LargeTestSet, caption: str) -> Styler:
    """The per-size verdicts of :func:`large_summary` as the chapter shows them."""
    return (
        large.summary.style.format(
            {
                "n_params": "{:,}",
                "flops": "{:.2e}",
                "trials": "{:,}",
                "em": "{:.4f}",
                "cp_low": "{:.4f}",
                "cp_high": "{:.4f}",
                "seed_low": "{:.4f}",
                "seed_high": "{:.4f}",
            }
        )
        .hide(axis="index")
        .set_caption(caption)
    )


def large_text(large: LargeTestSet, profile: str) -> str:
    """The large test set's verdict per size (:func:`large_summary`) in one paragraph, with the seeds left out."""
    summary = large.summary
    counts = summary["verdict"].value_counts()
    above = summary[summary["verdict"] == "above chance"]
    zero = summary[summary["successes"] == 0]
    return (
        f"**What more data shows** ({profile} profile): On `{large.label}` (chance {large.chance:.2g}) the large test "
        f"set puts {counts.get('above chance', 0)} of {len(summary)} sizes above chance, "
        f"{counts.get('below chance', 0)} below it and {counts.get('not distinguishable from chance', 0)} "
        "indistinguishable from it (both intervals must agree). "
        + (
            f"The smallest size above chance has {above['n_params'].iloc[0]:,} parameters, at exact match "
            f"{above['em'].iloc[0]:.4f}. "
            if len(above)
            else ""
        )
        + (
            f"{len(zero)} size(s) answer none of their {zero['trials'].iloc[0]:,} (prompt, seed) pairs exactly; there the "
            "test set only "
            f"bounds exact match below {zero['cp_high'].max():.4f}."
            if len(zero)
            else "Every size answers some prompts exactly, so a test set this large resolves exact match at every size."
        )
        + (f" {QUICK_CAVEAT}" if profile == "quick" else "")
        + " "
        + divergence_text(large.outcomes)
    )


# Induced emergence in vision (Sec. 5)


def reconstruction_c(sq_error: np.ndarray, c: float | np.ndarray) -> np.ndarray:
    """Schaeffer et al. 2023, Eq. 2: Reconstruction_c = (1/N) sum_n 1[ ||x_n - x_hat_n||^2 < c ].

    ``sq_error`` holds one squared error per test image along its last axis; ``c`` may be an array
    of thresholds, which adds its shape in front. The inequality is strict, as in the paper.
    """
    errors = np.asarray(sq_error, dtype=np.float64)
    thresholds = np.asarray(c, dtype=np.float64)
    return (errors < thresholds.reshape(thresholds.shape + (1,) * errors.ndim)).mean(axis=-1)


def reconstruction_curves(table: pd.DataFrame, thresholds: list[float] | tuple[float, ...]) -> pd.DataFrame:
    """Per (width, seed): the mean squared error, and Reconstruction_c for each threshold c.

    Long format: one row per width, seed and c, with ``mse`` (the smooth metric of Fig. 7B: the
    mean over test images of ||x - x_hat||^2, in the same units as c) repeated on each c row, and
    ``reconstruction``.
    """
    rows = []
    for (width, seed), group in table.groupby(["width", "seed"], sort=True):
        errors = group["sq_error"].to_numpy()
        rates = reconstruction_c(errors, np.asarray(thresholds))
        for c, rate in zip(thresholds, rates):
            rows.append(
                {
                    "width": int(width),
                    "seed": int(seed),
                    "mse": float(errors.mean()),
                    "c": float(c),
                    "reconstruction": float(rate),
                }
            )
    return pd.DataFrame(rows)


def expected_subset_accuracy(accuracy: np.ndarray | float, k: int | np.ndarray) -> np.ndarray:
    """P(all K images correct) for K images drawn independently and uniformly: accuracy^K.

    Schaeffer et al. 2023, App. B (Fig. 10C) score a model 1 only if all K of K independent test
    images are classified correctly; with independent draws the expectation is exactly acc^K,
    the same geometric nonlinearity as exact match over L tokens (Sec. 2).
    """
    return np.asarray(accuracy, dtype=np.float64) ** np.asarray(k)


def sample_subsets(n_images: int, k: int, n_sets: int, rng_seed: int = 0) -> np.ndarray:
    """``n_sets`` sets of ``k`` test-image positions, each drawn independently and uniformly (with replacement)."""
    if min(n_images, k, n_sets) < 1:
        raise ValueError(f"n_images, k and n_sets must be positive, got {n_images}, {k}, {n_sets}")
    return np.random.default_rng([rng_seed, k]).integers(0, n_images, size=(n_sets, k))


def subset_accuracy_curves(
    table: pd.DataFrame, sizes: list[int] | tuple[int, ...], n_sets: int, rng_seed: int = 0
) -> pd.DataFrame:
    """Per (width, seed, K): accuracy, subset accuracy expected (acc^K) and measured on sampled K-sets.

    The measured value is the fraction of ``n_sets`` sampled sets in which every image is correct,
    a benchmark of ``n_sets`` items whose resolution is 1/n_sets. Every model is scored on the same
    sets (common random numbers), so differences between models are not differences between sets.
    """
    rows = []
    images = np.sort(table["image"].unique())
    sets = {k: sample_subsets(len(images), k, n_sets, rng_seed) for k in sizes}
    for (width, seed), group in table.groupby(["width", "seed"], sort=True):
        correct = group.set_index("image")["correct"].reindex(images).to_numpy(dtype=bool)
        accuracy = correct.mean()
        for k in sizes:
            rows.append(
                {
                    "width": int(width),
                    "seed": int(seed),
                    "k": int(k),
                    "accuracy": float(accuracy),
                    "expected": float(expected_subset_accuracy(accuracy, k)),
                    "measured": float(correct[sets[k]].all(axis=1).mean()),
                }
            )
    return pd.DataFrame(rows)


def breakthroughness_by_seed(
    frame: pd.DataFrame, value: str, by: list[str] | None = None, clip: float = 100.0
) -> pd.DataFrame:
    """BIG-bench B (Schaeffer Eq. 1, :func:`scalingbook.analysis.metrics.breakthroughness`) of each seed's curve over width.

    One row per seed (and per group of ``by``, such as c or K). Higher-is-better metrics only: pass
    the negated error for an error metric. B is clipped at ``clip`` so flat-then-step curves, whose
    median step is zero (B infinite), stay plottable and orderable.
    """
    rows = []
    for key, group in frame.groupby([*(by or []), "seed"], sort=True):
        curve = group.sort_values("width")
        score = metrics.breakthroughness(curve[value].to_numpy(), curve["width"].to_numpy(), clip=clip)
        rows.append({**dict(zip([*(by or []), "seed"], key if isinstance(key, tuple) else (key,))), "B": float(score)})
    return pd.DataFrame(rows)


def vision_emergence_scores(recon: pd.DataFrame, subsets: pd.DataFrame, clip: float = 100.0) -> pd.DataFrame:
    """How emergent each vision metric looks on the same models: B per seed, and the width growth of the mean.

    ``recon`` comes from :func:`reconstruction_curves` and ``subsets`` from
    :func:`subset_accuracy_curves`. For every metric (and c or K): the median over seeds of B
    (Schaeffer Eq. 1 via :func:`breakthroughness_by_seed`) with a bootstrap interval over seeds, and
    the :func:`transition_growth` of the seed-mean curve. The mean squared error is negated so that,
    like the others, higher is better. Per-image accuracy is the K = 1 row. One row per metric and setting.
    """
    one_c = recon[recon["c"] == recon["c"].iloc[0]].assign(negative_mse=lambda f: -f["mse"])
    curves = [("mean squared error (negated)", "", one_c, "negative_mse")]
    curves += [("Reconstruction_c", f"c = {c:g}", group, "reconstruction") for c, group in recon.groupby("c")]
    for column, label in (("expected", "all K correct, expected acc^K"), ("measured", "all K correct, sampled sets")):
        curves += [(label, f"K = {k}", group, column) for k, group in subsets.groupby("k")]
    rows = []
    for metric, setting, frame, value in curves:
        seeds_b = breakthroughness_by_seed(frame, value, clip=clip)["B"].to_numpy()
        interval = stats.bootstrap_ci(seeds_b, np.median)
        means = frame.groupby("width", as_index=False)[value].mean().rename(columns={value: "mean"})
        rows.append(
            {
                "metric": metric,
                "setting": setting,
                "B": interval.estimate,
                "B_low": interval.low,
                "B_high": interval.high,
                "width_growth": transition_growth(means)["growth"].iloc[0],
            }
        )
    return pd.DataFrame(rows)


def transition_growth(
    summary: pd.DataFrame, by: str | None = None, low: float = 0.1, high: float = 0.9
) -> pd.DataFrame:
    """How many-fold the width must grow to carry each seed-mean curve from ``low`` to ``high`` of its own range.

    ``summary`` is a :func:`scalingbook.analysis.stats.seed_means` table (``width`` and ``mean``, plus the column ``by``
    that separates curves). Progress is measured from the curve's worst value to its best, in the
    direction it improves, so error and score curves compare alike, and a metric that saturates below
    1 is not penalised for it. A small factor is a jump, a large one a gradual rise; NaN for a flat curve.
    """
    rows = []
    groups = summary.groupby(by, sort=True) if by else [(None, summary)]
    for key, curve in groups:
        curve = curve.sort_values("width")
        values = curve["mean"].to_numpy()
        if np.argmax(values) < np.argmin(values):
            values = -values
        span = values.max() - values.min()
        progress = (values - values.min()) / span if span > 0 else np.full(len(values), np.nan)
        widths = curve["width"].to_numpy(dtype=np.float64)
        first = [widths[np.argmax(progress >= level)] if np.any(progress >= level) else np.nan for level in (low, high)]
        rows.append(
            {
                **({by: key} if by else {}),
                "reaches_low": first[0],
                "reaches_high": first[1],
                "growth": first[1] / first[0],
            }
        )
    return pd.DataFrame(rows)


def largest_step(summary: pd.DataFrame) -> dict[str, float]:
    """Where a seed-mean curve (:func:`scalingbook.analysis.stats.seed_means`: ``width``, ``mean``) takes its largest step up
    between neighbouring widths: ``before`` and ``after`` (the widths), ``highest_before`` (the
    curve's highest value up to ``before``) and ``at_after``. Read off the data, so a summary never
    assumes where the jump is."""
    curve = summary.sort_values("width")
    values, widths = curve["mean"].to_numpy(), curve["width"].to_numpy()
    j = int(np.argmax(np.diff(values)))
    return {
        "before": float(widths[j]),
        "after": float(widths[j + 1]),
        "highest_before": float(values[: j + 1].max()),
        "at_after": float(values[j + 1]),
    }


def b_difference(
    a: pd.DataFrame, b: pd.DataFrame, value: str, confidence: float = 0.95, clip: float = 100.0
) -> stats.Interval:
    """Median over seeds of B(a) - B(b), each seed's two curves paired, with a bootstrap interval over seeds.

    ``a`` and ``b`` are one setting each of the same models (say subset accuracy at K = 5 and at
    K = 1), with ``seed``, ``width`` and ``value`` columns; the claim "a is sharper than b" holds
    when the interval lies above zero.
    """
    scores = [breakthroughness_by_seed(frame, value, clip=clip).set_index("seed")["B"] for frame in (a, b)]
    differences = (scores[0] - scores[1]).dropna()
    return stats.bootstrap_ci(differences.to_numpy(), np.median, confidence=confidence)


def vision_populations(profile: str, widths: list[int], seeds: int, device: str) -> tuple[Result, Result]:
    """The autoencoder and classifier populations of ``profile``, read from the results store, trained
    first only if these exact populations are not stored (:func:`scalingbook.lab.vision.population_result`)."""
    autoencoders, classifiers = (
        vision.population_result(vision.profile_config(task, profile, widths, seeds), profile, device)
        for task in ("autoencoder", "classifier")
    )
    return autoencoders, classifiers


@dataclass(frozen=True)
class VisionCurves:
    """Both vision families under their smooth and thresholded metrics.

    Per (width, seed): ``recon`` (:func:`reconstruction_curves`) and ``subsets``
    (:func:`subset_accuracy_curves`, on ``n_sets`` sampled sets). Per width, means over seeds with
    bootstrap intervals (:func:`scalingbook.analysis.stats.seed_means`): ``mse``, ``reconstruction`` (per c), ``accuracy``,
    ``expected`` and ``measured`` (per K). ``scores``: how emergent each looks (:func:`vision_emergence_scores`).
    """

    recon: pd.DataFrame
    subsets: pd.DataFrame
    n_sets: int
    mse: pd.DataFrame
    reconstruction: pd.DataFrame
    accuracy: pd.DataFrame
    expected: pd.DataFrame
    measured: pd.DataFrame
    scores: pd.DataFrame


def vision_curves(
    autoencoders: pd.DataFrame, classifiers: pd.DataFrame, thresholds: list[float], sizes: list[int], n_sets: int
) -> VisionCurves:
    """Score the per-image tables of both populations under every threshold c and set size K."""
    recon = reconstruction_curves(autoencoders, thresholds)
    subsets = subset_accuracy_curves(classifiers, sizes, n_sets)
    return VisionCurves(
        recon,
        subsets,
        n_sets,
        mse=stats.seed_means(recon[recon["c"] == recon["c"].iloc[0]], "mse", ["width"], name="mean"),
        reconstruction=stats.seed_means(recon, "reconstruction", ["width", "c"], name="mean"),
        accuracy=stats.seed_means(subsets[subsets["k"] == subsets["k"].min()], "accuracy", ["width"], name="mean"),
        expected=stats.seed_means(subsets, "expected", ["width", "k"], name="mean"),
        measured=stats.seed_means(subsets, "measured", ["width", "k"], name="mean"),
        scores=vision_emergence_scores(recon, subsets),
    )


def _width_x(widths: pd.Series) -> alt.X:
    """The vision charts' x axis: hidden width on a log scale spanning exactly the widths trained."""
    return alt.X(
        "width:Q",
        scale=alt.Scale(type="log", domain=[int(widths.min()), int(widths.max())], nice=False),
        title="hidden width (bottleneck units)",
    )


def _black_band(summary: pd.DataFrame, x: alt.X, y: alt.Y, value_title: str) -> list[alt.Chart]:
    """A seed-mean curve in black over its shaded bootstrap band."""
    return [
        alt.Chart(summary).mark_area(opacity=0.2, color="#000").encode(x=x, y=y, y2="high:Q"),
        alt.Chart(summary)
        .mark_line(point=alt.OverlayMarkDef(color="#000"), color="#000")
        .encode(x=x, y="mean:Q", tooltip=["width:Q", alt.Tooltip("mean:Q", format=".3f", title=value_title)]),
    ]


def reconstruction_chart(curves: VisionCurves, source: str) -> alt.TopLevelMixin:
    """The autoencoders' mean squared error with the thresholds drawn on it, beside Reconstruction_c
    for each threshold (Fig. 7); a threshold picked out by clicking the legend."""
    width_x = _width_x(curves.recon["width"])
    pick_c = alt.selection_point(fields=["c"], bind="legend")
    c_colour = alt.Color("c:O", title="threshold c", scale=alt.Scale(range=charts.PALETTE))
    c_opacity = alt.condition(pick_c, alt.value(1.0), alt.value(0.12))
    error_y = alt.Y("low:Q", scale=alt.Scale(type="log"), title="mean squared error ||x - x̂||²")
    mse_chart = alt.layer(
        *_black_band(curves.mse, width_x, error_y, "mean squared error"),
        alt.Chart(pd.DataFrame({"c": curves.recon["c"].unique()}))
        .mark_rule(strokeDash=[4, 4])
        .encode(y="c:Q", color=c_colour, opacity=c_opacity),
    ).properties(title="Mean squared error")
    recon_base = alt.Chart(curves.reconstruction).encode(x=width_x, color=c_colour, opacity=c_opacity)
    recon_chart = alt.layer(
        recon_base.mark_line(point=True)
        .encode(
            y=alt.Y("mean:Q", title="Reconstruction_c", scale=alt.Scale(domain=[0, 1])),
            tooltip=["width:Q", "c:Q", alt.Tooltip("mean:Q", format=".3f", title="Reconstruction_c")],
        )
        .add_params(pick_c),
        recon_base.mark_rule().encode(y="low:Q", y2="high:Q"),
    ).properties(title="Reconstruction_c, one line per threshold c")
    return charts.with_source(
        alt.hconcat(mse_chart, recon_chart), source, title="The same autoencoders under two metrics"
    )


def subset_chart(curves: VisionCurves, source: str) -> alt.TopLevelMixin:
    """The classifiers' per-image accuracy beside subset accuracy for each K: expected acc^K (lines)
    and measured on sampled sets (points with intervals), App. B, Fig. 10."""
    width_x = _width_x(curves.subsets["width"])
    pick_k = alt.selection_point(fields=["k"], bind="legend")
    k_colour = alt.Color("k:O", title="set size K", scale=alt.Scale(range=charts.PALETTE))
    k_opacity = alt.condition(pick_k, alt.value(1.0), alt.value(0.12))
    unit_y = alt.Scale(domain=[0, 1])
    accuracy_chart = alt.layer(
        *_black_band(
            curves.accuracy, width_x, alt.Y("low:Q", title="per-image test accuracy", scale=unit_y), "accuracy"
        ),
    ).properties(title="Per-image accuracy")
    subsets_chart = alt.layer(
        alt.Chart(curves.expected)
        .mark_line()
        .encode(
            x=width_x,
            y=alt.Y("mean:Q", title="all K correct (subset accuracy)", scale=unit_y),
            color=k_colour,
            opacity=k_opacity,
        )
        .add_params(pick_k),
        alt.Chart(curves.measured)
        .mark_point(filled=True)
        .encode(
            x=width_x,
            y="mean:Q",
            color=k_colour,
            opacity=k_opacity,
            tooltip=["width:Q", "k:O", alt.Tooltip("mean:Q", format=".3f", title="measured on sampled sets")],
        ),
        alt.Chart(curves.measured)
        .mark_rule()
        .encode(x=width_x, y="low:Q", y2="high:Q", color=k_colour, opacity=k_opacity),
    ).properties(title="All K of K correct, one colour per K")
    return charts.with_source(
        alt.hconcat(accuracy_chart, subsets_chart),
        source,
        f"lines: expected accuracy^K; points: {curves.n_sets} sampled K-sets per K",
        title="The same classifiers under two metrics",
    )


def vision_scores_table(curves: VisionCurves) -> Styler:
    """B (median over seeds, with its interval) and the 10%-to-90% width growth of every vision metric."""
    return (
        curves.scores.rename(
            columns={
                "B": "B (median over seeds)",
                "B_low": "low",
                "B_high": "high",
                "width_growth": "width growth 10% -> 90%",
            }
        )
        .style.format(precision=1, na_rep="-")
        .hide(axis="index")
    )


def difference_words(interval: stats.Interval) -> str:
    """How an interval on a difference stands against zero: clearly above, clearly below, or not clearly different."""
    if interval.low > 0:
        return "clearly above zero"
    return "clearly below zero" if interval.high < 0 else "not clearly different from zero"


def compared_with_line(b: float, low: float, high: float, n_points: int) -> str:
    """Where a B and its interval stand against ``n_points - 1``, the B of a straight line through the points."""
    line = n_points - 1
    if high < line:
        verdict = f"clearly below the {line} of a straight line through the {n_points} widths: no jump"
    elif low > line:
        verdict = (
            f"clearly above the {line} of a straight line through the {n_points} widths: more step-like than a line"
        )
    else:
        verdict = f"an interval that holds the {line} of a straight line through the {n_points} widths: no jump"
    return f"its B is {b:.1f} [{low:.1f}, {high:.1f}], {verdict}"


def _score(scores: pd.DataFrame, metric: str, setting: str) -> pd.Series:
    """One row of :func:`vision_emergence_scores`."""
    return scores.set_index(["metric", "setting"]).loc[(metric, setting)]


def reconstruction_summary(curves: VisionCurves) -> str:
    """What the autoencoders show: the error's B against a straight line's, where the strictest
    threshold takes its largest step, and whether that threshold makes the same models look
    clearly more step-like than their error does (paired over seeds, :func:`b_difference`)."""
    mse, recon, scores = curves.mse, curves.recon, curves.scores
    c_low, c_high = recon["c"].min(), recon["c"].max()
    error = _score(scores, "mean squared error (negated)", "")
    strict_b = _score(scores, "Reconstruction_c", f"c = {c_low:g}")["B"]
    strict_curve = curves.reconstruction[curves.reconstruction["c"] == c_low]
    generous = curves.reconstruction[curves.reconstruction["c"] == c_high].sort_values("width")
    step = largest_step(strict_curve)
    one_c = recon[recon["c"] == c_low]
    against_error = b_difference(one_c.assign(v=one_c["reconstruction"]), one_c.assign(v=-one_c["mse"]), "v")
    made_by_c = against_error.low > 0
    return (
        f"**Reconstruction.** The mean squared error is {mse['mean'].iloc[0]:.2f} at width {mse['width'].iloc[0]} and "
        f"{mse['mean'].iloc[-1]:.2f} at width {mse['width'].iloc[-1]}; "
        + compared_with_line(error["B"], error["B_low"], error["B_high"], len(mse))
        + f". With the strictest threshold, c = {c_low:g}, Reconstruction_c takes its largest step between widths "
        f"{step['before']:g} and {step['after']:g}: it reads at most {step['highest_before']:.2f} up to width "
        f"{step['before']:g} and {step['at_after']:.2f} at width {step['after']:g}, "
        f"{strict_curve.sort_values('width')['mean'].iloc[-1]:.2f} at the largest (B {strict_b:.0f}); with the most "
        f"generous, c = {c_high:g}, it starts at {generous['mean'].iloc[0]:.2f}. Seed by seed, B under the strictest "
        f"threshold minus B of the error has median {against_error.estimate:+.1f} [{against_error.low:+.1f}, "
        f"{against_error.high:+.1f}], {difference_words(against_error)}. "
        + (
            "Where the jump happens, and whether there is one to see at all, is set by c, not by anything that "
            "happens inside the models."
            if made_by_c
            else "So on these runs the threshold does not make the same models clearly more step-like than their error."
        )
    )


def _moved(what: str, before: float, after: float) -> str:
    """Says where one point of a rise went when a curve was replaced by another."""
    if before == after:
        return f"leaves {what} at width {before:g}"
    return f"moves {what} from width {before:g} to width {after:g}"


def _k_power_verdict(curves: VisionCurves, sharper: bool, steeper: bool, k_high: int) -> str:
    """Whether raising accuracy to the K-th power made the curve more step-like: by both measures,
    by neither (then what it did to the rise instead, read off the curves), or the measures disagree."""
    if sharper and steeper:
        return "By both measures the K-th power makes the curve more step-like."
    if sharper or steeper:
        return "The two measures disagree, so the K-th power's effect on the shape is not clear on these runs."
    accuracy = transition_growth(curves.accuracy).iloc[0]
    powered = transition_growth(curves.expected[curves.expected["k"] == k_high]).iloc[0]
    smallest = curves.expected[curves.expected["k"] == k_high]["mean"].iloc[0]
    return (
        f"By neither measure is the K-th power clearly more step-like here: per-image accuracy climbs from 10% to 90% "
        f"of its range within a {accuracy['growth']:.1f}-fold growth in width, and raising it to the power K = {k_high} "
        f"{_moved('the start of the rise (10% of its range)', accuracy['reaches_low'], powered['reaches_low'])}, "
        f"{_moved('its end (90%)', accuracy['reaches_high'], powered['reaches_high'])}, and takes the smallest model "
        f"from {curves.accuracy['mean'].iloc[0]:.2f} to {smallest:.4f}."
    )


def classification_summary(curves: VisionCurves) -> str:
    """What the classifiers show: accuracy and subset accuracy at both ends, and whether the largest K
    is more step-like than the smallest by B (paired over seeds) and by the width growth of its rise."""
    subsets, scores = curves.subsets, curves.scores
    k_low, k_high = int(subsets["k"].min()), int(subsets["k"].max())
    expected_high = curves.expected[curves.expected["k"] == k_high]
    measured_high = curves.measured[curves.measured["k"] == k_high]
    b_k = {k: _score(scores, "all K correct, expected acc^K", f"K = {k}")["B"] for k in (k_low, k_high)}
    growth = transition_growth(curves.expected, by="k").set_index("k")["growth"]
    k_diff = b_difference(subsets[subsets["k"] == k_high], subsets[subsets["k"] == k_low], "expected")
    steeper = bool(growth[k_high] < growth[k_low])
    return (
        f"**Classification.** Per-image accuracy goes from {curves.accuracy['mean'].iloc[0]:.2f} to "
        f"{curves.accuracy['mean'].iloc[-1]:.2f} across the widths. For sets of K = {k_high} the expectation goes from "
        f"{expected_high['mean'].iloc[0]:.4f} to {expected_high['mean'].iloc[-1]:.2f}, and a benchmark of "
        f"{curves.n_sets} sampled sets measures {measured_high['mean'].iloc[0]:.3f} for the smallest model. Is the "
        f"K-th power sharper? Its B (median over seeds) is {b_k[k_high]:.0f} for K = {k_high} against "
        f"{b_k[k_low]:.0f} for K = {k_low}; the median over seeds of each seed's difference is "
        f"{k_diff.estimate:+.1f} [{k_diff.low:+.1f}, {k_diff.high:+.1f}], {difference_words(k_diff)}. "
        f"Carrying the mean from 10% to 90% of its range takes a {growth[k_high]:.1f}-fold growth in width for "
        f"K = {k_high} against {growth[k_low]:.1f}-fold for K = {k_low}, so by that measure it is "
        f"{'steeper' if steeper else 'not steeper'}. " + _k_power_verdict(curves, k_diff.low > 0, steeper, k_high)
    )


def vision_summary(curves: VisionCurves) -> str:
    """What came out of both vision experiments (:func:`reconstruction_summary`, :func:`classification_summary`)."""
    return reconstruction_summary(curves) + "\n\n" + classification_summary(curves)
