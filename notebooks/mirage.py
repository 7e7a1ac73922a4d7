# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Mirage: emergence in the eye of the metric
#
# Schaeffer, Miranda and Koyejo {cite}`schaeffer2023mirage` argue that many "emergent abilities"
# {cite}`wei2022emergent` are made by the researcher's choice of metric rather than by a sudden
# change in the model. A metric that scores an answer all-or-nothing turns a smoothly improving
# model into a curve that sits at zero and then shoots up; a metric that gives partial credit shows
# the same outputs improving steadily. This chapter starts from their mathematical model, then
# rescores the stored outputs of the Emergence chapter's model family under several metrics, and
# ends by inducing emergence in vision models that nobody would call emergent.

# %% tags=["parameters"]
profile = "quick"  # which stored results to read: tiny CPU runs or committed full-profile runs [quick|full]
emergence_profile = "auto"  # which Emergence family to rescore: auto takes the committed full one when it is stored, else quick [auto|quick|full]
device = "auto"  # where to compute: the GPU when there is one, else the CPU [auto|cpu|cuda]
c = 2.0e8  # scale constant c of the per-token cross-entropy (N/c)^alpha, in parameters [>0]
alpha = -0.35  # exponent alpha of the per-token cross-entropy; negative so loss falls with N [-3..-0.01]
target_lengths = [1, 2, 3, 4, 5]  # answer lengths L in tokens for exact match and edit distance [1..100]
test_set_size = 100  # number of test items n; accuracies below 1/n read as zero [1..10000000]
log10_params_min = 6.0  # smallest model, as log10 of the parameter count [0..15]
log10_params_max = 12.0  # largest model, as log10 of the parameter count [0..15]
vision_widths = [1, 2, 3, 4, 6, 8, 12, 16, 24, 32]  # vision: hidden widths of the autoencoders and classifiers, the scale axis [1..64]
vision_seeds = 0  # vision: training seeds per width; 0 takes the profile's count (3 quick, 10 full) [0..100]
recon_thresholds = [0.25, 0.5, 1.0, 2.0, 4.0]  # vision: thresholds c on an image's squared reconstruction error ||x - x_hat||^2 [>0]
subset_sizes = [1, 2, 3, 4, 5]  # vision: set sizes K; a set scores only if all K images are classified correctly [1..50]
subset_sets = 200  # vision: K-image sets sampled from the test set to measure subset accuracy [1..1000000]
n_resamples = 1000  # emergence outputs: bootstrap resamples of seeds behind every band [10..100000]
confidence = 0.95  # emergence outputs: level of the bootstrap bands and of the binomial intervals [0.5..0.999]
length_sizes = 4  # target length: model sizes drawn, spread evenly over the family [1..20]
exercise_length = 5  # exercises: answer length L in tokens [1..100]
exercise_accuracy = 0.5  # exercise 1: the exact-match level to reach [>0, <1]
exercise_seed = 0  # exercise 2: seed of the noisy accuracy measurements; vary it per student [0..1000000]
exercise_n_params = 1.0e8  # exercise 3: model size N whose exact match a test set must resolve [>0]

# %% tags=["remove-input"]
import altair as alt
import numpy as np
import pandas as pd
from IPython.display import Markdown

from scalingbook.chapters import charts, emergence, mirage
from scalingbook.chapters.page import chapter_header, pick_device
from scalingbook.lab import vision
from scalingbook.lab.store import REPO_ROOT
from scalingbook.lab.sweeps import component, load_tables, read_or_train

charts.enable()
if log10_params_min >= log10_params_max:
    raise ValueError("log10_params_min must be below log10_params_max")
n_params = np.logspace(log10_params_min, log10_params_max, 121)
model = mirage.model_curves(n_params, c, alpha, target_lengths, test_set_size)
train_on = pick_device(device)
# Read from the results store, training first only if these exact populations are not stored.
autoencoders = vision.population_result(
    vision.profile_config("autoencoder", profile, vision_widths, vision_seeds), profile, train_on
)
classifiers = vision.population_result(
    vision.profile_config("classifier", profile, vision_widths, vision_seeds), profile, train_on
)
# The Emergence chapter's direct-prompting family and its stored per-example outputs: the committed full
# family is read, never retrained; without it the quick family is read or trained here, as in that chapter.
# Its profile is chosen on its own: the vision results may be full-profile while the family is not yet.
shown_family = read_or_train(REPO_ROOT / "sweeps" / "emergence-direct.yaml",
                             "full" if emergence_profile == "auto" else emergence_profile, train_on, log=lambda _: None)
family, stored, family_profile = shown_family.sweep, shown_family.results, shown_family.profile
choice_tables = load_tables(family, "choices", family_profile)
large_runs = [(spec, t) for spec, t in zip(family.runs, load_tables(family, "large", family_profile)) if t is not None]
mixture = family.runs[0].build_task()
emergence_sources = {
    "records": f"{stored[-1].describe()}, with {len(stored) - 1} smaller runs",
    "large": f"{large_runs[-1][1].describe()}, with {len(large_runs) - 1} smaller run(s)" if large_runs else "",
    "choices": f"{choice_tables[-1].describe()}, with {len(choice_tables) - 1} smaller runs" if choice_tables[-1] else "",
}
chapter_header("mirage", globals(), sources=[autoencoders, classifiers, *filter(None, emergence_sources.values())])

# %% [markdown]
# ## The mathematical model
#
# Suppose a family of models whose per-token cross-entropy falls as a power law in the number of
# parameters $N$ {cite}`schaeffer2023mirage` (Sec. 2):
#
# $$\mathcal{L}_{CE}(N) = \left(\frac{N}{c}\right)^{\alpha}, \qquad c > 0,\ \alpha < 0.$$
#
# With a one-hot target, the probability that the model puts on the correct token is
# $p(N) = \exp(-\mathcal{L}_{CE}(N))$. Nothing about this model is sudden: both curves below bend
# smoothly with scale.

# %% tags=["remove-input"]
per_token = model[model["length"] == target_lengths[0]]
base = alt.Chart(per_token).encode(
    x=alt.X("n_params:Q", scale=alt.Scale(type="log"), axis=alt.Axis(format=".0e"), title="parameters N")
)
ce_chart = base.mark_line().encode(
    y=alt.Y("cross_entropy:Q", scale=alt.Scale(type="log"), title="per-token cross-entropy (nats)")
)
p_chart = base.mark_line(color=charts.PALETTE[1]).encode(
    y=alt.Y("p_token:Q", title="p(token correct)", scale=alt.Scale(domain=[0, 1]))
)
charts.with_source(
    alt.hconcat(ce_chart, p_chart),
    f"closed-form model with c = {c:g}, alpha = {alpha:g}",
    title="Loss falls smoothly, and so does the per-token error",
)

# %% [markdown]
# ## Two metrics on the same outputs
#
# Score an answer of $L$ tokens, with the tokens treated as independent. **Exact match** gives
# credit only when every token is right, so its expected value is $p^L$. **Token edit distance**
# counts the tokens that must change, with expected value $L(1-p)$. Exact match is nonlinear in
# the per-token error and, for long targets, it looks like an ability that switches on at one scale;
# edit distance is linear in it and improves steadily. Click a target length in the legend to pick
# it out.

# %% tags=["remove-input"]
pick = alt.selection_point(fields=["length"], bind="legend")
length_colour = alt.Color("length:O", title="target length L")
lines = alt.Chart(model).mark_line().encode(
    x=alt.X("n_params:Q", scale=alt.Scale(type="log"), axis=alt.Axis(format=".0e"), title="parameters N"),
    color=length_colour,
    opacity=alt.condition(pick, alt.value(1.0), alt.value(0.15)),
    tooltip=["length:O", alt.Tooltip("n_params:Q", format=".3s"), "exact_match:Q", "edit_distance:Q"],
)
em_chart = lines.encode(y=alt.Y("exact_match:Q", title="exact match  p^L")).properties(
    title="Exact match: looks emergent"
)
ted_chart = lines.encode(y=alt.Y("edit_distance:Q", title="token edit distance  L(1 - p)")).properties(
    title="Token edit distance: smooth"
)
charts.with_source(
    alt.hconcat(em_chart.add_params(pick), ted_chart),
    f"closed-form model with c = {c:g}, alpha = {alpha:g}, L in {target_lengths}",
    title="The same model under two metrics",
)

# %% [markdown]
# ## What a finite test set can see
#
# A test set of $n$ items measures exact match in steps of $1/n$ {cite}`schaeffer2023mirage`
# (App. A). Below that resolution (the dashed line; faded curves), a model that is slowly getting better reads as
# exactly zero: the chance that none of the $n$ items is answered correctly is $(1 - p^L)^n$.
# Pick another test-set size to see where the curves become measurable.

# %% tags=["remove-input"]
sizes = sorted({10, 100, 1_000, 10_000, 100_000, test_set_size})
by_size = pd.concat(
    [mirage.model_curves(n_params, c, alpha, target_lengths, n).assign(test_set_size=n, floor=1.0 / n) for n in sizes],
    ignore_index=True,
)
size_choice = alt.param(
    name="n_test", value=test_set_size, bind=alt.binding_select(options=sizes, name="test-set size n: ")
)
visible = alt.Chart(by_size).transform_filter("datum.test_set_size == n_test")
floor = visible.mark_rule(strokeDash=[4, 4], color="#888").encode(y="mean(floor):Q")
em_lines = visible.mark_line().encode(
    x=alt.X("n_params:Q", scale=alt.Scale(type="log"), axis=alt.Axis(format=".0e"), title="parameters N"),
    y=alt.Y("exact_match:Q", scale=alt.Scale(type="log", domain=[1e-6, 1], clamp=True), title="expected exact match"),
    color=length_colour,
    opacity=alt.condition("datum.resolvable", alt.value(1.0), alt.value(0.25)),
)
charts.with_source(
    (em_lines + floor).add_params(size_choice),
    f"closed-form model with c = {c:g}, alpha = {alpha:g}; dashed rule at 1/n",
    title="Below 1/n a test set reports zero",
)

# %% [markdown]
# The table gives, for each target length, the smallest model whose expected exact match a test set of
# the chosen size can resolve, and the per-token accuracy that model already has: long before exact
# match becomes measurable, the model gets most tokens right.

# %% tags=["remove-input"]
first_visible = (
    model[model["resolvable"]]
    .groupby("length", as_index=False)
    .first()[["length", "n_params", "p_token", "exact_match", "edit_distance"]]
    .rename(columns={"n_params": "smallest resolvable N", "p_token": "p(token) there"})
)
first_visible.style.format(
    {"smallest resolvable N": "{:.3g}", "p(token) there": "{:.3f}", "exact_match": "{:.2e}", "edit_distance": "{:.2f}"}
).hide(axis="index")

# %% [markdown]
# ## The same outputs under five metrics
#
# The model above is a story about an imaginary family. The Emergence chapter trained a real one: a
# family of small transformers trained on a mixture of few-shot arithmetic and word unscrambling (the
# tasks themselves are trained, where Schaeffer et al. prompt pretrained models), several seeds per
# size, and it stored every model's greedy answer to every test prompt together with the
# teacher-forced log-probability of each target token and whether it was the model's first choice.
# Schaeffer et al.'s first prediction {cite}`schaeffer2023mirage` (Sec. 3, Fig. 3) is about exactly
# such fixed outputs: change the metric, not the models, and the shape of the curve changes. So we
# rescore the stored outputs of the direct-prompting family, **without retraining anything**, under
# five metrics:
#
# - **exact match**: 1 if the answer, end-of-sequence token included, is right in every token (the
#   metric of the Emergence chapter);
# - **token edit distance**: the fewest token insertions, deletions and substitutions that turn the
#   answer into the target. It *falls* as models improve; the charts draw it as it is, and its
#   emergence score below is computed on the negated curve, so that improvement counts as a rise
#   under every metric;
# - **per-token accuracy**: the share of target tokens that are the model's most likely token given
#   the right answer so far (teacher forcing). This is Schaeffer et al.'s $p$: judged token by token, so
#   one early slip does not mark the rest of the answer wrong, as a positional comparison of the
#   free-running answer with the target would;
# - **target log-likelihood**: $\log p(\text{target})$, the sum over target tokens of the
#   teacher-forced log-probability, the continuous quantity the mathematical model starts from;
# - **Brier score**: on a four-option multiple-choice variant of the same task (below), the squared
#   error of the model's option probabilities (lower is better).
#
# One row of panels per task; each line is the mean over seeds against parameters, with its
# percentile bootstrap band over seeds (`n_resamples` resamples at level `confidence`).

# %% tags=["remove-input"]
swap_metrics = [*emergence.RECORD_METRICS, "brier"]
choices = mirage.choice_outcomes(family, choice_tables)
outcomes = emergence.run_outcomes(family, stored, list(emergence.RECORD_METRICS)).merge(
    choices[["task", "d_model", "seed", "grade", "brier"]], on=["task", "d_model", "seed"], how="left")
swap_curves = mirage.metric_curves(outcomes, swap_metrics, n_resamples, confidence, rng_seed=0)
titles = {name: mirage.METRICS[name].title for name in mirage.METRICS}
decades = [10.0**k for k in range(16)]  # log axes: a label per power of ten, none in between
params_x = alt.X("n_params:Q", scale=alt.Scale(type="log", nice=False), axis=alt.Axis(format="~s", values=decades),
                 title="parameters")
swap_base = alt.Chart().encode(x=params_x)
charts.with_source(
    alt.layer(
        swap_base.mark_area(opacity=0.25, color=charts.PALETTE[0]).encode(y=alt.Y("low:Q", title=None), y2="high:Q"),
        swap_base.mark_line(point=True, color=charts.PALETTE[0]).encode(
            y=alt.Y("mean:Q", scale=alt.Scale(zero=False)),
            tooltip=["task:N", "metric_title:N", alt.Tooltip("n_params:Q", format=","), alt.Tooltip("mean:Q", format=".3f"),
                     alt.Tooltip("low:Q", format=".3f"), alt.Tooltip("high:Q", format=".3f")],
        ),
        data=swap_curves.assign(metric_title=swap_curves["metric"].map(titles)),
    ).properties(width=130, height=95).facet(
        row=alt.Row("task:N", title=None, sort=list(mixture.labels)),
        column=alt.Column("metric_title:N", title=None, sort=[titles[m] for m in swap_metrics]),
    ).resolve_scale(y="independent"),
    emergence_sources["records"], emergence_sources["choices"],
    title="One set of outputs, five metrics: mean over seeds with bootstrap bands, per task",
)

# %% [markdown]
# How step-like is each curve? The table gives the emergence score $B$ (Schaeffer Eq. 1, BIG-bench
# breakthroughness) of every mean curve against parameters, clipped at 100 as in the Emergence
# chapter, with edit distance and the Brier score negated. A straight line through the sizes scores
# the number of sizes minus one; a curve that sits still and then jumps scores far more. A **flat**
# curve, whose interval at no larger size clears its interval at the smallest, has no $B$ (shown
# as "flat"): its median step is noise.

# %% tags=["remove-input"]
swap_scores = mirage.metric_emergence_scores(swap_curves)
b_table = swap_scores.pivot(index="task", columns="metric", values="B").reindex(
    index=[t for t in mixture.labels if t in set(swap_scores["task"])], columns=swap_metrics)
b_table.rename(columns={m: f"B, {titles[m]}" + (" (negated)" if not mirage.METRICS[m].higher_is_better else "") for m in swap_metrics}).style.format(
    "{:.1f}", na_rep="flat"
).set_caption(f"Source: {emergence_sources['records']} ({family_profile} profile); blank: not measured")

# %% [markdown]
# Is exact match *more* step-like than each continuous metric, beyond what seed luck can do? For
# every task and continuous metric, the difference of the two $B$ values, with a percentile interval
# from resampling seeds jointly for both metrics (the same models scored two ways, so a seed's luck
# sits on both sides of the difference). **sharper**: the interval lies above zero, exact match is
# clearly the more step-like; **smoother**: below zero.

# %% tags=["remove-input"]
sharp = mirage.sharpness(outcomes, swap_scores, "em", swap_metrics[1:], n_resamples, confidence, 0)
sharp.assign(metric=sharp["metric"].map(titles)).style.format(
    {"B_reference": "{:.1f}", "B_metric": "{:.1f}", "difference": "{:+.1f}", "low": "{:+.1f}", "high": "{:+.1f}"},
    na_rep="flat").hide(axis="index").set_caption(f"B_reference: exact match. Source: {emergence_sources['records']}")

# %% tags=["remove-input"]
Markdown(
    f"**What the rescoring shows** ({family_profile} profile, {swap_curves['n_params'].nunique()} sizes, so a straight "
    f"line scores B = {swap_curves['n_params'].nunique() - 1}):\n\n" + mirage.sharpness_summary(sharp, "em")
    + ("\n\nThe quick profile trains each model for seconds, so its curves show what the rescoring measures, not "
       "how these tasks scale; the full profile is the experiment." if family_profile == "quick" else "")
)

# %% [markdown]
# ## Exact match falls with target length, edit distance rises
#
# In the mathematical model an answer of $L$ tokens is exactly right with probability $p^L$, which
# falls geometrically with $L$, while its expected edit distance $L(1-p)$ grows linearly
# (Schaeffer et al.'s Fig. 3, right). Our addition tasks have answers of different digit counts, so
# their answers (end-of-sequence token included) have different target lengths. Pooling the addition
# prompts of every size and grouping them by target length gives the measured curves. Beside them, the
# model's prediction: $p$ is each size's **measured per-token accuracy** (answer tokens that are the
# teacher-forced argmax over all answer tokens, pooled over lengths, mean over seeds), and $p^L$ and $L(1-p)$ are what the
# answers would score if every token were right independently with that probability. Two caveats
# hold against the reading: length here is tied to the task (longer sums come from the harder
# components), and a model's errors are not independent across the tokens of one answer.

# %% tags=["remove-input"]
additions = [label for label in mixture.labels if getattr(component(mixture, label), "op", None) == "+"]
lengths = mirage.length_outcomes(family, stored, additions)
by_length = mirage.length_curves(lengths)
shown = by_length[by_length["n_params"].isin(mirage.evenly_spaced(by_length["n_params"], length_sizes))]
size_colour = alt.Color("n_params:O", title="parameters", scale=alt.Scale(scheme="viridis"))
length_x = alt.X("target_len:Q", title="target length L (tokens, EOS included)", axis=alt.Axis(tickMinStep=1))


def _measured_and_model(measured: str, predicted: str, title: str) -> alt.LayerChart:
    """Measured points and the independent-token model's dashed line, one colour per model size."""
    base = alt.Chart(shown).encode(x=length_x, color=size_colour)
    return alt.layer(
        base.mark_line(strokeDash=[4, 3], strokeWidth=1.5).encode(y=f"{predicted}:Q"),
        base.mark_point(filled=True, size=60).encode(
            y=alt.Y(f"{measured}:Q", title=title),
            tooltip=[alt.Tooltip("n_params:Q", format=","), "target_len:Q", alt.Tooltip(f"{measured}:Q", format=".3f"),
                     alt.Tooltip(f"{predicted}:Q", format=".3f"), alt.Tooltip("p_token:Q", format=".3f"), "n_examples:Q"],
        ),
    )


charts.with_source(
    alt.hconcat(
        _measured_and_model("em", "em_model", "exact match").properties(title="Exact match (model: p^L)"),
        _measured_and_model("edit_distance", "edit_distance_model", "token edit distance").properties(
            title="Token edit distance (model: L(1 - p))"),
    ),
    emergence_sources["records"],
    f"addition tasks {', '.join(additions)} pooled; points measured, dashed lines the independent-token model with measured p",
    title="Against target length, for a few model sizes",
)

# %% [markdown]
# The same comparison against scale, task by task and at every size: the measured exact match (points,
# mean over seeds) and the $p^L$ that the task's teacher-forced per-token accuracy predicts (line: $p$
# measured on that task's answer tokens, $p^L$ averaged over its prompts, $L$ each answer's length).
# Greedy exact match is exactly the product of the same per-token hits, so the two agree precisely
# when the hits within an answer are independent and equally likely. Where the points lie above the
# line, a model's errors come together in the same answers; where they lie below, the positions differ
# in difficulty (the end-of-sequence token is almost always right, the leading digits are not), or the
# errors spread over more answers than independence would.

# %% tags=["remove-input"]
independent = mirage.independent_token_outcomes(family, stored)
independence = mirage.independence_table(independent, n_resamples, confidence, 0)
by_task = alt.Chart(independence.assign(em_lo=independence["em_model"] + independence["low"],
                                        em_hi=independence["em_model"] + independence["high"])).encode(x=params_x)
charts.with_source(
    alt.layer(
        by_task.mark_line(color=charts.PALETTE[1]).encode(y=alt.Y("em_model:Q", title="exact match")),
        by_task.mark_rule(color=charts.PALETTE[0]).encode(y="em_lo:Q", y2="em_hi:Q"),
        by_task.mark_point(filled=True, size=40, color=charts.PALETTE[0]).encode(
            y="em:Q", tooltip=["task:N", alt.Tooltip("n_params:Q", format=","), alt.Tooltip("em:Q", format=".3f"),
                               alt.Tooltip("em_model:Q", format=".3f", title="p^L"), alt.Tooltip("gap:Q", format="+.3f"),
                               alt.Tooltip("low:Q", format="+.3f"), alt.Tooltip("high:Q", format="+.3f")]),
    ).properties(width=170, height=120).facet(facet=alt.Facet("task:N", title=None, sort=list(mixture.labels)), columns=3),
    emergence_sources["records"],
    "points: measured exact match (bars: p^L plus the paired interval of the gap); lines: p^L from teacher-forced p",
    title="Measured exact match against the independent-token prediction p^L, per task",
)

# %% tags=["remove-input"]
Markdown(f"**Measured against p^L** ({family_profile} profile):\n\n" + mirage.independence_summary(independence, confidence))

# %% tags=["remove-input"]
p_by_size = mirage.token_accuracy_by_size(lengths)
largest = by_length[by_length["n_params"] == by_length["n_params"].max()].sort_values("target_len")
per_size = by_length.groupby("n_params")
falls = sum(bool(np.all(np.diff(g.sort_values("target_len")["em"]) <= 0)) for _, g in per_size)
rises = sum(bool(np.all(np.diff(g.sort_values("target_len")["edit_distance"]) >= 0)) for _, g in per_size)
gap = float(np.mean(np.abs(by_length["em"] - by_length["em_model"])))
try:
    fit_c, fit_alpha = mirage.fit_cross_entropy_power_law(p_by_size["n_params"], p_by_size["p_token"])
except ValueError:
    fit_c, fit_alpha = float("nan"), float("nan")
Markdown(
    f"**What the lengths show** ({family_profile} profile; target lengths {', '.join(str(n) for n in sorted(by_length['target_len'].unique()))}). "
    f"Measured per-token accuracy goes from {p_by_size['p_token'].iloc[0]:.2f} at the smallest size to "
    f"{p_by_size['p_token'].iloc[-1]:.2f} at the largest. At the largest size exact match reads "
    + ", ".join(f"{r.em:.3f} at L = {r.target_len} (p^L = {r.em_model:.3f})" for r in largest.itertuples())
    + ", and edit distance " + ", ".join(f"{r.edit_distance:.2f} (L(1-p) = {r.edit_distance_model:.2f})" for r in largest.itertuples())
    + f". Across the {per_size.ngroups} sizes, exact match never rises with length for {falls} and edit distance never "
    f"falls with length for {rises}; the mean gap between measured exact match and p^L is {gap:.3f}. "
    + (f"A power law fitted to the measured per-token accuracy, -ln p = (N/c)^alpha, gives alpha = {fit_alpha:.3f} "
       f"and c = {fit_c:.3g}. " if np.isfinite(fit_alpha) and fit_alpha < 0 else
       "Per-token accuracy does not fall as a power law in size here (a fit of -ln p = (N/c)^alpha gives "
       + (f"alpha = {fit_alpha:.3f}, not negative" if np.isfinite(fit_alpha) else "no usable exponent")
       + "), so the mathematical model's smooth loss is not what these models show. ")
    + ("Where exact match falls with length as p^L does and edit distance grows with it, the tokens behave much as the "
       "model assumes; where the points leave the lines, length is standing in for task difficulty, or errors within an "
       "answer come together. "
       + ("The quick profile's models train for minutes on a CPU, so read this for the method, not the result." if family_profile == "quick" else ""))
)

# %% [markdown]
# ## Better statistics: resolving a small exact match
#
# Schaeffer et al.'s second prediction (Sec. 3, Fig. 4): with enough test data, even the smallest models
# show exact match above zero and above chance, improving smoothly, where a small test set reads zero.
# The Emergence chapter stored a much larger test set of one arithmetic task (at every size of the
# full family; for the two smallest in the quick one). First, how the estimate sharpens for the two
# smallest sizes as it uses the first 100, 1,000, 10,000, ... prompts, up to all of them: the
# **interval is Clopper-Pearson** (exact binomial) at level `confidence` on the count of exact
# matches pooled over seeds (prompts x seeds trials). The dashed line is the chance level of the task
# (a guess uniform over the integers the answer can take), the dotted one the resolution: one exact
# match in the pool.

# %% tags=["remove-input"]
large_label = large_runs[0][0].eval["large_component"]
large_chance = component(mixture, large_label).chance_exact_match()
smallest_two = large_runs[:2]
resolved = pd.concat(
    [mirage.exact_match_by_test_size(t.table, mirage.subset_sizes(t.table["example"].nunique()), confidence).assign(
        n_params=emergence.size_columns(spec)["n_params"]) for spec, t in smallest_two],
    ignore_index=True,
)
# The two sizes' marks sit slightly apart at each test-set size, so neither hides the other.
resolved["shifted"] = resolved["prompts"] * np.where(resolved["n_params"] == resolved["n_params"].min(), 0.93, 1.07)
prompts_x = alt.X("shifted:Q", scale=alt.Scale(type="log"), axis=alt.Axis(format="~s", values=decades),
                  title="test prompts used")
large_colour = alt.Color("n_params:O", title="parameters", scale=alt.Scale(range=charts.PALETTE[:2]))
charts.with_source(
    alt.layer(
        alt.Chart(resolved).mark_rule(strokeWidth=2).encode(x=prompts_x, y=alt.Y("low:Q", title=f"exact match, {large_label}"),
                                                            y2="high:Q", color=large_colour),
        alt.Chart(resolved).mark_point(filled=True, size=60).encode(
            x=prompts_x, y="em:Q", color=large_colour,
            tooltip=[alt.Tooltip("n_params:Q", format=","), "prompts:Q", "successes:Q", "trials:Q",
                     alt.Tooltip("em:Q", format=".4f"), alt.Tooltip("low:Q", format=".4f"), alt.Tooltip("high:Q", format=".4f")],
        ),
        alt.Chart(resolved).mark_line(strokeDash=[1, 3], color="#666").encode(
            x=alt.X("prompts:Q", title="test prompts used"), y="mean(resolution):Q"),
        alt.Chart(pd.DataFrame({"chance": [large_chance]})).mark_rule(strokeDash=[5, 4], color=charts.PALETTE[3]).encode(
            y="chance:Q"),
    ),
    emergence_sources["large"],
    f"{100 * confidence:g}% Clopper-Pearson intervals on the count pooled over seeds; dashed: chance {large_chance:.4f}; "
    "dotted: one exact match in the pool",
    title="Exact match of the two smallest models as the test set grows",
)

# %% [markdown]
# Then the whole large test set at every size where it is stored, against chance. Two intervals: the
# Clopper-Pearson one on the count pooled over seeds says how well these prompts resolve these seeds'
# mean; the percentile bootstrap over seeds says how much another draw of seeds would move it. A size is
# called **above chance** only when both intervals lie above the chance line, **below chance** only
# when both lie below it.

# %% tags=["remove-input"]
large_sizes = mirage.large_summary(mirage.large_outcomes(family, load_tables(family, "large", family_profile)),
                                    large_chance, n_resamples, confidence, 0)
large_sizes.style.format(
    {"n_params": "{:,}", "flops": "{:.2e}", "trials": "{:,}", "em": "{:.4f}", "cp_low": "{:.4f}", "cp_high": "{:.4f}",
     "seed_low": "{:.4f}", "seed_high": "{:.4f}"}
).hide(axis="index").set_caption(f"Source: {emergence_sources['large']}")

# %% tags=["remove-input"]
Markdown(f"**What more data shows** ({family_profile} profile): " + mirage.large_text(large_sizes, large_chance, large_label)
         + (" The quick profile's models train for minutes on a CPU." if family_profile == "quick" else ""))

# %% [markdown]
# ## Multiple choice: grade against Brier score
#
# Schaeffer et al. (Sec. 4, Fig. 6) take LaMDA's BIG-bench outputs, where tasks look emergent under
# **multiple-choice grade** (1 if the right option has the highest likelihood), and rescore them with
# the **Brier score**, the squared error between the model's option probabilities (a softmax of the
# option log-likelihoods) and the one-hot answer: lower is better, 0 for certainty on the right option.
# The Emergence chapter stored a multiple-choice variant of every task: every option's
# log-likelihood, for every model and seed. Chance is a grade of 1/k for k options, and the Brier score $1 - 1/k$ of uniform
# probabilities. The verdict compares the two $B$ values with a paired interval over seeds, as above.

# %% tags=["remove-input"]
choice_curves = mirage.metric_curves(choices, ["grade", "brier"], n_resamples, confidence, rng_seed=0)
choice_scores = mirage.metric_emergence_scores(choice_curves)
k_options = int(choices["n_options"].max())
choice_base = alt.Chart().encode(x=params_x)
charts.with_source(
    alt.layer(
        choice_base.mark_area(opacity=0.25, color=charts.PALETTE[0]).encode(y=alt.Y("low:Q", title=None), y2="high:Q"),
        choice_base.mark_line(point=True, color=charts.PALETTE[0]).encode(
            y=alt.Y("mean:Q", scale=alt.Scale(zero=False)),
            tooltip=["task:N", alt.Tooltip("n_params:Q", format=","), alt.Tooltip("mean:Q", format=".3f"),
                     alt.Tooltip("low:Q", format=".3f"), alt.Tooltip("high:Q", format=".3f")]),
        data=choice_curves.assign(metric_title=choice_curves["metric"].map(titles)),
    ).properties(width=150, height=95).facet(
        row=alt.Row("task:N", title=None, sort=list(mixture.labels)),
        column=alt.Column("metric_title:N", title=None, sort=[titles["grade"], titles["brier"]]),
    ).resolve_scale(y="independent"),
    emergence_sources["choices"],
    f"{k_options} options; mean over seeds, {100 * confidence:g}% bootstrap bands; chance: grade {1 / k_options:.2f}, "
    f"Brier {1 - 1 / k_options:.2f}",
    title="The same option likelihoods under two metrics, per task",
)

# %% tags=["remove-input"]
choice_sharp = mirage.sharpness(choices, choice_scores, "grade", ["brier"], n_resamples, confidence, 0)
choice_sharp.style.format({"B_reference": "{:.1f}", "B_metric": "{:.1f}", "difference": "{:+.1f}", "low": "{:+.1f}",
                           "high": "{:+.1f}"}, na_rep="flat").hide(axis="index").set_caption(
    f"B_reference: multiple-choice grade; B_metric: Brier score (negated). Source: {emergence_sources['choices']}")

# %% tags=["remove-input"]
Markdown(f"**What multiple choice shows** ({family_profile} profile):\n\n" + mirage.sharpness_summary(choice_sharp, "grade"))

# %% [markdown]
# ## Induced emergence in vision
#
# If the metric makes the emergence, one should be able to *induce* it in a model family nobody calls
# emergent. Schaeffer et al. {cite}`schaeffer2023mirage` (Sec. 5 and App. B) do this with vision
# models; we repeat both experiments at a size a laptop trains in a minute, on scikit-learn's
# handwritten digits: 1,797 greyscale images of 8 x 8 pixels (scaled to [0, 1]), 30% of them held out
# as a fixed test set. Both model families are networks with one hidden layer of tanh units, and the
# number of hidden units, the **width**, is the scale axis. Every width is trained from several seeds
# (Adam on minibatches), all of them at once as one batched population.
#
# ### Reconstruction: an error, and a threshold on it
#
# The autoencoders squeeze an image through a bottleneck of `width` units and rebuild it:
# $\hat x = \sigma(W_2 \tanh(W_1 x + b_1) + b_2)$. The error of one test image is
# $\lVert x - \hat x \rVert^2$, summed over its 64 pixels. Averaged over the test set it is the
# smooth metric (the paper's Fig. 7B). The "emergent" one is Eq. 2, the fraction of the $N$ test images
# reconstructed better than a threshold $c$:
#
# $$\text{Reconstruction}_c = \frac{1}{N} \sum_{n=1}^{N} \mathbb{1}\left[\lVert x_n - \hat x_n \rVert^2 < c\right].$$
#
# On the left, the dashed lines are the thresholds on the same scale as the error; on the right, each
# threshold's Reconstruction_c. Click a threshold in the legend to pick it out. Shaded bands and bars
# are 95% bootstrap intervals over seeds.

# %% tags=["remove-input"]
recon = mirage.reconstruction_curves(autoencoders.table, recon_thresholds)
mse_by_width = mirage.seed_intervals(recon[recon["c"] == recon["c"].iloc[0]], "mse", ["width"])
recon_by_width = mirage.seed_intervals(recon, "reconstruction", ["width", "c"])
width_x = alt.X(
    "width:Q", scale=alt.Scale(type="log", domain=[min(vision_widths), max(vision_widths)], nice=False),
    title="hidden width (bottleneck units)",
)
pick_c = alt.selection_point(fields=["c"], bind="legend")
c_colour = alt.Color("c:O", title="threshold c", scale=alt.Scale(range=charts.PALETTE))
c_opacity = alt.condition(pick_c, alt.value(1.0), alt.value(0.12))
error_y = alt.Y("low:Q", scale=alt.Scale(type="log"), title="mean squared error ||x - x̂||²")
mse_chart = alt.layer(
    alt.Chart(mse_by_width).mark_area(opacity=0.2, color="#000").encode(x=width_x, y=error_y, y2="high:Q"),
    alt.Chart(mse_by_width).mark_line(point=alt.OverlayMarkDef(color="#000"), color="#000").encode(
        x=width_x, y="mean:Q", tooltip=["width:Q", alt.Tooltip("mean:Q", format=".3f", title="mean squared error")]
    ),
    alt.Chart(pd.DataFrame({"c": recon_thresholds})).mark_rule(strokeDash=[4, 4]).encode(
        y="c:Q", color=c_colour, opacity=c_opacity
    ),
).properties(title="Mean squared error")
recon_base = alt.Chart(recon_by_width).encode(x=width_x, color=c_colour, opacity=c_opacity)
recon_chart = alt.layer(
    recon_base.mark_line(point=True).encode(
        y=alt.Y("mean:Q", title="Reconstruction_c", scale=alt.Scale(domain=[0, 1])),
        tooltip=["width:Q", "c:Q", alt.Tooltip("mean:Q", format=".3f", title="Reconstruction_c")],
    ).add_params(pick_c),
    recon_base.mark_rule().encode(y="low:Q", y2="high:Q"),
).properties(title="Reconstruction_c, one line per threshold c")
charts.with_source(
    alt.hconcat(mse_chart, recon_chart),
    autoencoders.describe(),
    title="The same autoencoders under two metrics",
)

# %% [markdown]
# Why a threshold can make a jump: Reconstruction_c is the fraction of the test set whose error lies
# below $c$, so it is the distribution of per-image errors read at one point. If that whole
# distribution slides down smoothly as width grows, Reconstruction_c swings from 0 to 1 over the few
# widths in which the bulk of it crosses $c$. A threshold far below the typical error stays at zero for most of the family and
# then rises late and steeply; a generous one is already high for the smallest model.
#
# ### Classification: per image, and per set of K images
#
# The classifiers are the same networks with ten outputs, trained with cross-entropy. Per-image
# accuracy is the smooth metric. Following the paper's MNIST experiment (App. B, Fig. 10), a set of
# $K$ test images, drawn independently, scores 1 only if all $K$ are classified correctly. For
# independent draws its expectation is exactly $\text{accuracy}^K$, the same geometric nonlinearity
# as exact match over $K$ tokens. The lines on the right are that expectation; the points are what a
# benchmark of `subset_sets` sampled sets actually measures (the same sets for every model), whose
# resolution is one over the number of sets. Both are means over seeds with 95% bootstrap intervals.

# %% tags=["remove-input"]
subsets = mirage.subset_accuracy_curves(classifiers.table, subset_sizes, subset_sets)
accuracy_by_width = mirage.seed_intervals(subsets[subsets["k"] == subsets["k"].min()], "accuracy", ["width"])
expected_by_width = mirage.seed_intervals(subsets, "expected", ["width", "k"])
measured_by_width = mirage.seed_intervals(subsets, "measured", ["width", "k"])
pick_k = alt.selection_point(fields=["k"], bind="legend")
k_colour = alt.Color("k:O", title="set size K", scale=alt.Scale(range=charts.PALETTE))
k_opacity = alt.condition(pick_k, alt.value(1.0), alt.value(0.12))
unit_y = alt.Scale(domain=[0, 1])
accuracy_chart = alt.layer(
    alt.Chart(accuracy_by_width).mark_area(opacity=0.2, color="#000").encode(
        x=width_x, y=alt.Y("low:Q", title="per-image test accuracy", scale=unit_y), y2="high:Q"
    ),
    alt.Chart(accuracy_by_width).mark_line(point=alt.OverlayMarkDef(color="#000"), color="#000").encode(
        x=width_x, y="mean:Q", tooltip=["width:Q", alt.Tooltip("mean:Q", format=".3f", title="accuracy")]
    ),
).properties(title="Per-image accuracy")
subset_chart = alt.layer(
    alt.Chart(expected_by_width).mark_line().encode(
        x=width_x, y=alt.Y("mean:Q", title="all K correct (subset accuracy)", scale=unit_y),
        color=k_colour, opacity=k_opacity,
    ).add_params(pick_k),
    alt.Chart(measured_by_width).mark_point(filled=True).encode(
        x=width_x, y="mean:Q", color=k_colour, opacity=k_opacity,
        tooltip=["width:Q", "k:O", alt.Tooltip("mean:Q", format=".3f", title="measured on sampled sets")],
    ),
    alt.Chart(measured_by_width).mark_rule().encode(x=width_x, y="low:Q", y2="high:Q", color=k_colour, opacity=k_opacity),
).properties(title="All K of K correct, one colour per K")
charts.with_source(
    alt.hconcat(accuracy_chart, subset_chart),
    classifiers.describe(),
    f"lines: expected accuracy^K; points: {subset_sets} sampled K-sets per K",
    title="The same classifiers under two metrics",
)

# %% [markdown]
# ### How emergent, by the numbers
#
# The emergence score $B$ (Schaeffer Eq. 1, BIG-bench breakthroughness) of each seed's curve across
# widths, then its median over seeds with a 95% bootstrap interval. A straight line through the
# widths scores the number of widths minus one; a curve that is flat and then steps scores far more
# (infinite when more than half the steps are exactly zero, clipped here at 100). The last column
# says how many-fold the width must grow to carry the seed-mean curve from 10% to 90% of its own range,
# worst to best: small for a jump, large for a gradual rise.

# %% tags=["remove-input"]
scores = mirage.vision_emergence_scores(recon, subsets)
scores.rename(
    columns={"B": "B (median over seeds)", "B_low": "low", "B_high": "high", "width_growth": "width growth 10% -> 90%"}
).style.format(precision=1, na_rep="-").hide(axis="index")

# %% [markdown]
# ### What came out

# %% tags=["remove-input"]
score_of = scores.set_index(["metric", "setting"])
mse_b = score_of.loc[("mean squared error (negated)", ""), "B"]
c_low, c_high = min(recon_thresholds), max(recon_thresholds)
k_low, k_high = min(subset_sizes), max(subset_sizes)
recon_at = recon_by_width.pivot(index="width", columns="c", values="mean")
expected_at = expected_by_width.pivot(index="width", columns="k", values="mean")
measured_at = measured_by_width.pivot(index="width", columns="k", values="mean")
b_k = {k: score_of.loc[("all K correct, expected acc^K", f"K = {k}"), "B"] for k in (k_low, k_high)}
growth_k = {k: score_of.loc[("all K correct, expected acc^K", f"K = {k}"), "width_growth"] for k in (k_low, k_high)}
strict_step = mirage.largest_step(recon_by_width[recon_by_width["c"] == c_low])
k_diff = mirage.b_difference(subsets[subsets["k"] == k_high], subsets[subsets["k"] == k_low], "expected")
sharper_b = "clearly higher" if k_diff.low > 0 else "clearly lower" if k_diff.high < 0 else "not clearly different"
steeper = growth_k[k_high] < growth_k[k_low]
Markdown(
    f"**Reconstruction.** The mean squared error falls from {mse_by_width['mean'].iloc[0]:.2f} at width "
    f"{mse_by_width['width'].iloc[0]} to {mse_by_width['mean'].iloc[-1]:.2f} at width {mse_by_width['width'].iloc[-1]}, "
    f"with no jump: its B is {mse_b:.1f}, against {len(mse_by_width) - 1} for a straight line through the "
    f"{len(mse_by_width)} widths. The same models under Reconstruction_c look quite different. With the "
    f"strictest threshold, c = {c_low:g}, the largest step comes between widths {strict_step['before']:g} and "
    f"{strict_step['after']:g}: the metric reads at most {strict_step['highest_before']:.2f} up to width "
    f"{strict_step['before']:g} and {strict_step['at_after']:.2f} at width {strict_step['after']:g}, "
    f"{recon_at[c_low].iloc[-1]:.2f} at the largest (B {score_of.loc[('Reconstruction_c', f'c = {c_low:g}'), 'B']:.0f}); "
    f"with the most generous, c = {c_high:g}, it already starts at {recon_at[c_high].iloc[0]:.2f}. Where the jump "
    f"happens, and whether there is one to see at all, is set by c, not by anything that happens inside the models.\n\n"
    f"**Classification.** Per-image accuracy rises from {accuracy_by_width['mean'].iloc[0]:.2f} to {accuracy_by_width['mean'].iloc[-1]:.2f} "
    f"across the widths. For sets of K = {k_high} the expectation rises from {expected_at[k_high].iloc[0]:.4f} to "
    f"{expected_at[k_high].iloc[-1]:.2f}, and a benchmark of {subset_sets} sampled sets measures "
    f"{measured_at[k_high].iloc[0]:.3f} for the smallest model. Is the K-th power sharper? Its B (median over seeds) is "
    f"{b_k[k_high]:.0f} for K = {k_high} against {b_k[k_low]:.0f} for K = {k_low}; the median over seeds of each seed's "
    f"difference is {k_diff.estimate:+.1f} [{k_diff.low:+.1f}, {k_diff.high:+.1f}], {sharper_b} than zero. Carrying the "
    f"mean from 10% to 90% of its range takes a {growth_k[k_high]:.1f}-fold growth in width for K = {k_high} against "
    f"{growth_k[k_low]:.1f}-fold for K = {k_low}, so by that measure it is {'steeper' if steeper else 'not steeper'}. "
    + ("By both measures the K-th power makes the curve more step-like." if k_diff.low > 0 and steeper else
       "By neither measure is the K-th power clearly more step-like here: this family's per-image accuracy already "
       "climbs within a few-fold growth in width, and raising it to the K-th power mainly moves the rise to larger "
       "widths and presses the smallest models to zero." if k_diff.low <= 0 and not steeper else
       "The two measures disagree, so the K-th power's effect on the shape is not clear on these runs.")
)

# %% [markdown]
# ## Exercises
#
# Each exercise asks for a named result. Compute it with the `scalingbook` package, which this
# notebook has already imported as `mirage`, and the chapter's parameters (`c`, `alpha` and the
# `exercise_*` values in the parameters cell).
#
# ```{exercise} Where exact match crosses a level
# :label: mirage-ex-threshold
#
# Find the model size $N$ at which the expected exact match of an answer of `exercise_length`
# tokens reaches `exercise_accuracy`. Assign it to `ex1_n_params`, in parameters.
# ```

# %% [markdown]
# ```{solution-start} mirage-ex-threshold
# :class: dropdown
# ```
# Exact match rises with $N$, so set $p(N)^L = a$ and solve: $p = a^{1/L}$, so
# $\mathcal{L}_{CE} = -\ln(a)/L$ and $N = c\,\mathcal{L}_{CE}^{1/\alpha}$.

# %% grade={"exercise": "mirage-ex-threshold", "checks": {"ex1_n_params": {"rtol": 0.001}}}
# BEGIN SOLUTION hint: set p(N)**L equal to the level and solve for N (see the mathematical model in mirage)
ex1_n_params = mirage.params_for_exact_match(exercise_accuracy, exercise_length, c, alpha)
# END SOLUTION
print(f"exact match of {exercise_length}-token answers reaches {exercise_accuracy:g} at N = {ex1_n_params:.3g}")

# %% [markdown]
# ```{solution-end}
# ```

# %% [markdown]
# ```{exercise} Fit the exponent back from noisy measurements
# :label: mirage-ex-fit
#
# A lab scores 500 tokens on each of 13 models and reports the fraction it got right: the table
# `measured` below, with columns `n_params` and `accuracy`. Recover the power law from it by an
# ordinary least-squares line through $\ln(-\ln p)$ against $\ln N$, dropping accuracies of exactly 0
# or 1. Assign the exponent to `ex2_alpha` and the scale constant to `ex2_c`. How far is the fit from
# the `alpha` the chapter used, and why?
# ```

# %% tags=["hide-input"]
measured = mirage.sample_token_accuracy(
    np.logspace(log10_params_min, log10_params_max, 13), c, alpha, tokens=500, seed=exercise_seed
)

# %% [markdown]
# ```{solution-start} mirage-ex-fit
# :class: dropdown
# ```
# Since $-\ln p = (N/c)^\alpha$, the points $(\ln N, \ln(-\ln p))$ lie on a line of slope $\alpha$ and
# intercept $-\alpha \ln c$. With 500 tokens per model the measured accuracies are binomial, so the
# fitted exponent misses the true one by about a hundredth; more tokens shrink the miss.

# %% grade={"exercise": "mirage-ex-fit", "checks": {"ex2_alpha": {"atol": 0.002}, "ex2_c": {"rtol": 0.02}}}
# BEGIN SOLUTION hint: fit a line to ln(-ln accuracy) against ln(n_params); the slope is alpha
ex2_c, ex2_alpha = mirage.fit_cross_entropy_power_law(measured["n_params"], measured["accuracy"])
# END SOLUTION
print(f"fitted alpha = {ex2_alpha:.4f} (chapter: {alpha:g}), c = {ex2_c:.3g} (chapter: {c:g})")

# %% [markdown]
# ```{solution-end}
# ```

# %% [markdown]
# ```{exercise} How many test items does it take?
# :label: mirage-ex-test-size
#
# Take the model of `exercise_n_params` parameters. Assign its expected exact match on answers of
# `exercise_length` tokens to `ex3_exact_match`, then the smallest test-set size $n$ for which at
# least one item is answered exactly right with probability at least 0.95 to `ex3_test_set_size`.
# ```

# %% [markdown]
# ```{solution-start} mirage-ex-test-size
# :class: dropdown
# ```
# A test set of $n$ items holds no exact match with probability $(1 - p^L)^n$. Asking for this to be at
# most $0.05$ gives $n \ge \ln 0.05 / \ln(1 - p^L)$, about $3 / p^L$ when $p^L$ is small: three times
# the $1/n$ resolution rule of thumb.

# %% grade={"exercise": "mirage-ex-test-size", "checks": {"ex3_exact_match": {"rtol": 0.001}, "ex3_test_set_size": {"rtol": 0.002, "atol": 1}}}
# BEGIN SOLUTION hint: first p(N) and p**L, then the smallest n with (1 - p**L)**n <= 0.05
p_exercise = mirage.per_token_correct(mirage.per_token_cross_entropy(exercise_n_params, c, alpha))
ex3_exact_match = float(mirage.model_exact_match(p_exercise, exercise_length))
ex3_test_set_size = mirage.min_test_set_size(ex3_exact_match, confidence=0.95)
# END SOLUTION
print(f"exact match {ex3_exact_match:.3g}: a test set needs {ex3_test_set_size} items to show it")

# %% [markdown]
# ```{solution-end}
# ```
