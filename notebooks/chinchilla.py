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
# # Chinchilla: how big a model for a compute budget?
#
# Hoffmann et al. {cite}`hoffmann2022chinchilla` ask: with a fixed compute budget $C \approx 6ND$,
# how should one split it between parameters $N$ and training tokens $D$? They answer three ways
# (Sec. 3) and find $N_{opt} \propto C^a$ with $a \approx 0.5$: parameters and tokens should grow
# equally, against $a = 0.73$ in Kaplan et al. {cite}`kaplan2020scaling`. Besiroglu et al.
# {cite}`besiroglu2024chinchilla` later refit the third approach on data read back from the paper's
# Figure 4 and found Hoffmann's published fit inconsistent with it. This chapter runs all three
# approaches on a sweep of our own, trained on a language whose irreducible loss is known exactly,
# and then repeats Epoch's refit on the published data.
#
# The page shows the committed full sweep when it is stored, and never trains it here; otherwise the
# quick profile, trained in a few CPU-minutes the first time and read back afterwards.

# %% tags=["parameters"]
profile = "quick"  # which results to show: tiny CPU runs, or the committed full sweep (quick if none is stored) [quick|full]
device = "auto"  # where to compute: the GPU when there is one, else the CPU [auto|cpu|cuda]
corpus_path = ""  # quick profile: a local UTF-8 text file to train on at byte level; empty means the Markov source [file]
vocab_size = 64  # quick profile's Markov source: number of symbols [2..256]
order = 1  # quick profile's Markov source: how many previous symbols each next one depends on [1..4]
concentration = 0.2  # quick profile's Markov source: Dirichlet concentration of each next-symbol distribution; smaller is peakier [>0]
source_seed = 0  # quick profile's Markov source: seed of its random transition table [0..1000000]
budgets = [0.0]  # quick profile: IsoFLOP budgets C in FLOPs; [0.0] means the default (5 from 5e8 to 1.6e10) [>=0]
n_boot = 200  # bootstrap resamples of the parametric fit on our sweep (its 95% range of E); 0 skips it [0..10000]
epoch_n_boot = 200  # bootstrap resamples of the refit on the published data; 0 skips it [0..10000]
exercise_budget = 1.0e12  # exercises 1 and 3: centre of the compute budgets C (FLOPs) beyond our sweep [>0]
exercise_seed = 0  # exercises 1 and 3: seed that draws each student budget within 10^+-0.5 of exercise_budget [0..1000000]

# %% tags=["remove-input"]
import warnings

warnings.filterwarnings("ignore", message="IProgress not found")  # tqdm's notice; the sweep shows no bar
import numpy as np
from IPython.display import Markdown, display

from scalingbook.analysis import fits
from scalingbook.chapters import charts, chinchilla
from scalingbook.chapters.page import chapter_header, pick_device
from scalingbook.lab.epoch_data import EpochDataUnavailable, drop_highest_losses, load_epoch_data

charts.enable()
loaded = chinchilla.load_or_train(profile, pick_device(device), budgets=chinchilla.given_budgets(budgets), corpus_path=corpus_path,
                                  vocab_size=vocab_size, order=order, concentration=concentration, source_seed=source_seed)
analysis = chinchilla.analyse(loaded.isoflop, loaded.envelope, loaded.design, n_boot=n_boot)
display(chapter_header("chinchilla", globals(), sources=loaded.sources), Markdown(chinchilla.profile_note(loaded, profile)))

# %% [markdown]
# ## The sweep
#
# The quick profile trains on a random order-1 Markov chain (`scalingbook.lab.languages.MarkovSource`),
# whose floor is exact but whose loss does not follow Hoffmann's form: a review found the fitted $E$
# 28% below the floor, because the capacity limit is the rank of the tied embeddings and the data
# limit a step, neither a power law. The full profile trains on a stream of **Zipf-distributed
# facts** (`scalingbook.lab.languages.ZipfFactsSource`): $2^{20}$ facts, fact $k$ with probability
# $\propto k^{-1.5}$, each a 4-symbol key and a value that is the fact's own with probability 0.9. A
# model that holds the $k$ most frequent facts loses a constant times the remaining mass
# $\sum_{j>k} p_j \sim k^{-0.5}$; facts are learnt once seen a few times, so after $D$ tokens the loss
# falls as $D^{-1/3}$ (Hutter 2021; Michaud et al. 2023). The floor, the entropy of the keys plus the
# value noise, is exact. The source and sizes were chosen on pilot runs (seeds 90000 and up, never
# used here; widths 8-128, 3,000 steps): the held-out loss fell from 0.272 to 0.121, 0.065 and 0.050
# nats above the floor as N grew 2.9k, 8.8k, 30k, 109k at 1.9M tokens, bending toward a data-limited
# value as a sum of power laws does; sizes are centred on 30 tokens per parameter, where the pilot's
# envelope put the optimum, with 9 sizes over about 1.4 decades so every minimum is bracketed.
# The full profile counts compute by Hoffmann's App. F (embeddings, attention and logits), which
# exceeds 6ND at these widths (the ratio is printed below); both counts are kept. Models are
# decoder-only transformers; $N$ counts every parameter, embeddings included, as Hoffmann et al. do.
# Every run's cosine schedule decays 10x over exactly its own tokens (App. B).

# %% tags=["remove-input"]
Markdown(chinchilla.sweep_summary(loaded.design, analysis.floor, budgets_given=bool(chinchilla.given_budgets(budgets))))

# %% [markdown]
# ## Approach 1: the envelope of training curves (Figure 2)
#
# The quick profile trains each size with four cosine horizons over 16x in tokens, as Hoffmann et
# al. did. The full profile trains more sizes, each once, and reads the shorter horizons off its
# logged curve (sizes and horizons above). At every compute value, the run with the lowest
# (smoothed) loss is the best choice of $N$ for that compute; the power law through those winners
# gives $a$ (Sec. 3.1). Budgets won by the smallest or largest size are left out of the fit: the
# optimum may lie beyond the sampled sizes there. The winners form a staircase, and with $k$ sizes
# winning inside the edges the fitted slope is about $1 - 1/k^2$ of the true one: two winners, as
# four sizes give, flatten it by a quarter, which is why the full profile spends its compute on
# sizes rather than horizons. The price is that a point before a run's end is mid-cycle and reads
# somewhat higher than a cosine cycle matched to its tokens would (App. B).

# %% tags=["remove-input"]
chinchilla.envelope_chart(loaded, analysis)

# %% [markdown]
# ## Approach 2: IsoFLOP profiles (Figure 3)
#
# At each budget, the final loss against $\log N$ is fitted with a parabola whose vertex is
# $N_{opt}(C)$ (Sec. 3.2). A budget whose minimum sits at the edge of its sampled sizes (hollow
# points and dashed parabola) is flagged and left out of the power-law fit; with fewer than two
# interior budgets left, Approach 2 is not fitted and the page says so.

# %% tags=["remove-input"]
display(chinchilla.isoflop_chart(loaded, analysis), Markdown(chinchilla.edge_summary(analysis.profiles)))

# %% [markdown]
# ## Approach 3: the parametric loss (Figure 4)
#
# All final losses, IsoFLOP and Approach-1 runs together, are fitted with
# $L(N, D) = E + A/N^\alpha + B/D^\beta$ by a Huber loss ($\delta = 10^{-3}$) on log-loss residuals,
# summed over runs, from the paper's 4,500-point grid of starts (Eq. 2-3, App. D.2). Its efficient
# frontier is $a = \beta/(\alpha+\beta)$ (Eq. 4). Below: the runs in the $(C, N)$ plane coloured by
# loss, iso-loss contours of the fit, and the three approaches' frontiers.

# %% tags=["remove-input"]
display(chinchilla.parametric_chart(loaded, analysis), chinchilla.fit_table(analysis))
Markdown(chinchilla.floor_report(analysis))

# %% [markdown]
# ## Table 2: the exponents
#
# Ours beside Hoffmann et al.'s Table 2, like with like: each approach refitted on 100 subsamples
# holding 80% of the runs, and the 10th-90th percentiles of a and b (Hoffmann's scheme); then the
# same percentiles from resampling runs with replacement (Epoch's scheme), which subsampling
# understates: an 80% subsample varies about half as much as the estimate itself.

# %% tags=["remove-input"]
exponents = chinchilla.table2(analysis, loaded.isoflop, loaded.envelope, loaded.design, n_boot=100)
display(exponents.table().style.hide(axis="index"), Markdown(chinchilla.exponents_note(exponents, analysis, loaded.design)))

# %% [markdown]
# ## Table 3: projections
#
# The budget at which each size would be compute-optimal, and its tokens, from our Approach 1
# frontier (Hoffmann's Table 3 uses their Approach 1), extrapolated far beyond our sweep, beside
# Hoffmann's published row values.

# %% tags=["remove-input"]
projection = chinchilla.projection(analysis, loaded.design)
display(chinchilla.projection_table(projection), Markdown(chinchilla.projection_note(projection)))

# %% [markdown]
# ## Replicating the replication: Epoch's refit on the published data
#
# Besiroglu et al. {cite}`besiroglu2024chinchilla` read 245 runs back from Hoffmann's Figure 4,
# dropped the 5 highest losses, and refit Approach 3 with the same summed Huber loss. Their
# estimate (A = 482.01, B = 2085.43, E = 1.817, α = 0.3478, β = 0.3658) differs from Hoffmann's,
# implies about 20 tokens per parameter, and they traced Hoffmann's too-narrow intervals to an
# optimiser stopped early by a Huber loss averaged, not summed. Their 245 points ship with this book
# in `data/reference/chinchilla-fig4-epoch.csv` (provenance in `data/reference/README.md`).

# %% tags=["remove-input"]
try:
    epoch = chinchilla.refit_published(drop_highest_losses(load_epoch_data()), n_boot=epoch_n_boot)
except EpochDataUnavailable as err:
    display(Markdown(f"**The published data is not available here, so this section is skipped.** {err}"))
else:
    display(epoch.styled_table(), Markdown(epoch.report()), epoch.residual_chart())

# %% [markdown]
# ## Profiles and how to rerun the full sweep
#
# The quick profile trains models of a few thousand parameters on a CPU in minutes: every step of
# the method, but not the exponents. The full profile (`sweeps/chinchilla-isoflop.yaml` and
# `sweeps/chinchilla-envelope.yaml`, 92 runs, about 2.6 CPU-hours estimated from measured
# throughput) trains through the sweeps engine in resumable sittings:
# `scalingbook sweep sweeps/chinchilla-isoflop.yaml sweeps/chinchilla-envelope.yaml --profile full --workers 2 --time-limit 150m`.
# The paper profile (the top level of those files) keeps the former GPU geometry on the facts source.

# %% [markdown]
# ## Exercises
#
# Each exercise asks for a named result; `analysis` (this chapter's fits), `fits` and
# `chinchilla` are already imported. Exercises 1 and 3 use your budget `exercise_c`, printed below.

# %% tags=["hide-input"]
exercise_c = exercise_budget * 10 ** np.random.default_rng(exercise_seed).uniform(-0.5, 0.5)
print(f"your budget: exercise_c = {exercise_c:.4g} FLOPs")

# %% [markdown]
#
# ```{exercise} Extrapolate the parametric frontier
# :label: chinchilla-ex-n-opt
#
# Using our Approach 3 fit (`analysis.parametric.params`), how many parameters are compute-optimal
# at `exercise_c` FLOPs? Assign it to `ex1_n_opt`.
# ```

# %% [markdown]
# ```{solution-start} chinchilla-ex-n-opt
# :class: dropdown
# ```
# The frontier of Eq. 4: $N_{opt} = G (C/6)^a$ with $G = (\alpha A / \beta B)^{1/(\alpha+\beta)}$.

# %% grade={"exercise": "chinchilla-ex-n-opt", "checks": {"ex1_n_opt": {"rtol": 0.001}}}
# BEGIN SOLUTION hint: LossParams.frontier() gives the Frontier; evaluate its n_opt at the budget
ex1_n_opt = float(analysis.parametric.params.frontier().n_opt(exercise_c))
# END SOLUTION
print(f"N_opt({exercise_c:.3g} FLOPs) = {ex1_n_opt:.4g}")

# %% [markdown]
# ```{solution-end}
# ```
#
# ```{exercise} Tokens per parameter from Epoch's estimate
# :label: chinchilla-ex-ratio
#
# With Epoch's main estimate (`fits.EPOCH_ESTIMATE`), how many tokens per parameter are optimal at
# Chinchilla's own budget, $C = 6 \cdot 70\text{B} \cdot 1.4\text{T}$? Assign it to `ex2_ratio`.
# Compare with Hoffmann's unrounded values.
# ```

# %% [markdown]
# ```{solution-start} chinchilla-ex-ratio
# :class: dropdown
# ```
# $D_{opt}/N_{opt} = G^{-2} (C/6)^{b-a}$; about 18 for Epoch's estimate and about 59 for Hoffmann's.

# %% grade={"exercise": "chinchilla-ex-ratio", "checks": {"ex2_ratio": {"rtol": 0.001}}}
# BEGIN SOLUTION hint: Frontier.tokens_per_parameter at C = 6 * 70e9 * 1.4e12
ex2_ratio = float(fits.EPOCH_ESTIMATE.frontier().tokens_per_parameter(6 * 70e9 * 1.4e12))
# END SOLUTION
print(f"Epoch: {ex2_ratio:.1f} tokens per parameter")

# %% [markdown]
# ```{solution-end}
# ```
#
# ```{exercise} The loss a compute-optimal model would reach
# :label: chinchilla-ex-loss
#
# What loss does our Approach 3 fit predict for the compute-optimal model at `exercise_c`
# FLOPs? Assign it to `ex3_loss`. How far above the fitted $E$ is it, and what does that say about
# how close our sweep gets to the floor?
# ```

# %% [markdown]
# ```{solution-start} chinchilla-ex-loss
# :class: dropdown
# ```
# Evaluate $L(N_{opt}, D_{opt})$ of Eq. 2 at the frontier.

# %% grade={"exercise": "chinchilla-ex-loss", "checks": {"ex3_loss": {"rtol": 0.001}}}
# BEGIN SOLUTION hint: predict(N_opt, D_opt) with N_opt and D_opt from the frontier at the budget
fit3 = analysis.parametric.params
ex3_loss = float(fit3.predict(fit3.frontier().n_opt(exercise_c), fit3.frontier().d_opt(exercise_c)))
# END SOLUTION
print(f"predicted loss at the optimum: {ex3_loss:.4f} nats (fitted E {analysis.parametric.params.E:.4f})")

# %% [markdown]
# ```{solution-end}
# ```
