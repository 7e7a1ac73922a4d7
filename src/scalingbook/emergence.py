"""Emergence curves of a model family (Wei et al. 2022, "Emergent Abilities of Large Language Models").

A family is a sweep over model sizes trained on a :class:`~scalingbook.tasks.Mixture` of few-shot
tasks; its stored per-example records become one row per (size, seed, task) here, then curves of mean
exact match against scale with bootstrap bands, and each task's emergence scale and breakthroughness.

Wei et al. call an ability emergent when it is "not present in smaller models but present in larger
models": performance near random up to a scale, then well above it (Sec. 2). The paper reads that
scale off its plots; :func:`emergence_scale` makes the reading a rule.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from scalingbook import metrics, stats
from scalingbook.model import flops_6nd, param_count
from scalingbook.results import Result
from scalingbook.sweeps import Sweep, diverged_seeds
from scalingbook.tasks import TOKEN

SEPARATOR = TOKEN[">"]


def final_answer(tokens: np.ndarray) -> tuple[int, ...]:
    """The tokens after the last ``>`` (the whole sequence when there is none).

    A scratchpad answer reads ``working > answer EOS`` (Nye et al. 2021); exact match on the final
    answer credits a right answer whatever the working, as Wei et al. (2022, Fig. 3C) score it.
    """
    tokens = np.asarray(tokens)
    cut = np.flatnonzero(tokens == SEPARATOR)
    return tuple(tokens[cut[-1] + 1 :].tolist() if cut.size else tokens.tolist())


def final_answer_match(records: pd.DataFrame) -> np.ndarray:
    """Per record, whether the predicted final answer (EOS included) equals the target's."""
    return np.array([final_answer(p) == final_answer(t) for p, t in zip(records["prediction"], records["target"])])


def training_tokens(spec) -> int:
    """Tokens one member processes in training: steps x batch x padded sequence length.

    Padding is counted because the model computes on it; the mixture pads every example to its
    longest component, so this is the compute actually spent, the D of C = 6ND.
    """
    return spec.train["steps"] * spec.train["batch_size"] * spec.build_task().seq_len("train")


def size_columns(spec) -> dict[str, float]:
    """The scale of one run: ``d_model``, ``n_params`` and training ``flops`` (6ND, D from :func:`training_tokens`)."""
    config = spec.model_config(spec.build_task())
    return {"d_model": spec.model["d_model"], "n_params": param_count(config),
            "flops": float(flops_6nd(config, training_tokens(spec)))}


RECORD_METRICS = ("em", "edit_distance", "token_accuracy", "log_likelihood")


def record_scores(records: pd.DataFrame, names: tuple[str, ...] | list[str] = RECORD_METRICS) -> pd.DataFrame:
    """Each stored record scored under the metrics ``names``: one column per metric, one row per record.

    ``em``: exact match of the final answer (:func:`final_answer_match`); ``edit_distance``: token
    edit distance between prediction and target; ``token_accuracy``: per-token accuracy of the
    prediction; ``log_likelihood``: teacher-forced log p(target), summed over its tokens. The last
    three are Schaeffer et al.'s (2023, Sec. 3, Fig. 3) continuous metrics on the same outputs; on a
    scratchpad family they score the whole sequence, working included. Vectorised over records
    (:mod:`scalingbook.metrics`).
    """
    unknown = [n for n in names if n not in RECORD_METRICS]
    if unknown:
        raise ValueError(f"names: unknown metric(s) {unknown}; expected some of {list(RECORD_METRICS)}")
    score = {
        "em": lambda: final_answer_match(records).astype(np.float64),
        "edit_distance": lambda: metrics.token_edit_distance(records["prediction"], records["target"]).astype(np.float64),
        "token_accuracy": lambda: metrics.per_token_accuracy(records["prediction"], records["target"]),
        "log_likelihood": lambda: metrics.target_log_likelihood(records["logprob"]),
    }
    return pd.DataFrame({name: score[name]() for name in names}, index=records.index)


def run_outcomes(sweep: Sweep, results: list[Result], names: tuple[str, ...] | list[str] = ("em",)) -> pd.DataFrame:
    """One row per (size, seed, task) of a sweep on a mixture: the mean of each metric over its prompts.

    Columns: ``task`` (component label), ``d_model``, ``n_params``, ``flops`` (6ND with D from
    :func:`training_tokens`), ``seed``, one column per metric of ``names`` (:func:`record_scores`;
    by default ``em``, the exact match of the final answer), ``n_examples`` (test prompts of that task)
    and ``n_diverged``. Seeds that diverged in training (:func:`scalingbook.sweeps.diverged_seeds`)
    are left out; ``n_diverged`` says how many, on every row of their size.
    """
    rows = []
    for spec, result in zip(sweep.runs, results):
        task = spec.build_task()
        diverged = diverged_seeds(result)
        table = result.table[~result.table["seed"].isin(diverged)]
        records = pd.concat([table[["component", "seed"]], record_scores(table, names)], axis=1)
        per_seed = records.groupby(["component", "seed"], as_index=False).agg(
            **{name: (name, "mean") for name in names}, n_examples=(names[0], "size")
        )
        rows.append(per_seed.assign(
            task=[task.labels[c] for c in per_seed["component"]], **size_columns(spec), n_diverged=len(diverged),
        ))
    return pd.concat(rows, ignore_index=True).drop(columns="component")


def mean_curves(
    outcomes: pd.DataFrame, n_resamples: int, confidence: float, rng_seed: int, value: str = "em",
    by: tuple[str, ...] | list[str] = (),
) -> pd.DataFrame:
    """Mean of ``value`` over seeds per (task, size), with a percentile bootstrap interval over seeds.

    Columns: ``*by, task, d_model, n_params, flops, <value>, low, high, n_seeds`` (``<value>`` the
    mean; by default ``em``, exact match). ``by`` names further columns to keep curves apart, such
    as the metric of a long table of several metrics.
    """
    keys = [*by, "task", "d_model", "n_params", "flops"]
    missing = [c for c in [*keys, value] if c not in outcomes.columns]
    if missing:
        raise KeyError(f"outcomes: missing column(s) {missing}; has {list(outcomes.columns)}")
    rows = []
    for key, group in outcomes.groupby(keys, sort=False, observed=True):
        interval = stats.bootstrap_ci(group[value], np.mean, n_resamples, confidence, rng_seed)
        rows.append({**dict(zip(keys, key)), value: interval.estimate, "low": interval.low, "high": interval.high,
                     "n_seeds": len(group)})
    return pd.DataFrame(rows).sort_values([*by, "task", "n_params"], ignore_index=True)


def emergence_scale(curve: pd.DataFrame, chance: float, margin: float, scale: str = "n_params") -> float:
    """The smallest scale from which a task is clearly above chance, or NaN if it never is.

    Clearly above chance at a scale: the lower end of the bootstrap interval of the mean exact match
    over seeds exceeds ``chance + margin``. The emergence scale is the smallest scale where that holds
    there *and at every larger scale* of the family, so a lucky blip at one small size, followed by
    failures, does not count. ``curve`` holds one task's rows of :func:`mean_curves`.
    """
    if not 0 <= margin < 1:
        raise ValueError(f"margin: expected a value in [0, 1), got {margin}")
    ordered = curve.sort_values(scale)
    above = (ordered["low"] > chance + margin).to_numpy()
    holds_from = np.flip(np.cumprod(np.flip(above))).astype(bool)  # above here and at every larger scale
    return float(ordered[scale].to_numpy()[holds_from][0]) if holds_from.any() else float("nan")


def looks_emergent(curve: pd.DataFrame, chance: float, margin: float) -> bool:
    """Wei et al.'s shape on one task's rows of :func:`mean_curves`: near chance over the smaller half
    of the family (the interval's lower end within ``margin`` of chance at each of those sizes), then
    clearly above chance from a size in the larger half on (:func:`emergence_scale`)."""
    ordered = curve.sort_values("n_params")
    half = len(ordered) // 2
    near_chance = bool((ordered["low"].iloc[:half] <= chance + margin).all())
    scale = emergence_scale(ordered, chance, margin)
    return near_chance and not np.isnan(scale) and scale >= ordered["n_params"].iloc[half]


def emergence_table(curves: pd.DataFrame, chances: dict[str, float], margin: float, clip: float = 100.0) -> pd.DataFrame:
    """Per task: chance, emergence scale in parameters and FLOPs, B of the mean curve, its range, and
    whether the curve :func:`looks_emergent`.

    ``B`` is BIG-bench breakthroughness (Srivastava et al. 2022; Schaeffer et al. 2023, Eq. 1) of the
    mean exact match against parameters, clipped to ``[-clip, clip]`` so a clean step (infinite B)
    stays orderable.
    """
    rows = []
    for task, curve in curves.groupby("task", sort=False):
        curve = curve.sort_values("n_params")
        at_params = emergence_scale(curve, chances[task], margin, "n_params")
        at_flops = curve.loc[curve["n_params"] == at_params, "flops"]
        rows.append({
            "task": task, "chance": chances[task], "emergence_params": at_params,
            "emergence_flops": float(at_flops.iloc[0]) if len(at_flops) else float("nan"),
            "B": float(metrics.breakthroughness(curve["em"].to_numpy(), curve["n_params"].to_numpy(), clip=clip)),
            "em_smallest": curve["em"].iloc[0], "em_largest": curve["em"].iloc[-1],
            "looks_emergent": looks_emergent(curve, chances[task], margin),
        })
    return pd.DataFrame(rows)
