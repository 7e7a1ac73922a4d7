"""Emergence curves of a model family (Wei et al. 2022, "Emergent Abilities of Large Language Models").

A family is a sweep over model sizes trained on a :class:`~scalingbook.lab.tasks.Mixture` of few-shot
tasks; its stored per-example records become one row per (size, seed, task) here, then curves of mean
exact match against scale with bootstrap bands, and each task's emergence scale and breakthroughness.

Wei et al. call an ability emergent when it is "not present in smaller models but present in larger
models": performance near random up to a scale, then well above it (Sec. 2). The paper reads that
scale off its plots; :func:`emergence_scale` makes the reading a rule, and every verdict here comes
with a bootstrap interval over seeds on the difference it claims.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from scalingbook.analysis import metrics, stats
from scalingbook.lab.model import flops_6nd, param_count
from scalingbook.lab.store import Result
from scalingbook.lab.sweeps import Sweep, diverged_seeds
from scalingbook.lab.tasks import TOKEN, sample

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


def distinct_test_items(spec) -> dict[str, int]:
    """How many different queries each task's main test set holds, by task label.

    Test prompts are drawn independently, so a task with few held-out problems repeats them; a
    small exact match is resolved by distinct items, not by prompts (issue 14 asks for at least 200
    per task). The query is what follows the last ``;`` (the solved shots before it may differ).
    """
    task = spec.build_task()
    examples = sample(task, spec.eval["n_examples"], "test", spec.eval["seed"])
    queries: dict[str, set[bytes]] = {label: set() for label in task.labels}
    for tokens, c in zip(examples.tokens, examples.component):
        cut = np.flatnonzero(tokens == TOKEN[";"])
        queries[task.labels[c]].add(tokens[cut[-1] + 1 if cut.size else 0 :].tobytes())
    return {label: len(found) for label, found in queries.items()}


RECORD_METRICS = ("em", "edit_distance", "token_accuracy", "log_likelihood")


def record_scores(records: pd.DataFrame, names: tuple[str, ...] | list[str] = RECORD_METRICS) -> pd.DataFrame:
    """Each stored record scored under the metrics ``names``: one column per metric, one row per record.

    ``em``: exact match of the final answer (:func:`final_answer_match`); ``edit_distance``: token
    edit distance between prediction and target; ``token_accuracy``: the share of target tokens
    that are the teacher-forced argmax (:func:`metrics.token_accuracy` of ``tf_correct``);
    ``log_likelihood``: teacher-forced log p(target), summed over its tokens. The last
    three are Schaeffer et al.'s (2023, Sec. 3, Fig. 3) continuous metrics on the same outputs; on a
    scratchpad family they score the whole sequence, working included. Vectorised over records
    (:mod:`scalingbook.analysis.metrics`).
    """
    unknown = [n for n in names if n not in RECORD_METRICS]
    if unknown:
        raise ValueError(f"names: unknown metric(s) {unknown}; expected some of {list(RECORD_METRICS)}")
    if "token_accuracy" in names and "tf_correct" not in records.columns:
        raise ValueError("records: no tf_correct column (stored before teacher-forced hits were kept); delete the "
                         "stored quick runs under .cache/results/quick/emergence to retrain them")
    score = {
        "em": lambda: final_answer_match(records).astype(np.float64),
        "edit_distance": lambda: metrics.token_edit_distance(records["prediction"], records["target"]).astype(np.float64),
        "token_accuracy": lambda: metrics.token_accuracy(records["tf_correct"]),
        "log_likelihood": lambda: metrics.target_log_likelihood(records["logprob"]),
    }
    return pd.DataFrame({name: score[name]() for name in names}, index=records.index)


def run_outcomes(sweep: Sweep, results: list[Result], names: tuple[str, ...] | list[str] = ("em",)) -> pd.DataFrame:
    """One row per (size, seed, task) of a sweep on a mixture: the mean of each metric over its prompts.

    Columns: ``task`` (component label), ``d_model``, ``n_params``, ``flops`` (6ND with D from
    :func:`training_tokens`), ``seed``, one column per metric of ``names`` (:func:`record_scores`;
    by default ``em``, the exact match of the final answer), ``n_examples`` (test prompts of that task)
    and ``n_diverged``. Seeds that diverged in training (:func:`scalingbook.lab.sweeps.diverged_seeds`)
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


def is_flat(curve: pd.DataFrame, scale: str = "n_params") -> bool:
    """Whether a mean curve never leaves its start: at no larger scale does its bootstrap interval
    (``low``, ``high`` of :func:`mean_curves`) clear the smallest scale's, up or down.

    BIG-bench's B divides the curve's range by the median step; on a curve that sits at zero but
    for one noisy seed at one size, most steps are exactly 0 and B is infinite, a "breakthrough"
    made of noise (issue 14: 2-digit multiplication scored B = 100 at 0.000 exact match at both
    ends). A flat curve gets no B (:func:`curve_breakthroughness`), and the chapters name it.
    """
    ordered = curve.sort_values(scale)
    first, rest = ordered.iloc[0], ordered.iloc[1:]
    return not bool(((rest["low"] > first["high"]) | (rest["high"] < first["low"])).any())


def curve_breakthroughness(curve: pd.DataFrame, value: str, sign: float = 1.0, clip: float = 100.0) -> float:
    """B of one mean curve against parameters (``sign`` -1 scores a lower-is-better metric on its
    negation), clipped to ``[-clip, clip]`` so a clean step (infinite B) stays orderable; NaN for a
    curve that :func:`is_flat`."""
    if is_flat(curve):
        return float("nan")
    curve = curve.sort_values("n_params")
    return float(metrics.breakthroughness(sign * curve[value].to_numpy(), curve["n_params"].to_numpy(), clip=clip))


def seed_matrix(outcomes: pd.DataFrame, value: str, scale: str = "n_params") -> tuple[np.ndarray, np.ndarray]:
    """One curve's ``value`` per seed as a (seeds, scales) array, NaN where a seed was left out, and
    the scales in increasing order: the input of :func:`scalingbook.analysis.stats.paired_bootstrap`."""
    table = outcomes.pivot_table(index="seed", columns=scale, values=value, aggfunc="mean", dropna=False)
    return table.to_numpy(dtype=np.float64), table.columns.to_numpy()


def _first_from(above: np.ndarray) -> np.ndarray:
    """Index of the first scale (last axis) from which ``above`` holds there and at every larger
    scale; the number of scales where it never does."""
    holds_from = np.flip(np.cumprod(np.flip(above, -1), -1), -1).astype(bool)
    return np.where(holds_from.any(-1), holds_from.argmax(-1), above.shape[-1])


def emergence_scale(curve: pd.DataFrame, chance: float, margin: float, scale: str = "n_params", value: str = "em") -> float:
    """The smallest scale from which a task's mean exact match exceeds ``chance + margin``, there
    *and at every larger scale* of the family, or NaN if it never does.

    Wei et al. (2022) read the scale where performance leaves random off their plots; this makes
    the reading a rule. A lucky blip at one small size followed by failures does not count.
    ``curve`` holds one task's rows of :func:`mean_curves`; how sure the scale is comes from
    resampling seeds (:func:`emergence_table`).
    """
    if not 0 <= margin < 1:
        raise ValueError(f"margin: expected a value in [0, 1), got {margin}")
    ordered = curve.sort_values(scale)
    first = int(_first_from(ordered[value].to_numpy() > chance + margin))
    return float(ordered[scale].iloc[first]) if first < len(ordered) else float("nan")


def emergence_table(
    outcomes: pd.DataFrame, curves: pd.DataFrame, chances: dict[str, float], margin: float, n_resamples: int,
    confidence: float, rng_seed: int, clip: float = 100.0,
) -> pd.DataFrame:
    """Per task: its emergence scale with a bootstrap interval over seeds, B, and Wei's verdict with
    intervals on the differences it claims.

    ``outcomes`` are :func:`run_outcomes` rows (one family), ``curves`` their :func:`mean_curves`.
    Columns: ``task, chance``; ``emergence_params`` (:func:`emergence_scale`) with ``params_low``
    and ``params_high``, the percentile interval of the same rule over resampled seeds (inf: beyond
    the family), and ``emergence_flops``; ``B`` (:func:`curve_breakthroughness`, NaN when
    ``flat``); ``em_smallest, em_largest``; ``early`` (the highest mean exact match over the smaller
    half of the sizes, minus chance) with ``early_high``; ``rise`` (mean exact match at the largest
    size minus that highest early one) with ``rise_low, rise_high``; and ``looks_emergent``: near
    chance over the smaller half (``early_high <= margin``) and clearly above it at the largest size
    (``rise_low > margin``), both intervals from :func:`scalingbook.analysis.stats.paired_bootstrap`.
    """
    rows = []
    for task, curve in curves.groupby("task", sort=False):
        curve = curve.sort_values("n_params")
        matrix, sizes = seed_matrix(outcomes[outcomes["task"] == task], "em")
        flops = dict(zip(curve["n_params"], curve["flops"]))
        chance, half = chances[task], len(sizes) // 2

        # The closures are used within this iteration; defaults bind this task's values all the same.
        def scale_of(means: np.ndarray, sizes: np.ndarray = sizes, chance: float = chance) -> np.ndarray:
            first = _first_from(means > chance + margin)
            return np.append(sizes.astype(np.float64), np.inf)[first]

        def early(means: np.ndarray, half: int = half, chance: float = chance) -> np.ndarray:
            return means[:, :half].max(axis=1) - chance

        def rise(means: np.ndarray, half: int = half) -> np.ndarray:
            return means[:, -1] - means[:, :half].max(axis=1)

        scale = stats.paired_bootstrap([matrix], scale_of, n_resamples, confidence, rng_seed, method="nearest")
        near = stats.paired_bootstrap([matrix], early, n_resamples, confidence, rng_seed)
        grew = stats.paired_bootstrap([matrix], rise, n_resamples, confidence, rng_seed)
        at_params = emergence_scale(curve, chance, margin)
        rows.append({
            "task": task, "chance": chance, "emergence_params": at_params, "params_low": scale.low,
            "params_high": scale.high, "emergence_flops": flops.get(at_params, float("nan")),
            "B": curve_breakthroughness(curve, "em", clip=clip), "flat": is_flat(curve),
            "em_smallest": curve["em"].iloc[0], "em_largest": curve["em"].iloc[-1],
            "early": near.estimate, "early_high": near.high, "rise": grew.estimate, "rise_low": grew.low,
            "rise_high": grew.high, "looks_emergent": bool(near.high <= margin and grew.low > margin),
        })
    return pd.DataFrame(rows)


def prompting_gains(outcomes: pd.DataFrame, n_resamples: int, confidence: float, rng_seed: int) -> pd.DataFrame:
    """Scratchpad minus direct exact match per (task, width), with a paired bootstrap interval over seeds.

    Wei et al. (2022, Fig. 3C, after Nye et al. 2021): a scratchpad helps 8-digit addition only above
    a scale. ``outcomes`` are :func:`run_outcomes` rows of both families with a ``prompting`` column
    (``direct``, ``scratchpad``); widths and tasks present in both are compared, seed s of one family
    paired with seed s of the other. Columns: ``task, d_model, n_params`` (of the direct model),
    ``direct, scratchpad, gain, low, high``, ``helps`` (``low > 0``), ``hurts`` (``high < 0``) and
    ``helps_from``: the smallest width from which it helps there and at every larger width (NaN: never).
    """
    sides = {kind: outcomes[outcomes["prompting"] == kind] for kind in ("direct", "scratchpad")}
    tasks = [t for t in sides["direct"]["task"].unique() if t in set(sides["scratchpad"]["task"])]
    rows = []
    for task in tasks:
        picked = {kind: side[side["task"] == task] for kind, side in sides.items()}
        widths = sorted(set(picked["direct"]["d_model"]) & set(picked["scratchpad"]["d_model"]))
        direct, scratch = (seed_matrix(p[p["d_model"].isin(widths)], "em", "d_model")[0] for p in picked.values())
        params = picked["direct"].groupby("d_model")["n_params"].first()
        found = []
        for k, width in enumerate(widths):
            gain = stats.paired_bootstrap([direct, scratch], lambda d, s, k=k: s[:, k] - d[:, k], n_resamples,
                                          confidence, rng_seed)
            found.append({"task": task, "d_model": width, "n_params": int(params[width]),
                          "direct": float(np.nanmean(direct[:, k])), "scratchpad": float(np.nanmean(scratch[:, k])),
                          "gain": gain.estimate, "low": gain.low, "high": gain.high})
        frame = pd.DataFrame(found)
        frame["helps"], frame["hurts"] = frame["low"] > 0, frame["high"] < 0
        first = int(_first_from(frame["helps"].to_numpy()))
        rows.append(frame.assign(helps_from=float(widths[first]) if first < len(widths) else float("nan")))
    return pd.concat(rows, ignore_index=True)


def _interval(low: float, high: float) -> str:
    return f"[{low:.2f}, {high:.2f}]"


def describe_params(value: float) -> str:
    """A parameter count as the tables print it: inf is a scale beyond the family, NaN never."""
    return "beyond the family" if np.isinf(value) else "never" if np.isnan(value) else f"{value:,.0f}"


def family_summary(scales: pd.DataFrame, margin: float, confidence: float) -> str:
    """The chapter's verdict on its family, every clause computed from :func:`emergence_table`.

    Wei et al.'s shape: near chance over the smaller half of the sizes, clearly above it at the
    largest; a flat curve is named as such (it has no B); a task above chance from the smallest
    size improves from the start and is not emergent by the definition.
    """
    level = f"{100 * confidence:g}%"
    emergent = scales[scales["looks_emergent"]]
    flat = scales[scales["flat"]]
    early = scales[~scales["looks_emergent"] & ~scales["flat"] & (scales["early_high"] > margin)]
    other = scales[~scales["task"].isin([*emergent["task"], *flat["task"], *early["task"]])]
    parts = []
    if len(emergent):
        parts.append(
            f"{len(emergent)} of {len(scales)} tasks look emergent in Wei's sense: near chance over the smaller half of "
            f"the sizes (the {level} upper end of their best early exact match stays within {margin:g} of chance) and "
            f"clearly above it at the largest size (the {level} interval of the rise lies above {margin:g}): "
            + "; ".join(f"`{r.task}`, rise {r.rise:.2f} {_interval(r.rise_low, r.rise_high)}, emergence scale "
                        f"{describe_params(r.emergence_params)} parameters [{describe_params(r.params_low)}, "
                        f"{describe_params(r.params_high)}]"
                        f", B = {r.B:.1f}" for r in emergent.itertuples()) + ".")
    else:
        parts.append(f"None of the {len(scales)} tasks is both near chance over the smaller half of the sizes and "
                     "clearly above it at the largest.")
    if len(flat):
        parts.append(f"Flat, never leaving where they start (no B): {', '.join(f'`{t}`' for t in flat['task'])}; for "
                     "them a transition, if there is one, lies beyond the largest model trained here.")
    if len(early):
        parts.append(f"Already above chance within the smaller half: {', '.join(f'`{t}`' for t in early['task'])}; they "
                     "improve from small sizes on and are not emergent by the definition.")
    if len(other):
        parts.append(f"Moving but without a clear verdict: {', '.join(f'`{t}`' for t in other['task'])} (the rise "
                     f"interval reaches below {margin:g}).")
    return " ".join(parts)


def scratchpad_summary(gains: pd.DataFrame, confidence: float) -> str:
    """Per task, where the scratchpad helps: at which widths the paired interval of the gain lies
    above zero, and whether that holds from some width on but not below (Wei's Fig. 3C shape)."""
    lines = []
    for task, rows in gains.groupby("task", sort=False):
        start = rows["helps_from"].iloc[0]
        shape = ("It helps at every width: no threshold inside this family." if start == rows["d_model"].min() else
                 f"It helps from width {start:.0f} on and not below, the shape of Wei's Fig. 3C." if np.isfinite(start)
                 else "There is no width from which it helps at every larger width.")
        largest = rows.iloc[-1]
        lines.append(
            f"- **`{task}`**: the gain's {100 * confidence:g}% interval lies above zero at {int(rows['helps'].sum())} of "
            f"{len(rows)} widths and below it at {int(rows['hurts'].sum())}; at the largest, {largest.direct:.2f} -> "
            f"{largest.scratchpad:.2f}, gain {largest.gain:+.2f} {_interval(largest.low, largest.high)}. {shape}")
    return "\n".join(lines)


def pilot_table(path) -> pd.DataFrame:
    """The pilots that chose the full profile (``scripts/pilot``'s summary CSV of a mixture), one row per
    (pilot, size): mean exact match of each task over the pilot seeds, and the run's CPU seconds on
    one core, from which the full profile's cost was estimated."""
    pilots = pd.read_csv(path)
    table = pilots.pivot_table(index=["label", "n_params", "cpu_seconds"], columns="task", values="mean_em", sort=False)
    return table.reset_index().rename_axis(columns=None)
