"""Emergence curves of a model family (Wei et al. 2022, "Emergent Abilities of Large Language Models").

A family is a sweep over model sizes trained on a :class:`~scalingbook.lab.tasks.Mixture` of few-shot
tasks; its stored per-example records become one row per (size, seed, task) here, then curves of mean
exact match against scale with bootstrap bands, and each task's emergence scale and breakthroughness.

Wei et al. call an ability emergent when it is "not present in smaller models but present in larger
models": performance near random up to a scale, then well above it (Sec. 2). The paper reads that
scale off its plots; :func:`emergence_scale` makes the reading a rule, and every verdict here comes
with a bootstrap interval over seeds on the difference it claims. The chapter's tables, charts and
the sentences that state its verdicts are built here too, so that tests reach them.
"""

from __future__ import annotations

from pathlib import Path

import altair as alt
import numpy as np
import pandas as pd
from pandas.io.formats.style import Styler

from scalingbook.analysis import metrics, stats
from scalingbook.chapters import charts
from scalingbook.lab.model import flops_6nd, param_count
from scalingbook.lab.store import REPO_ROOT, Result
from scalingbook.lab.sweeps import (
    RunSpec,
    Shown,
    Sweep,
    load_tables,
    main_test_examples,
    read_or_train,
    without_diverged,
)
from scalingbook.lab.tasks import TOKEN, FewShotArithmetic, Mixture, WordUnscramble

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


def mixture_of(spec: RunSpec) -> Mixture:
    """The task mixture a run of this chapter trains on; every analysis here splits by its labels."""
    task = spec.build_task()
    if not isinstance(task, Mixture):
        raise TypeError(f"{spec.sweep}: the emergence chapter needs a mixture of tasks, got {type(task).__name__}")
    return task


def training_tokens(spec) -> int:
    """Tokens one member processes in training: steps x batch x padded sequence length.

    Padding is counted because the model computes on it; the mixture pads every example to its
    longest component, so this is the compute actually spent, the D of C = 6ND.
    """
    return spec.train["steps"] * spec.train["batch_size"] * spec.build_task().seq_len("train")


def size_columns(spec) -> dict[str, float]:
    """The scale of one run: ``d_model``, ``n_params`` and training ``flops`` (6ND, D from :func:`training_tokens`)."""
    config = spec.model_config(spec.build_task())
    return {
        "d_model": spec.model["d_model"],
        "n_params": param_count(config),
        "flops": float(flops_6nd(config, training_tokens(spec))),
    }


def distinct_test_items(spec) -> dict[str, int]:
    """How many different queries each task's main test set holds, by task label.

    Test prompts are drawn independently, so a task with few held-out problems repeats them; a
    small exact match is resolved by distinct items, not by prompts (issue 14 asks for at least 200
    per task). The query is what follows the last ``;`` (the solved shots before it may differ).
    """
    task = mixture_of(spec)
    examples = main_test_examples(task, spec.eval)
    assert examples.component is not None, "a mixture's examples say which task each came from"
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
        raise ValueError(
            "records: no tf_correct column (stored before teacher-forced hits were kept); delete the "
            "stored quick runs under .cache/results/quick/emergence to retrain them"
        )
    score = {
        "em": lambda: final_answer_match(records).astype(np.float64),
        "edit_distance": lambda: metrics.token_edit_distance(records["prediction"], records["target"]).astype(
            np.float64
        ),
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
        task = mixture_of(spec)
        table, n_diverged = without_diverged(result.table, result)
        records = pd.concat([table[["component", "seed"]], record_scores(table, names)], axis=1)
        per_seed = records.groupby(["component", "seed"], as_index=False).agg(
            **{name: (name, "mean") for name in names}, n_examples=(names[0], "size")
        )
        rows.append(
            per_seed.assign(
                task=[task.labels[c] for c in per_seed["component"]],
                **size_columns(spec),
                n_diverged=n_diverged,
            )
        )
    return pd.concat(rows, ignore_index=True).drop(columns="component")


def read_family(kind: str, profile: str, device: str) -> Shown:
    """The chapter's ``direct`` or ``scratchpad`` family (``sweeps/emergence-<kind>.yaml``): stored runs
    are read; at quick, missing ones train here, quietly (a page shows no training log)."""
    return read_or_train(REPO_ROOT / "sweeps" / f"emergence-{kind}.yaml", profile, device, log=lambda _: None)


def read_scratchpad(profile: str, device: str) -> dict[str, Shown]:
    """``{"scratchpad": family}`` at ``profile``, the profile the direct family is shown at, or ``{}`` when
    none of its runs is stored at that profile yet: a full direct family is never compared with a quick
    scratchpad one (other tasks, sizes and steps), and a book build never trains a family it lacks."""
    if profile != "quick":
        sweep = Sweep.load(REPO_ROOT / "sweeps" / "emergence-scratchpad.yaml", profile)
        if all(table is None for table in load_tables(sweep, "records", profile)):
            return {}
    return {"scratchpad": read_family("scratchpad", profile, device)}


def family_outcomes(shown: dict[str, Shown]) -> pd.DataFrame:
    """:func:`run_outcomes` of every family, one row per (prompting, task, size, seed): the families
    differ only in how they prompt, so one table with a ``prompting`` column compares them."""
    return pd.concat(
        [run_outcomes(s.sweep, s.results).assign(prompting=kind) for kind, s in shown.items()], ignore_index=True
    )


def chance_levels(mixture: Mixture) -> dict[str, float]:
    """Each task's exact match by uniform guessing, the baseline every emergence verdict is measured from."""
    chances = {}
    for label, task in zip(mixture.labels, mixture.tasks):
        if not isinstance(task, (FewShotArithmetic, WordUnscramble)):
            raise TypeError(f"task {label!r} has no chance level; the chapter's mixture holds few-shot tasks only")
        chances[label] = task.chance_exact_match()
    return chances


def source_lines(shown: dict[str, Shown]) -> dict[str, str]:
    """Per family, the caption line naming its largest stored run (the others are counted, not listed)."""
    return {kind: s.source_line() for kind, s in shown.items()}


def stored_results(shown: dict[str, Shown]) -> list[Result]:
    """Every stored run behind the page, for its header."""
    return [result for s in shown.values() for result in s.results]


def family_table(direct: pd.DataFrame, tokens: int) -> pd.DataFrame:
    """One row per size of a family: ``size`` (1 = smallest), ``d_model, n_params, flops``, the seeds
    it kept, the fewest test prompts of any task, and ``tokens_per_param`` (every size trains on
    ``tokens``, so the ratio falls as the models grow)."""
    family = direct.groupby(["d_model", "n_params", "flops"], as_index=False).agg(
        seeds=("seed", "nunique"), test_prompts_per_task=("n_examples", "min")
    )
    family.insert(0, "size", np.arange(1, len(family) + 1))
    family["tokens_per_param"] = tokens / family["n_params"]
    return family


def describe_family(
    family: pd.DataFrame,
    spec: RunSpec,
    chances: dict[str, float],
    items: dict[str, int],
    profile: str,
    pending: int = 0,
) -> str:
    """The sentence that introduces the family: its sizes and their span in decades, seeds, depth,
    training budget, each task with its chance level and its distinct test queries
    (:func:`distinct_test_items`), and how many sizes are not stored yet (``pending``)."""
    smallest, largest = family["n_params"].min(), family["n_params"].max()
    tokens = training_tokens(spec)
    tasks = ", ".join(f"`{label}` (chance {chance:.2g}, {items[label]} queries)" for label, chance in chances.items())
    return (
        f"**This family** ({profile} profile): {len(family)} sizes from {smallest:,} to {largest:,} parameters "
        f"({np.log10(largest / smallest):.1f} decades), {family['seeds'].min()} seeds each, depth "
        f"{spec.model['n_layers']}, {spec.train['steps']:,} steps of {spec.train['batch_size']} sequences "
        f"({tokens:,} tokens per model, {family['tokens_per_param'].iloc[-1]:,.0f} per parameter for the largest "
        f"and {family['tokens_per_param'].iloc[0]:,.0f} for the smallest). Tasks, with their chance level and the "
        f"distinct test queries of each: {tasks}."
        + (
            f" {pending} more {'size is' if pending == 1 else 'sizes are'} not stored yet (trained in a later "
            f"sitting), so every verdict below is about the sizes above."
            if pending
            else ""
        )
    )


def _curve_panels(
    direct: pd.DataFrame, curves: pd.DataFrame, chances: dict[str, float], x: str, title: str
) -> alt.FacetChart:
    """One panel per task against ``x``: single seeds in grey, the mean with its band, chance dashed.
    The layers share one data source (Altair facets need it) told apart by a ``layer`` column."""
    frame = pd.concat(
        [
            direct.assign(layer="seed"),
            curves.assign(layer="mean"),
            pd.DataFrame({"task": list(chances), "chance": list(chances.values()), "layer": "chance"}),
        ],
        ignore_index=True,
    )
    axis = alt.X(f"{x}:Q", scale=alt.Scale(type="log", nice=False), title=title)
    em = alt.Y("em:Q", scale=alt.Scale(domain=[0, 1]), title="exact match")
    base = alt.Chart()
    return (
        alt.layer(
            base.mark_line(color="#999", opacity=0.5, strokeWidth=1)
            .encode(x=axis, y=em, detail="seed:N")
            .transform_filter(alt.datum.layer == "seed"),
            base.mark_area(opacity=0.25, color=charts.PALETTE[0])
            .encode(x=axis, y="low:Q", y2="high:Q")
            .transform_filter(alt.datum.layer == "mean"),
            base.mark_line(point=True, color=charts.PALETTE[0])
            .encode(
                x=axis,
                y=em,
                tooltip=[
                    "task:N",
                    "n_params:Q",
                    alt.Tooltip("flops:Q", format=".2e"),
                    alt.Tooltip("em:Q", format=".3f"),
                    alt.Tooltip("low:Q", format=".3f"),
                    alt.Tooltip("high:Q", format=".3f"),
                ],
            )
            .transform_filter(alt.datum.layer == "mean"),
            base.mark_rule(strokeDash=[4, 4], color=charts.PALETTE[3])
            .encode(y="chance:Q")
            .transform_filter(alt.datum.layer == "chance"),
            data=frame,
        )
        .properties(width=170, height=130)
        .facet(facet=alt.Facet("task:N", title=None, sort=list(chances)), columns=4)
    )


def curves_chart(
    direct: pd.DataFrame, curves: pd.DataFrame, chances: dict[str, float], source: str
) -> alt.TopLevelMixin:
    """Wei's Figure 2 for this family: exact match per task against training FLOPs, and against
    parameters below (his Appendix D view), panels in the mixture's order of ``chances``."""
    return charts.with_source(
        alt.vconcat(
            _curve_panels(direct, curves, chances, "flops", "training FLOPs (6ND)"),
            _curve_panels(direct, curves, chances, "n_params", "parameters"),
        ),
        source,
        title="Exact match against training FLOPs (top) and parameters (bottom), per task",
    )


def mean_curves(
    outcomes: pd.DataFrame,
    n_resamples: int,
    confidence: float,
    rng_seed: int,
    value: str = "em",
    by: tuple[str, ...] | list[str] = (),
) -> pd.DataFrame:
    """Mean of ``value`` over seeds per (task, size), with a percentile bootstrap interval over seeds.

    Columns: ``*by, task, d_model, n_params, flops, <value>, low, high, n_seeds`` (``<value>`` the
    mean; by default ``em``, exact match). ``by`` names further columns to keep curves apart, such
    as the metric of a long table of several metrics.
    """
    keys = [*by, "task", "d_model", "n_params", "flops"]
    curves = stats.seed_means(outcomes, value, keys, n_resamples, confidence, rng_seed)
    return curves.sort_values([*by, "task", "n_params"], ignore_index=True)


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


def seed_matrix(
    outcomes: pd.DataFrame, value: str, scale: str = "n_params", seeds: list[int] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """One curve's ``value`` per seed as a (seeds, scales) array, NaN where a seed was left out, and
    the scales in increasing order: the input of :func:`scalingbook.analysis.stats.paired_bootstrap`.
    ``seeds`` fixes the rows (their order too), so that two matrices pair seed s with seed s even when
    a seed was left out of one of them."""
    table = outcomes.pivot_table(index="seed", columns=scale, values=value, aggfunc="mean", dropna=False)
    if seeds is not None:
        table = table.reindex(seeds)
    return table.to_numpy(dtype=np.float64), table.columns.to_numpy()


def _first_from(above: np.ndarray) -> np.ndarray:
    """Index of the first scale (last axis) from which ``above`` holds there and at every larger
    scale; the number of scales where it never does."""
    holds_from = np.flip(np.cumprod(np.flip(above, -1), -1), -1).astype(bool)
    return np.where(holds_from.any(-1), holds_from.argmax(-1), above.shape[-1])


def emergence_scale(
    curve: pd.DataFrame, chance: float, margin: float, scale: str = "n_params", value: str = "em"
) -> float:
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
    outcomes: pd.DataFrame,
    curves: pd.DataFrame,
    chances: dict[str, float],
    margin: float,
    n_resamples: int,
    confidence: float,
    rng_seed: int,
    clip: float = 100.0,
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
        if len(sizes) < 2:  # one stored size (a family still training): no smaller half to rise from
            near = grew = stats.Interval(np.nan, np.nan, np.nan)
        else:
            near = stats.paired_bootstrap([matrix], early, n_resamples, confidence, rng_seed)
            grew = stats.paired_bootstrap([matrix], rise, n_resamples, confidence, rng_seed)
        at_params = emergence_scale(curve, chance, margin)
        rows.append(
            {
                "task": task,
                "chance": chance,
                "emergence_params": at_params,
                "params_low": scale.low,
                "params_high": scale.high,
                "emergence_flops": flops.get(at_params, float("nan")),
                "B": curve_breakthroughness(curve, "em", clip=clip),
                "flat": is_flat(curve),
                "em_smallest": curve["em"].iloc[0],
                "em_largest": curve["em"].iloc[-1],
                "early": near.estimate,
                "early_high": near.high,
                "rise": grew.estimate,
                "rise_low": grew.low,
                "rise_high": grew.high,
                "looks_emergent": bool(near.high <= margin and grew.low > margin),
            }
        )
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
        if not widths:  # the families share no stored width yet
            continue
        seeds = sorted(set(picked["direct"]["seed"]) | set(picked["scratchpad"]["seed"]))
        direct, scratch = (
            seed_matrix(p[p["d_model"].isin(widths)], "em", "d_model", seeds)[0] for p in picked.values()
        )
        params = picked["direct"].groupby("d_model")["n_params"].first()
        found = []
        for k, width in enumerate(widths):
            gain = stats.paired_bootstrap(
                [direct, scratch], lambda d, s, k=k: s[:, k] - d[:, k], n_resamples, confidence, rng_seed
            )
            found.append(
                {
                    "task": task,
                    "d_model": width,
                    "n_params": int(params[width]),
                    "direct": float(np.nanmean(direct[:, k])),
                    "scratchpad": float(np.nanmean(scratch[:, k])),
                    "gain": gain.estimate,
                    "low": gain.low,
                    "high": gain.high,
                }
            )
        frame = pd.DataFrame(found)
        frame["helps"], frame["hurts"] = frame["low"] > 0, frame["high"] < 0
        first = int(_first_from(frame["helps"].to_numpy()))
        rows.append(frame.assign(helps_from=float(widths[first]) if first < len(widths) else float("nan")))
    columns = [
        "task",
        "d_model",
        "n_params",
        "direct",
        "scratchpad",
        "gain",
        "low",
        "high",
        "helps",
        "hurts",
        "helps_from",
    ]
    return pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(columns=columns)


def _interval(low: float, high: float) -> str:
    return f"[{low:.2f}, {high:.2f}]"


def describe_params(value: float) -> str:
    """A parameter count as the tables print it: inf is a scale beyond the family, NaN never."""
    return "beyond the family" if np.isinf(value) else "never" if np.isnan(value) else f"{value:,.0f}"


def scales_table(scales: pd.DataFrame, source: str, profile: str) -> Styler:
    """:func:`emergence_table` as the page shows it: "-" where a task never emerges (scale) or is flat (B)."""
    return (
        scales.style.format(
            {
                "chance": "{:.2g}",
                "emergence_params": "{:,.0f}",
                "params_low": "{:,.0f}",
                "params_high": "{:,.0f}",
                "emergence_flops": "{:.2e}",
                "B": "{:.1f}",
                "em_smallest": "{:.3f}",
                "em_largest": "{:.3f}",
                "early": "{:.3f}",
                "early_high": "{:.3f}",
                "rise": "{:.3f}",
                "rise_low": "{:.3f}",
                "rise_high": "{:.3f}",
            },
            na_rep="-",
        )
        .hide(axis="index")
        .set_caption(f"Source: {source} ({profile} profile). -: never (scale) or flat (B)")
    )


def family_summary(scales: pd.DataFrame, margin: float, confidence: float, profile: str) -> str:
    """The chapter's verdict on its family, every clause computed from :func:`emergence_table`.

    Wei et al.'s shape: near chance over the smaller half of the sizes, clearly above it at the
    largest; a flat curve is named as such (it has no B); a task above chance from the smallest
    size improves from the start and is not emergent by the definition. At the quick profile the
    verdict says that its models train for seconds, so it is no finding about these tasks.
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
            + "; ".join(
                f"`{r.task}`, rise {r.rise:.2f} {_interval(r.rise_low, r.rise_high)}, emergence scale "
                f"{describe_params(r.emergence_params)} parameters [{describe_params(r.params_low)}, "
                f"{describe_params(r.params_high)}]"
                f", B = {r.B:.1f}"
                for r in emergent.itertuples()
            )
            + "."
        )
    else:
        parts.append(
            f"None of the {len(scales)} tasks is both near chance over the smaller half of the sizes and "
            "clearly above it at the largest."
        )
    if len(flat):
        parts.append(
            f"Flat, never leaving where they start (no B): {', '.join(f'`{t}`' for t in flat['task'])}; for "
            "them a transition, if there is one, lies beyond the largest model trained here."
        )
    if len(early):
        parts.append(
            f"Already above chance within the smaller half: {', '.join(f'`{t}`' for t in early['task'])}; they "
            "improve from small sizes on and are not emergent by the definition."
        )
    if len(other):
        parts.append(
            f"Moving but without a clear verdict: {', '.join(f'`{t}`' for t in other['task'])} (the rise "
            f"interval reaches below {margin:g})."
        )
    if profile == "quick":
        parts.append(
            "The quick profile trains for seconds per model; its curves show what the machinery measures, "
            "not how these tasks scale. The full profile is the experiment."
        )
    return f"**In this family** ({profile} profile): " + " ".join(parts)


# Wei et al. (2022), Table 1: the few-shot abilities with the scale at which each emerged, as published.
WEI_TABLE1 = pd.DataFrame(
    [
        ("Addition/subtraction (3 digit)", 2.3e22, 13e9, "GPT-3"),
        ("Addition/subtraction (4-5 digit)", 3.1e23, 175e9, "GPT-3"),
        ("MMLU Benchmark (57 topic avg.)", 3.1e23, 175e9, "GPT-3"),
        ("Toxicity classification (CivilComments)", 1.3e22, 7.1e9, "Gopher"),
        ("Truthfulness (TruthfulQA)", 5.0e23, 280e9, "Gopher"),
        ("MMLU Benchmark (26 topics)", 5.0e23, 280e9, "Gopher"),
        ("Grounded conceptual mappings", 3.1e23, 175e9, "GPT-3"),
        ("MMLU Benchmark (30 topics)", 5.0e23, 70e9, "Chinchilla"),
        ("Word in Context (WiC) benchmark", 2.5e24, 540e9, "PaLM"),
        ("Scratchpad: 8-digit addition (finetuning; augmented prompting)", 8.9e19, 40e6, "LaMDA"),
    ],
    columns=["ability", "train FLOPs", "parameters", "model"],
).assign(source="Wei et al. 2022, Table 1")


def table1_beside_ours(scales: pd.DataFrame, profile: str, source: str) -> pd.DataFrame:
    """Wei's Table 1 with this family's emergence scales appended in its columns: each task's scale
    in FLOPs and parameters (NaN: not within the family), its interval over seeds in the ability's name."""
    ours = scales.assign(
        ability=[
            f"{task} (this chapter, {profile} profile; interval over seeds {describe_params(low)} to "
            f"{describe_params(high)} parameters)"
            for task, low, high in zip(scales["task"], scales["params_low"], scales["params_high"])
        ],
        model="this chapter's family",
        source=source,
    ).rename(columns={"emergence_flops": "train FLOPs", "emergence_params": "parameters"})
    return pd.concat([WEI_TABLE1, ours[WEI_TABLE1.columns]], ignore_index=True)


def table1_styled(table: pd.DataFrame) -> Styler:
    """:func:`table1_beside_ours` as the page shows it."""
    return table.style.format({"train FLOPs": "{:.1e}", "parameters": "{:,.0f}"}, na_rep="not within the family").hide(
        axis="index"
    )


def scratchpad_tasks(direct: Mixture, shown: dict[str, Shown]) -> list[str]:
    """The tasks the scratchpad family writes working for, in the direct mixture's order: the only
    ones where the two families differ, so the only ones compared (none when it is not stored)."""
    if "scratchpad" not in shown:
        return []
    scratchpad = mixture_of(shown["scratchpad"].sweep.runs[0])
    return [
        label
        for label, task in zip(scratchpad.labels, scratchpad.tasks)
        if label in direct.labels and getattr(task, "scratchpad", False)
    ]


def paired_curves(
    outcomes: pd.DataFrame, tasks: list[str], n_resamples: int, confidence: float, rng_seed: int
) -> pd.DataFrame:
    """:func:`mean_curves` of ``tasks`` in each family of :func:`family_outcomes`, with a ``prompting`` column."""
    compared = outcomes[outcomes["task"].isin(tasks)]
    if compared.empty:
        return pd.DataFrame(
            columns=["task", "d_model", "n_params", "flops", "em", "low", "high", "n_seeds", "prompting"]
        )
    return pd.concat(
        [
            mean_curves(rows, n_resamples, confidence, rng_seed).assign(prompting=kind)
            for kind, rows in compared.groupby("prompting", sort=False)
        ],
        ignore_index=True,
    )


def scratchpad_chart(paired: pd.DataFrame, sources: list[str]) -> alt.TopLevelMixin:
    """Wei's Fig. 3C for this family: per task, exact match of the final answer with and without a
    scratchpad, each family against its own FLOPs (the working makes its sequences longer)."""
    kinds = list(paired["prompting"].unique())
    prompting = alt.Color(
        "prompting:N", title="prompting", scale=alt.Scale(domain=kinds, range=charts.PALETTE[: len(kinds)])
    )
    flops_x = alt.X("flops:Q", scale=alt.Scale(type="log", nice=False), title="training FLOPs (6ND)")
    return charts.with_source(
        alt.layer(
            alt.Chart().mark_area(opacity=0.2).encode(x=flops_x, y="low:Q", y2="high:Q", color=prompting),
            alt.Chart()
            .mark_line(point=True)
            .encode(
                x=flops_x,
                y=alt.Y("em:Q", scale=alt.Scale(domain=[0, 1]), title="exact match (final answer)"),
                color=prompting,
                tooltip=["task:N", "prompting:N", "n_params:Q", alt.Tooltip("em:Q", format=".3f")],
            ),
            data=paired,
        )
        .properties(width=220, height=160)
        .facet(facet=alt.Facet("task:N", title=None), columns=4),
        *sources,
        title="Addition with and without a scratchpad",
    )


def gains_table(gains: pd.DataFrame, sources: list[str]) -> Styler:
    """:func:`prompting_gains` as the page shows it: signed gains, "never" where it never helps."""
    return (
        gains.style.format(
            {
                "n_params": "{:,}",
                "direct": "{:.3f}",
                "scratchpad": "{:.3f}",
                "gain": "{:+.3f}",
                "low": "{:+.3f}",
                "high": "{:+.3f}",
                "helps_from": "{:.0f}",
            },
            na_rep="never",
        )
        .hide(axis="index")
        .set_caption(f"Sources: {'; '.join(sources)}")
    )


def scratchpad_summary(gains: pd.DataFrame, confidence: float, profile: str) -> str:
    """Per task, where the scratchpad helps: at which widths the paired interval of the gain lies
    above zero, and whether that holds from some width on but not below (Wei's Fig. 3C shape)."""
    if gains.empty:
        return (
            f"**What the two families show** ({profile} profile): nothing yet. The scratchpad family has no run "
            f"stored at this profile that shares a width with the direct one; it trains in a later sitting "
            f"(`scalingbook sweep sweeps/emergence-scratchpad.yaml --profile {profile}`)."
        )
    lines = [f"**What the two families show** ({profile} profile):", ""]
    for task, rows in gains.groupby("task", sort=False):
        start = rows["helps_from"].iloc[0]
        below = rows[rows["d_model"] < start]
        shape = (
            "It helps at every width: no threshold inside this family."
            if start == rows["d_model"].min()
            else f"It helps from width {start:.0f} on and at no width below, the shape of Wei's Fig. 3C."
            if np.isfinite(start) and not below["helps"].any()
            else f"It helps from width {start:.0f} on, and at some smaller widths too: no clean threshold."
            if np.isfinite(start)
            else "There is no width from which it helps at every larger width."
        )
        largest = rows.iloc[-1]
        lines.append(
            f"- **`{task}`**: the gain's {100 * confidence:g}% interval lies above zero at {int(rows['helps'].sum())} of "
            f"{len(rows)} widths and below it at {int(rows['hurts'].sum())}; at the largest, {largest.direct:.2f} -> "
            f"{largest.scratchpad:.2f}, gain {largest.gain:+.2f} {_interval(largest.low, largest.high)}. {shape}"
        )
    return "\n".join(lines)


def stored_tables(sweep: Sweep, profile: str, store_root: Path | None = None) -> pd.DataFrame:
    """What the direct family leaves in the store for the Mirage chapter: per table (per-example
    ``records``, the ``large`` test set, multiple ``choices``), the runs that have it, its rows and columns."""
    rows = []
    for name in ("records", "large", "choices"):
        tables = [t for t in load_tables(sweep, name, profile, store_root) if t is not None]
        rows.append(
            {
                "table": f"{sweep.name}/{name}",
                "runs": len(tables),
                "rows": sum(len(t.table) for t in tables),
                "columns": ", ".join(tables[0].table.columns) if tables else "",
            }
        )
    return pd.DataFrame(rows)


def pilot_table(path) -> pd.DataFrame:
    """The pilots that chose the full profile (``scripts/pilot``'s summary CSV of a mixture), one row per
    (pilot, size): mean exact match of each task over the pilot seeds, and the run's CPU seconds on
    one core, from which the full profile's cost was estimated."""
    pilots = pd.read_csv(path)
    table = pilots.pivot_table(index=["label", "n_params", "cpu_seconds"], columns="task", values="mean_em", sort=False)
    return table.reset_index().rename_axis(columns=None)


def pilot_styled(table: pd.DataFrame) -> Styler:
    """:func:`pilot_table` as the page shows it, with its source."""
    return (
        table.style.format(precision=3)
        .format({"n_params": "{:,}", "cpu_seconds": "{:,.0f}"})
        .hide(axis="index")
        .set_caption("Source: data/pilots/emergence.csv (scripts/pilot sweeps/pilots/emergence.yaml)")
    )


def _pilot(table: pd.DataFrame, label: str) -> pd.DataFrame:
    """One pilot's rows of :func:`pilot_table`, smallest size first, tasks as columns."""
    rows = table[table["label"] == label].sort_values("n_params")
    if rows.empty:
        raise KeyError(f"no pilot {label!r}; the table has {list(table['label'].unique())}")
    return rows.set_index("n_params").drop(columns=["label", "cpu_seconds"])


def pilot_findings(table: pd.DataFrame, baseline: str, chosen: str, scratchpad: str, lift: float = 0.1) -> str:
    """What the pilots showed, from :func:`pilot_table`: where the largest size of the ``baseline``
    pilot fell below the next size down; whether in the ``chosen`` pilot it was the best size on every
    task, which tasks rose between its two largest sizes and which rose least; and on which tasks the
    ``scratchpad`` pilot beat ``chosen`` at the nearest size by more than ``lift`` exact match."""
    base, best, scratch = _pilot(table, baseline), _pilot(table, chosen), _pilot(table, scratchpad)
    n_tasks = best.shape[1]
    worse = base.columns[base.iloc[-1] < base.iloc[-2]]
    on_top = int((best.iloc[-1] > best.iloc[:-1].max()).sum())
    rises = (best.iloc[-1] - best.iloc[-2]).sort_values()
    risen = int((rises > 0).sum())
    paired_size = best.index[np.abs(best.index - scratch.index[0]).argmin()]
    gains = (scratch.iloc[0] - best.loc[paired_size]).sort_values(ascending=False)
    lifted = gains[gains > lift]

    def tasks(labels) -> str:
        return ", ".join(f"`{label}`" for label in labels)

    found = [
        f"In the `{baseline}` pilot the largest size ({base.index[-1]:,} parameters) scored below the next size down "
        f"({base.index[-2]:,}) on {len(worse)} of {n_tasks} tasks" + (f" ({tasks(worse)})." if len(worse) else "."),
        f"In the `{chosen}` pilot it was the best of the {len(best)} sizes on {on_top} of {n_tasks} tasks, and "
        + ("every task" if risen == n_tasks else f"{risen} of {n_tasks} tasks")
        + f" rose between the two largest sizes; least {tasks(rises.index[:2])} "
        f"({', '.join(f'{rise:+.3f}' for rise in rises.iloc[:2])}).",
        f"The `{scratchpad}` pilot ({scratch.index[0]:,} parameters) beat `{chosen}` at {paired_size:,} by more than "
        f"{lift:g} exact match on "
        + (
            "; ".join(
                f"`{task}` ({best.at[paired_size, task]:.2f} -> {scratch.iloc[0][task]:.2f})" for task in lifted.index
            )
            if len(lifted)
            else "no task"
        )
        + ".",
    ]
    return " ".join(found)
