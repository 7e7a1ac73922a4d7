"""The Emergence family's stored outputs rescored under other metrics (Schaeffer et al. 2023, Secs. 3-4).

Schaeffer, Miranda and Koyejo's claim is about *fixed outputs*: the same generations look emergent
under exact match and smooth under token edit distance (Fig. 3, Fig. 5), the same option
likelihoods look emergent under multiple-choice grade and smooth under the Brier score (Fig. 6),
exact match falls geometrically with target length while edit distance grows linearly (Fig. 3),
and a larger test set resolves small exact matches that a small one reads as zero (Fig. 4). Every
function here reads the per-example tables the Emergence chapter stores
(:func:`scalingbook.sweeps.load_tables`), so nothing is retrained.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd

from scalingbook import emergence, metric_model, metrics, stats
from scalingbook.results import Result
from scalingbook.sweeps import Sweep


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


def _size_columns(spec, result: Result | None, table: str) -> dict[str, float]:
    """The scale of a run whose ``table`` must be stored (:func:`emergence.size_columns`)."""
    if result is None:
        raise ValueError(f"{table}: run {spec.key} has no stored table; train the sweep first (scalingbook sweep)")
    return emergence.size_columns(spec)


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
        id_vars=["task", "d_model", "n_params", "flops", "seed"], value_vars=list(names), var_name="metric", value_name="mean"
    )
    long = long.dropna(subset=["mean"])  # a metric measured on some tasks only (multiple choice)
    long["metric"] = pd.Categorical(long["metric"], categories=list(names))  # keep the caller's order
    curves = emergence.mean_curves(long, n_resamples, confidence, rng_seed, value="mean", by=["metric"])
    return curves.assign(metric=curves["metric"].astype(str))


def emergence_scores(curves: pd.DataFrame, clip: float = 100.0) -> pd.DataFrame:
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
        rows.append({"task": task, "metric": name, "B": emergence.curve_breakthroughness(curve, "mean", sign, clip),
                     "flat": emergence.is_flat(curve), "smallest": curve["mean"].iloc[0],
                     "largest": curve["mean"].iloc[-1]})
    return pd.DataFrame(rows)


def sharpness(
    outcomes: pd.DataFrame, scores: pd.DataFrame, reference: str, others: list[str] | tuple[str, ...],
    n_resamples: int, confidence: float, rng_seed: int, clip: float = 100.0,
) -> pd.DataFrame:
    """Is ``reference`` (exact match, or grade) more step-like than each metric of ``others``, task by task?

    Schaeffer et al.'s claim (Secs. 3-4) is a difference: the same outputs score a higher B under
    the all-or-nothing metric than under a continuous one. Its interval comes from resampling seeds
    jointly for both metrics (:func:`scalingbook.stats.paired_bootstrap`), B of each resampled mean
    curve oriented as in :func:`emergence_scores` and clipped at ``clip``. ``outcomes`` has one row
    per (task, size, seed) with a column per metric; ``scores`` is :func:`emergence_scores` of
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

            def difference(a: np.ndarray, b: np.ndarray, signs: list[float] = signs, sizes: np.ndarray = sizes) -> np.ndarray:
                return (metrics.breakthroughness(signs[0] * a, sizes, clip=clip)
                        - metrics.breakthroughness(signs[1] * b, sizes, clip=clip))

            b_ref, b_other = indexed.loc[(task, reference), "B"], indexed.loc[(task, name), "B"]
            interval = stats.paired_bootstrap([ref, other], difference, n_resamples, confidence, rng_seed)
            verdict = ("flat" if np.isnan(b_ref) or np.isnan(b_other) else "sharper" if interval.low > 0
                       else "smoother" if interval.high < 0 else "no clear difference")
            rows.append({"task": task, "metric": name, "B_reference": b_ref, "B_metric": b_other,
                         "difference": b_ref - b_other, "low": interval.low, "high": interval.high, "verdict": verdict})
    return pd.DataFrame(rows)


def choice_outcomes(sweep: Sweep, tables: list[Result | None]) -> pd.DataFrame:
    """Multiple-choice grade and Brier score per (size, seed), from stored option log-likelihoods.

    Schaeffer et al. 2023, Sec. 4 and Fig. 6 (LaMDA on BIG-bench): the grade credits the option of
    highest likelihood (:func:`metrics.multiple_choice_grade`); the Brier score
    (:func:`metrics.brier_score`, lower is better) scores the softmax of the option log-likelihoods
    (:func:`metrics.option_probabilities`). Columns: ``task, d_model, n_params, flops, seed, grade,
    brier, n_examples, n_options``.
    """
    rows = []
    for spec, result in zip(sweep.runs, tables):
        sizes = _size_columns(spec, result, "choices")
        table = result.table
        options = list(table["option_logprob"])
        correct = table["correct"].to_numpy().astype(np.int64)
        scored = pd.DataFrame({
            "component": table["component"].to_numpy(), "seed": table["seed"].to_numpy(),
            "grade": metrics.multiple_choice_grade(options, correct),
            "brier": metrics.brier_score(metrics.option_probabilities(options), correct),
            "n_options": [len(o) for o in options],
        })
        per_seed = scored.groupby(["component", "seed"], as_index=False).agg(
            grade=("grade", "mean"), brier=("brier", "mean"), n_examples=("grade", "size"), n_options=("n_options", "max"))
        labels = spec.build_task().labels
        rows.append(per_seed.assign(task=[labels[c] for c in per_seed["component"]], **sizes))
    return pd.concat(rows, ignore_index=True).drop(columns="component")


def length_outcomes(sweep: Sweep, results: list[Result], labels: list[str] | tuple[str, ...]) -> pd.DataFrame:
    """Exact match, edit distance and per-token correctness per (size, seed, target length).

    Pools the records of the components ``labels`` (say, the addition tasks, whose answers have
    different digit counts) and groups them by ``target_len`` (answer tokens, EOS included): the
    data behind Schaeffer et al.'s Fig. 3, where exact match falls about geometrically with target
    length and token edit distance rises about linearly. ``correct_tokens`` counts teacher-forced
    hits (``tf_correct``), the per-token accuracy whose L-th power predicts exact match. Columns: ``d_model, n_params, flops, seed,
    target_len, em, edit_distance, correct_tokens, tokens, n_examples``.
    """
    rows = []
    for spec, result in zip(sweep.runs, results):
        sizes = _size_columns(spec, result, "records")
        task_labels = spec.build_task().labels
        unknown = [label for label in labels if label not in task_labels]
        if unknown:
            raise ValueError(f"labels: {unknown} are not components of {spec.sweep}; it has {list(task_labels)}")
        picked = result.table[result.table["component"].isin([task_labels.index(label) for label in labels])]
        scored = pd.concat(
            [picked[["seed", "target_len"]].reset_index(drop=True),
             emergence.record_scores(picked, ["em", "edit_distance", "token_accuracy"]).reset_index(drop=True)], axis=1)
        scored["hits"] = scored["token_accuracy"] * scored["target_len"]
        per_seed = scored.groupby(["seed", "target_len"], as_index=False).agg(
            em=("em", "mean"), edit_distance=("edit_distance", "mean"), correct_tokens=("hits", "sum"),
            n_examples=("em", "size"))
        rows.append(per_seed.assign(tokens=per_seed["target_len"].astype(np.int64) * per_seed["n_examples"], **sizes))
    frame = pd.concat(rows, ignore_index=True)
    frame["target_len"] = frame["target_len"].astype(np.int64)
    return frame[["d_model", "n_params", "flops", "seed", "target_len", "em", "edit_distance", "correct_tokens",
                  "tokens", "n_examples"]]


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

    ``em_model = p ** L`` and ``edit_distance_model = L * (1 - p)`` (:mod:`scalingbook.metric_model`)
    with p the size's measured per-token accuracy (:func:`token_accuracy_by_size`) and L the target
    length: what the outputs would score if every token were right independently with probability p.
    Columns: ``d_model, n_params, target_len, em, edit_distance, n_examples, p_token, em_model,
    edit_distance_model``.
    """
    means = lengths.groupby(["d_model", "n_params", "target_len"], as_index=False).agg(
        em=("em", "mean"), edit_distance=("edit_distance", "mean"), n_examples=("n_examples", "sum"))
    out = means.merge(token_accuracy_by_size(lengths), on=["d_model", "n_params"])
    out["em_model"] = metric_model.exact_match(out["p_token"].to_numpy(), out["target_len"].to_numpy())
    out["edit_distance_model"] = metric_model.token_edit_distance(out["p_token"].to_numpy(), out["target_len"].to_numpy())
    return out.sort_values(["n_params", "target_len"], ignore_index=True)


def independent_token_outcomes(sweep: Sweep, results: list[Result]) -> pd.DataFrame:
    """Measured exact match beside what per-token accuracy predicts, per (task, size, seed).

    Schaeffer et al. 2023, Sec. 2: if each of an answer's L tokens is right independently with
    probability p, exact match is p^L. Here p is the run's teacher-forced per-token accuracy on the
    task (answer tokens that are the argmax, pooled over its prompts) and ``em_model`` the mean of
    p^L over its prompts, L each prompt's answer length (EOS included). Greedy exact match is the
    product of the same hits, so ``em`` above ``em_model`` means errors come together within an
    answer; below it, that positions differ in difficulty (p pools an easy end-of-sequence token with
    hard digits) or that errors spread over more answers than independence would. Columns: ``task, d_model, n_params, flops,
    seed, em, p_token, em_model``.
    """
    rows = []
    for spec, result in zip(sweep.runs, results):
        sizes = _size_columns(spec, result, "records")
        labels = spec.build_task().labels
        table = result.table
        scored = pd.DataFrame({
            "component": table["component"].to_numpy(), "seed": table["seed"].to_numpy(),
            "target_len": table["target_len"].to_numpy().astype(np.int64),
            "em": emergence.record_scores(table, ["em"])["em"].to_numpy(),
            "hits": metrics.token_accuracy(table["tf_correct"]) * table["target_len"].to_numpy(),
        })
        for (c, seed), group in scored.groupby(["component", "seed"]):
            p = group["hits"].sum() / group["target_len"].sum()
            rows.append({"task": labels[c], **sizes, "seed": seed, "em": group["em"].mean(), "p_token": p,
                         "em_model": float(np.mean(p ** group["target_len"].to_numpy()))})
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
            gap = stats.paired_bootstrap([measured, predicted], lambda a, b, k=k: a[:, k] - b[:, k], n_resamples,
                                         confidence, rng_seed)
            rows.append({"task": task, "n_params": size, "em": float(np.nanmean(measured[:, k])),
                         "em_model": float(np.nanmean(predicted[:, k])), "gap": gap.estimate, "low": gap.low,
                         "high": gap.high})
    return pd.DataFrame(rows)


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
            f"{last.em_model:.3f} predicted.")
    return "\n".join(lines)


def sharpness_summary(sharp: pd.DataFrame, reference: str) -> str:
    """Per task, which metrics the ``reference`` is clearly more step-like than (:func:`sharpness`),
    which clearly less, and which curves are flat; then how many tasks have at least one clearly
    smoother continuous metric, the count Schaeffer et al.'s thesis predicts to be all of them."""
    title = METRICS[reference].title
    lines, smoother_somewhere = [], 0
    for task, rows in sharp.groupby("task", sort=False):
        named = {v: ", ".join(METRICS[m].title for m in rows.loc[rows["verdict"] == v, "metric"])
                 for v in ("sharper", "smoother", "no clear difference", "flat")}
        smoother_somewhere += bool(named["sharper"])
        compared = "; ".join(p for p in (
            f"clearly higher than under {named['sharper']}" if named["sharper"] else "",
            f"clearly lower than under {named['smoother']}" if named["smoother"] else "",
            f"not clearly different from {named['no clear difference']}" if named["no clear difference"] else "") if p)
        parts = [f"B under {title} is {compared}" if compared else "",
                 f"no B to compare with {named['flat']} (a flat curve)" if named["flat"] else ""]
        lines.append(f"- **`{task}`**: " + "; ".join(p for p in parts if p) + ".")
    return ("\n".join(lines) + f"\n\nIn all, {smoother_somewhere} of {sharp['task'].nunique()} tasks have a continuous "
            f"metric whose B is clearly below that of {title}.")


def large_text(summary: pd.DataFrame, chance: float, label: str) -> str:
    """The large test set's verdict per size (:func:`large_summary`), in one paragraph."""
    counts = summary["verdict"].value_counts()
    above = summary[summary["verdict"] == "above chance"]
    zero = summary[summary["successes"] == 0]
    return (
        f"On `{label}` (chance {chance:.2g}) the large test set puts {counts.get('above chance', 0)} of {len(summary)} "
        f"sizes above chance, {counts.get('below chance', 0)} below it and "
        f"{counts.get('not distinguishable from chance', 0)} indistinguishable from it (both intervals must agree). "
        + (f"The smallest size above chance has {above['n_params'].iloc[0]:,} parameters, at exact match "
           f"{above['em'].iloc[0]:.4f}. " if len(above) else "")
        + (f"{len(zero)} size(s) answer no prompt of the {zero['trials'].iloc[0]:,} exactly; there the test set only "
           f"bounds exact match below {zero['cp_high'].max():.4f}." if len(zero) else
           "Every size answers some prompts exactly, so a test set this large resolves exact match at every size.")
    )


def large_outcomes(sweep: Sweep, tables: list[Result | None]) -> pd.DataFrame:
    """Exact matches on the large test set per (size, seed): ``task, d_model, n_params, flops, seed,
    successes, trials, em`` (Schaeffer et al. 2023, Fig. 4; runs without the table are skipped)."""
    rows = []
    for spec, result in zip(sweep.runs, tables):
        if result is None:
            continue
        label = spec.eval["large_component"]
        per_seed = result.table.groupby("seed")["exact_match"].agg(["sum", "size"])
        for seed, (hits, n) in per_seed.iterrows():
            rows.append({"task": label, **emergence.size_columns(spec), "seed": seed, "successes": int(hits),
                         "trials": int(n), "em": hits / n})
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
        rows.append({**dict(zip(["task", "d_model", "n_params", "flops"], key)), "seeds": len(group),
                     "successes": successes, "trials": trials, "em": successes / trials, "cp_low": float(cp_low),
                     "cp_high": float(cp_high), "seed_low": seeds.low, "seed_high": seeds.high,
                     "verdict": "above chance" if above else "below chance" if below else "not distinguishable from chance"})
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
        rows.append({"prompts": n, "seeds": picked["seed"].nunique(), "successes": successes, "trials": trials,
                     "em": successes / trials, "low": float(low), "high": float(high), "resolution": 1.0 / trials})
    return pd.DataFrame(rows)


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
