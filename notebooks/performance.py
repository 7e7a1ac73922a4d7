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
# # Performance: what the batched fit and the population trainer buy
#
# Two pieces of this book do in one batched computation what is usually a Python loop: the
# parametric fit of Hoffmann et al.'s Approach 3 {cite}`hoffmann2022chinchilla`, which starts
# L-BFGS from 4,500 points, and the population trainer, which trains hundreds of seeds of a small
# transformer as one model, the scale of Zhao et al.'s seed populations {cite}`zhao2025random`.
# Speed claims are only worth what their baseline is worth, so every number here is a ratio to the
# simple method **measured in the same run, on the same data, on the same machine**. The page shows
# the measurements stored in `data/bench/`, each with the machine and the commit that made it. It
# does not time anything while the book builds (a build's timings would depend on whatever else the
# machine was doing); set `measure` to also measure on the machine that runs it.

# %% tags=["parameters"]
profile = "quick"  # size of the measurements made when measure is on: small CPU ones or the GPU sizes [quick|full]
device = "auto"  # where to time the population trainer when measure is on: the GPU when there is one [auto|cpu|cuda]
measure = False  # also time both benchmarks on this machine while running the page (off: only the stored measurements)

# %% tags=["remove-input"]
from IPython.display import Markdown

from scalingbook.chapters import charts, performance
from scalingbook.chapters.page import chapter_header, pick_device
from scalingbook.lab.store import default_root

charts.enable()
measurements = performance.read_measurements(default_root("full") / "bench")  # data/bench, or SCALINGBOOK_DATA/bench
if measure:  # at the sizes in the full profile, at sizes a CPU does in seconds otherwise
    measurements = performance.measure_now(measurements, profile, pick_device(device))
chapter_header("performance", globals(), sources=performance.page_sources(measurements))

# %% [markdown]
# ## Approach 3: 4,500 L-BFGS starts at once
#
# The parametric fit $L(N, D) = E + A/N^\alpha + B/D^\beta$ minimises a Huber loss of log-loss
# residuals from every point of a 4,500-point grid of initial values (`scalingbook.analysis.fits`). The
# baseline is what published fits run: `scipy.optimize.minimize(method="L-BFGS-B")` in a Python
# loop, one start after another, with the same objective and its analytic gradient in NumPy.
# `scalingbook.analysis.fits` instead runs all starts as one batch of L-BFGS iterations in torch. Both see the
# same data (Epoch's 240 points, shipped in `data/reference/`; 240 synthetic points on Hoffmann's
# surface only where that copy is missing) and the same starts; the target is at least 20 times
# faster with a best objective no worse.

# %% tags=["remove-input"]
performance.fit_display(measurements)

# %% tags=["remove-input"]
Markdown(performance.fit_verdicts(performance.fit_rows(measurements)))

# %% [markdown]
# ## Training a population of seeds
#
# Three ways to train `M` copies of one small transformer that differ only in their seed, on the
# same batches (`scalingbook.chapters.performance.population_benchmark`):
#
# - **naive**: one ordinary `torch.nn.Module` per seed, trained one after another, with bf16
#   autocast on a GPU and torch's fused AdamW; its rate per member does not depend on `M`, so a
#   few members are timed; on a CPU, also as **naive_Nworkers**, the same loop shared among N
#   worker processes of one thread each, the way the grouped trainer below uses the cores;
# - **vmap**: `torch.func.stack_module_state` and `vmap` over the stacked weights, with torch's AdamW;
# - **population**: this book's trainer step (`scalingbook.lab.train`), where every weight carries a
#   leading member axis and the whole population is one set of batched matrix products, with its own
#   fused AdamW and per-member gradient clipping; on a GPU, optionally compiled and captured as a
#   CUDA graph;
# - **population_groups_Nworkers** (CPU): the same trainer as a CPU sweep runs it, the population in
#   groups of 10 members (a batched model of 200 leaves the cache) shared among N worker processes of
#   one thread each; its time is the slowest worker's;
# - **population_compiled_groups_Nworkers** (CPU): the same groups with each step compiled by
#   `torch.compile` (Inductor's generated C++ kernels fuse the element-wise work).
#
# The rates are member-steps per second (one optimiser step of one seed), tokens per second and
# model-FLOP utilisation: the FLOPs of Hoffmann et al.'s Appendix F count, per second, over the
# device's dense bf16 peak (GPUs only). On a CPU the same FLOP rate is read against the rate of a
# square 1024 x 1024 fp32 matrix product on as many threads (`matmul_fraction`); the stored JSON also
# times products of the model's own shapes, whose thin inner dimension (d_model) caps what any
# method can reach. On a CPU the benchmark also runs one naive step and one step of a trainer group
# under torch's profiler, on one thread, and splits their operator time into matrix products and
# the rest (`op_time_shares`): the notes after the chart read the targets against that split. Before
# timing, the three methods' losses on one batch from the same weights are checked to agree.

# %% tags=["remove-input"]
performance.population_display(measurements)

# %% tags=["remove-input"]
performance.throughput_chart(measurements)

# %% tags=["remove-input"]
Markdown(performance.population_notes(measurements))

# %% [markdown]
# ## Measuring on your machine
#
# ```console
# $ .venv/bin/scalingbook bench fits                      # all 4,500 starts, batched and scipy
# $ .venv/bin/scalingbook bench population --device cuda  # width 64, depth 2, 200 members
# $ .venv/bin/scalingbook bench population --members 32 --d-model 128 --compile --cuda-graph --device cuda
# ```
#
# Each prints its table and writes a JSON file (default `.cache/bench/`; `--out data/bench/NAME.json`,
# for a population benchmark `data/bench/population-NAME.json`, to show it on this page after the next
# build). The JSON holds every repeat's time, the machine, the package versions and the git commit.
