"""The Mirage chapter (Schaeffer, Miranda and Koyejo 2023): emergence in the eye of the metric.

Three parts, in the chapter's order:

* **The mathematical model** (Sec. 2). A family's per-token cross-entropy falls as a smooth power law
  in parameters N, ``L_CE(N) = (N / c) ** alpha`` (``c > 0``, ``alpha < 0``); a token is right with
  probability ``p = exp(-L_CE)``, an L-token answer exactly right with ``p ** L`` (sharp in log N for
  long targets), while the expected token edit distance ``L * (1 - p)`` moves smoothly. A test set of
  n items cannot resolve accuracies below ``1 / n`` (App. A).
* **Rescoring fixed outputs** (Secs. 3-4). The Emergence family's stored per-example tables
  (:func:`scalingbook.lab.sweeps.load_tables`) scored again: exact match against token edit distance
  (Fig. 3, 5), multiple-choice grade against the Brier score (Fig. 6), exact match against target
  length (Fig. 3), a larger test set at small scale (Fig. 4). Nothing is retrained.
* **Induced emergence in vision** (Sec. 5, Figs. 7-10). From the per-image tables of
  :mod:`scalingbook.lab.vision`: Reconstruction_c (Eq. 2) and subset accuracy, the thresholded
  metrics that make smooth families look emergent.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import pandas as pd

from scalingbook.analysis import metrics, stats
from scalingbook.chapters import emergence
from scalingbook.lab.store import Result
from scalingbook.lab.sweeps import Sweep

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


def model_curves(
    n_params: np.ndarray, c: float, alpha: float, lengths: list[int], test_set_size: int
) -> pd.DataFrame:
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


def sample_token_accuracy(
    n_params: np.ndarray, c: float, alpha: float, tokens: int, seed: int
) -> pd.DataFrame:
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
    jointly for both metrics (:func:`scalingbook.analysis.stats.paired_bootstrap`), B of each resampled mean
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

    ``em_model = p ** L`` and ``edit_distance_model = L * (1 - p)`` (:func:`model_exact_match`, :func:`model_edit_distance`)
    with p the size's measured per-token accuracy (:func:`token_accuracy_by_size`) and L the target
    length: what the outputs would score if every token were right independently with probability p.
    Columns: ``d_model, n_params, target_len, em, edit_distance, n_examples, p_token, em_model,
    edit_distance_model``.
    """
    means = lengths.groupby(["d_model", "n_params", "target_len"], as_index=False).agg(
        em=("em", "mean"), edit_distance=("edit_distance", "mean"), n_examples=("n_examples", "sum"))
    out = means.merge(token_accuracy_by_size(lengths), on=["d_model", "n_params"])
    out["em_model"] = model_exact_match(out["p_token"].to_numpy(), out["target_len"].to_numpy())
    out["edit_distance_model"] = model_edit_distance(out["p_token"].to_numpy(), out["target_len"].to_numpy())
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
            rows.append({"width": int(width), "seed": int(seed), "mse": float(errors.mean()), "c": float(c),
                         "reconstruction": float(rate)})
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
            rows.append({"width": int(width), "seed": int(seed), "k": int(k), "accuracy": float(accuracy),
                         "expected": float(expected_subset_accuracy(accuracy, k)),
                         "measured": float(correct[sets[k]].all(axis=1).mean())})
    return pd.DataFrame(rows)


def seed_intervals(frame: pd.DataFrame, value: str, by: list[str], confidence: float = 0.95) -> pd.DataFrame:
    """Mean of ``value`` over seeds with a bootstrap interval (seeds resampled), per group of ``by``.

    Uses :func:`scalingbook.analysis.stats.bootstrap_ci`, so intervals are reproducible; one row per group.
    """
    rows = []
    for key, group in frame.groupby(by, sort=True):
        interval = stats.bootstrap_ci(group[value].to_numpy(), confidence=confidence)
        rows.append({**dict(zip(by, key if isinstance(key, tuple) else (key,))),
                     "mean": interval.estimate, "low": interval.low, "high": interval.high})
    return pd.DataFrame(rows)


def breakthroughness_by_seed(frame: pd.DataFrame, value: str, by: list[str] | None = None, clip: float = 100.0) -> pd.DataFrame:
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
        rows.append({"metric": metric, "setting": setting, "B": interval.estimate, "B_low": interval.low,
                     "B_high": interval.high, "width_growth": transition_growth(means)["growth"].iloc[0]})
    return pd.DataFrame(rows)


def transition_growth(summary: pd.DataFrame, by: str | None = None, low: float = 0.1, high: float = 0.9) -> pd.DataFrame:
    """How many-fold the width must grow to carry each seed-mean curve from ``low`` to ``high`` of its own range.

    ``summary`` is a :func:`seed_intervals` table (``width`` and ``mean``, plus the column ``by``
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
        rows.append({**({by: key} if by else {}), "reaches_low": first[0], "reaches_high": first[1],
                     "growth": first[1] / first[0]})
    return pd.DataFrame(rows)


def largest_step(summary: pd.DataFrame) -> dict[str, float]:
    """Where a seed-mean curve (:func:`seed_intervals`: ``width``, ``mean``) takes its largest step up
    between neighbouring widths: ``before`` and ``after`` (the widths), ``highest_before`` (the
    curve's highest value up to ``before``) and ``at_after``. Read off the data, so a summary never
    assumes where the jump is."""
    curve = summary.sort_values("width")
    values, widths = curve["mean"].to_numpy(), curve["width"].to_numpy()
    j = int(np.argmax(np.diff(values)))
    return {"before": float(widths[j]), "after": float(widths[j + 1]), "highest_before": float(values[: j + 1].max()),
            "at_after": float(values[j + 1])}


def b_difference(a: pd.DataFrame, b: pd.DataFrame, value: str, confidence: float = 0.95, clip: float = 100.0) -> stats.Interval:
    """Median over seeds of B(a) - B(b), each seed's two curves paired, with a bootstrap interval over seeds.

    ``a`` and ``b`` are one setting each of the same models (say subset accuracy at K = 5 and at
    K = 1), with ``seed``, ``width`` and ``value`` columns; the claim "a is sharper than b" holds
    when the interval lies above zero.
    """
    scores = [breakthroughness_by_seed(frame, value, clip=clip).set_index("seed")["B"] for frame in (a, b)]
    differences = (scores[0] - scores[1]).dropna()
    return stats.bootstrap_ci(differences.to_numpy(), np.median, confidence=confidence)
