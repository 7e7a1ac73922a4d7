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
import numpy as np
from IPython.display import Markdown

from scalingbook.chapters import charts, mirage
from scalingbook.chapters.page import chapter_header, pick_device

charts.enable()
model = mirage.model_curves(mirage.params_grid(log10_params_min, log10_params_max), c, alpha, target_lengths, test_set_size)
train_on = pick_device(device)
autoencoders, classifiers = mirage.vision_populations(profile, vision_widths, vision_seeds, train_on)
family = mirage.read_family(emergence_profile, train_on)
sources = family.sources()
chapter_header("mirage", globals(), sources=[autoencoders, classifiers, *family.stored_sources()])

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
mirage.loss_chart(model, c, alpha)

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
mirage.model_metrics_chart(model, c, alpha)

# %% [markdown]
# ## What a finite test set can see
#
# A test set of $n$ items measures exact match in steps of $1/n$ {cite}`schaeffer2023mirage`
# (App. A). Below that resolution (the dashed line; faded curves), a model that is slowly getting better reads as
# exactly zero: the chance that none of the $n$ items is answered correctly is $(1 - p^L)^n$.
# Pick another test-set size to see where the curves become measurable.

# %% tags=["remove-input"]
mirage.resolution_chart(model, c, alpha, test_set_size)

# %% [markdown]
# The table gives, for each target length, the smallest model whose expected exact match a test set of
# the chosen size can resolve, and the per-token accuracy that model already has: long before exact
# match becomes measurable, the model gets most tokens right.

# %% tags=["remove-input"]
mirage.first_resolvable(model)

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
# percentile bootstrap band over seeds (`n_resamples` resamples at level `confidence`). Members that
# diverged in training are left out here and in every table of the family below, as in the Emergence
# chapter; each section's summary says how many were left out at each size.

# %% tags=["remove-input"]
choice_outcomes = mirage.choice_outcomes(family.sweep, family.records, family.choices)
rescored = mirage.swap_metrics(mirage.rescored_outcomes(family, choice_outcomes), mirage.SWAP_METRICS, n_resamples, confidence)
mirage.metric_panels(rescored, family.labels, 130, sources["records"], sources["choices"],
                     title="One set of outputs, five metrics: mean over seeds with bootstrap bands, per task")

# %% [markdown]
# How step-like is each curve? The table gives the emergence score $B$ (Schaeffer Eq. 1, BIG-bench
# breakthroughness) of every mean curve against parameters, clipped at 100 as in the Emergence
# chapter, with edit distance and the Brier score negated. A straight line through the sizes scores
# the number of sizes minus one; a curve that sits still and then jumps scores far more. A **flat**
# curve, whose interval at no larger size clears its interval at the smallest, has no $B$ (shown
# as "flat"): its median step is noise.

# %% tags=["remove-input"]
mirage.b_table(rescored, family.labels, f"Source: {sources['records']} ({family.profile} profile); blank: not measured")

# %% [markdown]
# Is exact match *more* step-like than each continuous metric, beyond what seed luck can do? For
# every task and continuous metric, the difference of the two $B$ values, with a percentile interval
# from resampling seeds jointly for both metrics (the same models scored two ways, so a seed's luck
# sits on both sides of the difference). **sharper**: the interval lies above zero, exact match is
# clearly the more step-like; **smoother**: below zero.

# %% tags=["remove-input"]
mirage.sharpness_table(rescored, f"B_reference: exact match. Source: {sources['records']}")

# %% tags=["remove-input"]
Markdown(mirage.rescoring_text(rescored, family.profile))

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
additions = mirage.addition_labels(family.mixture)
lengths = mirage.length_outcomes(family.sweep, family.records, additions)
mirage.length_chart(lengths, length_sizes, additions, sources["records"])

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
independent = mirage.independent_token_outcomes(family.sweep, family.records)
independence = mirage.independence_table(independent, n_resamples, confidence, 0)
mirage.independence_chart(independence, family.labels, sources["records"])

# %% tags=["remove-input"]
Markdown(mirage.independence_text(independent, independence, confidence, family.profile))

# %% [markdown]
# Where exact match falls with length as $p^L$ does and edit distance grows with it, the tokens behave
# much as the model assumes; where the points leave the lines, length is standing in for task
# difficulty, or errors within an answer come together. What the addition tasks show:

# %% tags=["remove-input"]
Markdown(mirage.lengths_text(lengths, family.profile))

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
large = mirage.large_test_set(family, n_resamples, confidence)
mirage.large_prompts_chart(large, confidence, sources["large"])

# %% [markdown]
# Then the whole large test set at every size where it is stored, against chance. Two intervals: the
# Clopper-Pearson one on the count pooled over seeds says how well these prompts resolve these seeds'
# mean; the percentile bootstrap over seeds says how much another draw of seeds would move it. A size is
# called **above chance** only when both intervals lie above the chance line, **below chance** only
# when both lie below it.

# %% tags=["remove-input"]
mirage.large_table(large, f"Source: {sources['large']}")

# %% tags=["remove-input"]
Markdown(mirage.large_text(large, family.profile))

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
choices = mirage.swap_metrics(choice_outcomes, ["grade", "brier"], n_resamples, confidence)
mirage.choices_chart(choices, family.labels, confidence, sources["choices"])

# %% tags=["remove-input"]
mirage.sharpness_table(choices, f"B_reference: multiple-choice grade; B_metric: Brier score (negated). Source: {sources['choices']}")

# %% tags=["remove-input"]
Markdown(mirage.choices_text(choices, family.profile))

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
vision_curves = mirage.vision_curves(autoencoders.table, classifiers.table, recon_thresholds, subset_sizes, subset_sets)
mirage.reconstruction_chart(vision_curves, autoencoders.describe())

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
mirage.subset_chart(vision_curves, classifiers.describe())

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
mirage.vision_scores_table(vision_curves)

# %% [markdown]
# ### What came out

# %% tags=["remove-input"]
Markdown(mirage.vision_summary(vision_curves))

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
