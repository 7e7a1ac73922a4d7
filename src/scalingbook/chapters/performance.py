"""Benchmarks whose numbers the book quotes; each returns a JSON-serialisable dict.

:func:`fit_benchmark` times Approach 3 of Hoffmann et al. (2022, App. D.2) two ways on the same data
and the same 4,500 starts: the batched torch L-BFGS of :func:`scalingbook.analysis.fits.fit_parametric`
against a Python loop of ``scipy.optimize.minimize(method="L-BFGS-B")``, the way the paper's and
Epoch's fits are usually run.

:func:`population_benchmark` times training M small transformers three ways on the same batches
(issue 3, item 7): a loop of ordinary modules, ``torch.func`` vmap over stacked copies, and the
batched population of :mod:`scalingbook.lab.train`. ``scripts/bench-gpu`` runs it on a GPU machine from a
plain checkout (``PYTHONPATH=src``, with that machine's torch, NumPy, SciPy and pandas).

:class:`Measurements` and the functions after it build the Performance page from the stored JSON: its
tables, chart and verdicts. They import Altair and IPython only when called, which keeps that plain
checkout enough for measuring.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import gc
import json
import math
import multiprocessing
import os
import platform
import time
import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypedDict

import numpy as np
import pandas as pd
import scipy
import torch
import torch.nn.functional as F
from scipy.optimize import minimize
from torch import Tensor, nn

from scalingbook.analysis import fits
from scalingbook.lab import epoch_data
from scalingbook.lab.cpu import torch_threads
from scalingbook.lab.model import (
    ModelConfig,
    Population,
    flops_6nd,
    flops_chinchilla,
    param_count,
    rotary,
)
from scalingbook.lab.profiles import load_profile
from scalingbook.lab.store import REPO_ROOT, command_line, device_name, git_state, repo_relative, write_atomic
from scalingbook.lab.train import (
    Stepper,
    TrainConfig,
    TrainState,
    member_chunk,
    member_grad_norms,
    member_losses,
)


def _cpu_name() -> str:
    """The CPU's model name from /proc/cpuinfo where there is one, else what platform reports."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def machine_info(threads: int | None) -> dict[str, Any]:
    """What the timings ran on, including the load, since a shared machine skews them."""
    return {
        "device": "cpu",
        "cpu": _cpu_name(),
        "cpu_count": os.cpu_count(),
        "torch_threads": threads or torch.get_num_threads(),
        "load_average_1min": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": np.__version__,
        "scipy": scipy.__version__,
    }


def _synthetic_runs(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """240 runs on Hoffmann's surface (Eq. 2, unrounded values) with 1% multiplicative noise."""
    rng = np.random.default_rng(seed)
    n = 10 ** rng.uniform(7.8, 10.2, 240)
    d = n * 10 ** rng.uniform(-1.4, 2.5, 240)
    loss = fits.HOFFMANN_UNROUNDED.predict(n, d) * np.exp(rng.normal(0.0, 0.01, 240))
    return n, d, loss


def _benchmark_data(csv_path: str | Path | None, seed: int) -> tuple[str, np.ndarray, np.ndarray, np.ndarray]:
    """Epoch's 240 runs (Besiroglu et al. 2024) when a copy is at hand, otherwise synthetic runs.

    A copy that was asked for (``csv_path`` or ``$SCALINGBOOK_EPOCH_CSV``) but is missing is an error:
    timing synthetic runs instead would silently measure something else.
    """
    asked = csv_path is not None or bool(os.environ.get(epoch_data.ENV_VAR))
    try:
        table = epoch_data.drop_highest_losses(epoch_data.load_epoch_data(csv_path, download=False))
    except epoch_data.EpochDataUnavailable:
        if asked:
            raise
        return ("synthetic", *_synthetic_runs(seed))
    source = str(table.attrs["source"])
    if os.path.isabs(source):  # a benchmark file records where the data was in the project, not on this machine
        source = repo_relative(source)
    return source, table["n_params"].to_numpy(), table["tokens"].to_numpy(), table["loss"].to_numpy()


def _scipy_loop(starts: np.ndarray, logs: tuple[np.ndarray, ...]) -> list[Any]:
    """One ``L-BFGS-B`` run per start with the analytic gradient and scipy's default tolerances."""
    return [minimize(fits.huber_objective_np, x0, args=logs, jac=True, method="L-BFGS-B") for x0 in starts]


def fit_benchmark(*, csv_path: str | Path | None = None, n_starts: int | None = None, seed: int = 0) -> dict[str, Any]:
    """Time the batched Approach-3 fit against a loop of scipy L-BFGS-B on the same starts.

    Both use the summed Huber objective (delta = 1e-3) with its analytic gradient (NumPy for scipy,
    so the loop pays no torch overhead), history 10 and scipy's stopping tests (gtol 1e-5,
    ftol 2.2e-9). ``n_starts`` takes an evenly spaced subset of the 4,500-point grid for both (for
    quick checks; None is the whole grid). The batched fit runs on one torch thread (see
    :func:`scalingbook.analysis.fits.batched_lbfgs`). Target (issue 4): at least 20x faster, with a best
    objective no worse than scipy's.
    """
    source, n_params, tokens, loss = _benchmark_data(csv_path, seed)
    grid = fits.initial_grid()
    starts = grid if n_starts is None else grid[np.linspace(0, len(grid) - 1, n_starts).round().astype(int)]
    logs = tuple(np.log(v) for v in (n_params, tokens, loss))

    began = time.perf_counter()
    batched = fits.fit_parametric(n_params, tokens, loss, init=starts)
    batched_s = time.perf_counter() - began

    began = time.perf_counter()
    runs = _scipy_loop(starts, logs)
    scipy_s = time.perf_counter() - began
    best = min(runs, key=lambda r: r.fun if np.isfinite(r.fun) else np.inf)
    scipy_params = fits.LossParams.from_theta(best.x)

    commit, dirty = git_state()
    return {
        "benchmark": "chinchilla_approach3_fit",
        "git_commit": commit,
        "git_dirty": dirty,
        "data": source,
        "command": command_line(),
        "n_points": int(len(loss)),
        "n_starts": int(len(starts)),
        "batched_seconds": batched_s,
        "scipy_seconds": scipy_s,
        "speedup": scipy_s / batched_s,
        "batched_objective": batched.objective,
        "scipy_objective": float(best.fun),
        "objective_difference": batched.objective - float(best.fun),
        "batched_converged": batched.n_converged,
        "scipy_converged": int(sum(r.success for r in runs)),
        "batched_params": vars(batched.params),
        "scipy_params": vars(scipy_params),
        "machine": machine_info(1),
    }


# ----------------------------------------------------------------------------- population training

_BF16_DENSE_PEAKS: tuple[tuple[str, float], ...] = (
    ("H200", 989e12),
    ("H100 PCIE", 756e12),
    ("H100 NVL", 835e12),
    ("H100", 989e12),  # SXM, which CUDA names "NVIDIA H100 80GB HBM3"
)
"""Dense (no sparsity) bf16 tensor-core peaks from NVIDIA's datasheets, by a piece of the device name;
the first match wins, so the specific names come before the plain "H100"."""

BENCHMARKS = ("chinchilla_approach3_fit", "population_training")
"""The ``benchmark`` field of each kind of result this module writes."""

FLOP_COUNT = (
    "Hoffmann et al. (2022) App. F: 3x the forward count (embeddings, QKV, attention logits, softmax, "
    "reduction, projections, MLP, output logits), the same count for every method"
)


def bf16_peak_flops(device_name: str) -> float | None:
    """The bf16 dense peak (FLOP/s) of a GPU named ``device_name``; None for CPUs and unknown GPUs."""
    upper = device_name.upper()
    return next((peak for key, peak in _BF16_DENSE_PEAKS if key in upper), None)


def _layer_norm(x: Tensor, gain: Tensor) -> Tensor:
    return F.layer_norm(x, x.shape[-1:]) * gain


class _SingleBlock(nn.Module):
    """One pre-LN block of one model: :class:`scalingbook.lab.model.Block` without the member axis."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        d = cfg.d_model
        self.cfg = cfg
        self.ln_attn = nn.Parameter(torch.ones(d))
        self.qkv = nn.Parameter(torch.empty(d, 3 * d))
        self.attn_out = nn.Parameter(torch.empty(d, d))
        self.ln_mlp = nn.Parameter(torch.ones(d))
        self.fc = nn.Parameter(torch.empty(d, cfg.d_ff))
        self.mlp_out = nn.Parameter(torch.empty(cfg.d_ff, d))

    def forward(self, x: Tensor) -> Tensor:
        """x: (B, T, d)."""
        b, t, d = x.shape
        heads = self.cfg.n_heads
        qkv = (_layer_norm(x, self.ln_attn) @ self.qkv).view(b, t, 3, heads, d // heads)
        q, k, v = qkv.permute(2, 0, 3, 1, 4)  # each (B, heads, T, head_dim)
        if self.cfg.positional == "rotary":
            q, k = rotary(q, self.cfg.rope_base), rotary(k, self.cfg.rope_base)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        x = x + y.transpose(1, 2).reshape(b, t, d) @ self.attn_out
        return x + F.gelu(_layer_norm(x, self.ln_mlp) @ self.fc) @ self.mlp_out


class SingleTransformer(nn.Module):
    """One population member as an ordinary ``nn.Module``: what methods (a) and (b) train.

    The same blocks, shapes and FLOPs as a :class:`~scalingbook.lab.model.Population` member, and the
    same parameter names without the member axis, so :meth:`from_population` loads member m's
    weights exactly and every method starts from the same model.
    """

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.wte = nn.Parameter(torch.empty(cfg.vocab_size, cfg.d_model))
        if cfg.positional == "learned":
            self.wpe = nn.Parameter(torch.empty(cfg.seq_len, cfg.d_model))
        self.blocks = nn.ModuleList(_SingleBlock(cfg) for _ in range(cfg.n_layers))
        self.ln_f = nn.Parameter(torch.ones(cfg.d_model))

    @classmethod
    def from_population(cls, population: Population, member: int) -> SingleTransformer:
        """A copy of ``population``'s member ``member``, on the population's device."""
        single = cls(population.cfg).to(population.wte.device)
        single.load_state_dict({name: p[member] for name, p in population.state_dict().items()})
        return single

    def forward(self, tokens: Tensor) -> Tensor:
        """Next-token logits (B, T, vocab) of token ids (B, T)."""
        x = F.embedding(tokens.long(), self.wte)
        if self.cfg.positional == "learned":
            x = x + self.wpe[: tokens.shape[-1]]
        for block in self.blocks:
            x = block(x)
        return _layer_norm(x, self.ln_f) @ self.wte.t()


def single_loss(model: Callable[[Tensor], Tensor], tokens: Tensor, answer: Tensor) -> Tensor:
    """One model's mean cross-entropy over its answer tokens: :func:`scalingbook.lab.train.member_losses`
    for a single member, with ``tokens`` and ``answer`` (B, T)."""
    logits = model(tokens[:, :-1]).float()
    targets = tokens[:, 1:].long()
    mask = answer[:, 1:].to(logits.dtype)
    ce = F.cross_entropy(logits.flatten(0, 1), targets.flatten(), reduction="none")
    return (ce.view_as(mask) * mask).sum() / mask.sum().clamp(min=1)


class StackedModels:
    """Method (b): M copies of :class:`SingleTransformer` stacked by ``torch.func.stack_module_state``
    and run as one with ``torch.func.vmap`` over ``functional_call`` (the PyTorch model-ensembling
    recipe). ``params`` are the stacked leaves (M, ...) an optimizer updates."""

    def __init__(self, population: Population) -> None:
        models = [SingleTransformer.from_population(population, m) for m in range(population.members)]
        params, _ = torch.func.stack_module_state(models)
        self.params: dict[str, Tensor] = params
        skeleton = SingleTransformer(population.cfg).to("meta")

        def loss(p: dict[str, Tensor], tokens: Tensor, answer: Tensor) -> Tensor:
            return single_loss(lambda x: torch.func.functional_call(skeleton, p, (x,)), tokens, answer)

        self._losses = torch.func.vmap(loss)

    def losses(self, tokens: Tensor, answer: Tensor) -> Tensor:
        """Per-member losses (M,) of tokens and answer (M, B, T)."""
        return self._losses(self.params, tokens, answer)


def losses_by_method(population: Population, tokens: Tensor, answer: Tensor) -> dict[str, Tensor]:
    """The per-member losses (M,) of the three methods on one batch from the same weights.

    Equal losses (to rounding) show that the methods compute the same function, so their timings
    compare the same work.
    """
    naive = [
        single_loss(SingleTransformer.from_population(population, m), tokens[m], answer[m])
        for m in range(population.members)
    ]
    return {
        "naive": torch.stack(naive),
        "vmap": StackedModels(population).losses(tokens, answer),
        "population": member_losses(population, tokens, answer),
    }


def _adamw(params: Sequence[Tensor], matrix_dim: int, cfg: TrainConfig, cuda: bool) -> torch.optim.AdamW:
    """torch's AdamW with the trainer's settings: decay on tensors of ``matrix_dim`` or more axes
    (matrices and embeddings, not LayerNorm gains); fused kernels on CUDA, foreach on CPU."""
    decay = [p for p in params if p.dim() >= matrix_dim]
    gains = [p for p in params if p.dim() < matrix_dim]
    groups = [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": gains, "weight_decay": 0.0}]
    return torch.optim.AdamW(
        groups,
        lr=1e-3,
        betas=(cfg.beta1, cfg.beta2),
        eps=cfg.eps,
        fused=True if cuda else None,
        foreach=None if cuda else True,
    )


def _autocast(device: torch.device) -> contextlib.AbstractContextManager:
    """bf16 autocast on CUDA and fp32 elsewhere, as the trainer does."""
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


@dataclass(frozen=True)
class TrainerVariant:
    """How method (c), :class:`scalingbook.lab.train.Stepper`, runs: compiled or not, CUDA graph or not."""

    compile: bool = False
    compile_mode: str = "default"
    cuda_graph: bool = False
    workers: int = 0
    """0: one batched model of all members in this process. N > 0 (CPU): the members in the groups a
    sweep trains (:func:`scalingbook.lab.train.member_chunk`), shared among N worker processes of one
    thread each, as ``scalingbook sweep --workers N`` runs them."""

    @property
    def name(self) -> str:
        compiled = (
            ""
            if not self.compile
            else "_compiled" + ("" if self.compile_mode == "default" else "_" + self.compile_mode.replace("-", "_"))
        )
        grouped = f"_groups_{self.workers}workers" if self.workers else ""
        return "population" + compiled + ("_graphed" if self.cuda_graph else "") + grouped


def trainer_variants(*, cuda_graph: bool = False, compile: bool = False, workers: int = 0) -> list[TrainerVariant]:
    """The trainer variants ``scalingbook bench population`` times: always the plain one, then each
    option asked for, and, with both ``compile`` and ``workers``, the compiled groups as well, which is
    how a CPU sweep with ``compile: true`` would run them."""
    variants = [TrainerVariant()]
    if cuda_graph:
        variants.append(TrainerVariant(cuda_graph=True))
    if compile:
        variants.append(TrainerVariant(compile=True))
    if workers:
        variants.append(TrainerVariant(workers=workers))
    if compile and workers:
        variants.append(TrainerVariant(compile=True, workers=workers))
    return variants


@dataclass(frozen=True)
class _Run:
    """What a benchmark method needs: the model shape, sizes, timing plan and a batch."""

    model: ModelConfig
    train: TrainConfig
    members: int
    seq_len: int
    steps: int
    warmup: int
    repeats: int
    device: torch.device
    peak_flops: float | None

    def batch(self, members: int) -> tuple[Tensor, Tensor]:
        """Random tokens (members, B, T + 1), all positions scored: the batch time_steps draws."""
        gen = torch.Generator(device=self.device).manual_seed(0)
        shape = (members, self.train.batch_size, self.seq_len + 1)
        tokens = torch.randint(0, self.model.vocab_size, shape, generator=gen, device=self.device)
        return tokens, torch.ones(shape, dtype=torch.bool, device=self.device)

    def sync(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    def rates(self, runs: Sequence[float], member_steps: int) -> dict[str, Any]:
        """Rates of the median of ``runs`` (seconds), each ``member_steps`` member-steps long."""
        seconds = float(np.median(runs))
        tokens = self.train.batch_size * self.seq_len
        flops = flops_chinchilla(self.model, tokens, self.seq_len) * member_steps / seconds
        return {
            "seconds": seconds,
            "repeat_seconds": list(runs),
            "member_steps_per_s": member_steps / seconds,
            "tokens_per_s": member_steps * tokens / seconds,
            "model_flops_per_s": flops,
            "mfu": None if self.peak_flops is None else flops / self.peak_flops,
        }


def _naive_steps(run: _Run, sample: int) -> Callable[[int], None]:
    """``run_steps(n)`` of method (a): ``sample`` members, each trained alone for ``n`` steps, one after
    another."""
    population = Population(run.model, range(sample)).to(run.device)
    tokens, answer = run.batch(sample)
    models = [SingleTransformer.from_population(population, m) for m in range(sample)]
    del population
    optimizers = [_adamw(list(m.parameters()), 2, run.train, run.device.type == "cuda") for m in models]

    def train(m: int, steps: int) -> None:
        model, optimizer = models[m], optimizers[m]
        for _ in range(steps):
            with _autocast(run.device):
                loss = single_loss(model, tokens[m], answer[m])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), run.train.grad_clip, foreach=True)
            optimizer.step()

    def run_steps(n: int) -> None:
        for m in range(sample):
            train(m, n)

    return run_steps


def _naive_loop(run: _Run, sample: int) -> dict[str, Any]:
    """Method (a): ``sample`` members, each trained alone for its steps, one after another.

    Members of a loop take turns and share nothing, so the rate per member-step does not depend on
    how many there are: timing a sample gives the loop's rate for the whole population.
    """
    run_steps = _naive_steps(run, sample)
    runs = repeat_timed(run_steps, warmup=run.warmup, steps=run.steps, repeats=run.repeats, sync=run.sync)
    return {"members_timed": sample, **run.rates(runs, sample * run.steps)}


def _time_naive(run: _Run, sample: int) -> float:
    """In a worker process of one thread: seconds of ``sample`` naive members' timed steps (median run)."""
    torch.set_num_threads(1)
    runs = repeat_timed(
        _naive_steps(run, sample), warmup=run.warmup, steps=run.steps, repeats=run.repeats, sync=run.sync
    )
    return float(np.median(runs))


def _naive_in_workers(run: _Run, sample: int, workers: int) -> dict[str, Any]:
    """Method (a) spread over the cores as the grouped trainer is: ``workers`` processes of one thread
    at once, each looping over its own ``sample // workers`` members (at least one); the loop's time is
    the slowest worker's. On a shared CPU this baseline is steadier than one loop on several threads,
    whose small operators wait on each other's threads."""
    each = max(1, sample // workers)
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        seconds = list(pool.map(_time_naive, [run] * workers, [each] * workers))
    result = run.rates([max(seconds)], workers * each * run.steps)
    return {
        **result,
        "members_timed": workers * each,
        "workers": workers,
        "worker_seconds": seconds,
        "threads": workers,
    }


def repeat_timed(
    run_steps: Callable[[int], None], *, warmup: int, steps: int, repeats: int, sync: Callable[[], None]
) -> list[float]:
    """Wall seconds of ``repeats`` runs of ``run_steps(steps)``, after ``run_steps(warmup)``, each run
    between device synchronisations: the one timing loop behind every method the benchmarks compare."""
    run_steps(warmup)
    runs = []
    for _ in range(repeats):
        sync()
        start = time.perf_counter()
        run_steps(steps)
        sync()
        runs.append(time.perf_counter() - start)
    return runs


class StepTimes(TypedDict):
    """What :func:`time_steps` measures."""

    seconds: float
    repeat_seconds: list[float]
    member_steps_per_s: float
    tokens_per_s: float
    model_flops_per_s: float
    peak_memory_bytes: float


def _trainer_steps(
    model_cfg: ModelConfig, members: int, cfg: TrainConfig, seq_len: int, horizon: int
) -> Callable[[int], None]:
    """``run_steps(n)`` of method (c): ``n`` trainer steps of a fresh population of ``members`` on one
    random batch, with a learning-rate horizon of ``horizon`` steps."""
    device = torch.device(cfg.device)
    gen = torch.Generator(device=device).manual_seed(0)
    shape = (members, cfg.batch_size, seq_len + 1)
    tokens = torch.randint(0, model_cfg.vocab_size, shape, generator=gen, device=device)
    answer = torch.ones(shape, dtype=torch.bool, device=device)
    state = TrainState.fresh(Population(model_cfg, range(members)).to(device))
    peak_lr = torch.full((members,), 1e-3, device=device)
    step = Stepper(state, peak_lr, torch.full((members,), horizon, device=device), cfg)

    def run_steps(n: int) -> None:
        for _ in range(n):
            step(tokens, answer)

    return run_steps


OP_CATEGORIES = {
    "matrix products": ("aten::mm", "aten::bmm", "aten::addmm", "aten::baddbmm"),
    "attention": ("aten::_scaled_dot_product",),
    "layer norm and GELU": ("aten::native_layer_norm", "aten::gelu"),
    "softmax and loss": ("aten::_log_softmax", "aten::nll_loss"),
}
"""How :func:`op_time_shares` groups torch's operators (by name prefix); every other operator
(element-wise arithmetic, copies, reductions, the optimiser's updates) is "element-wise and other"."""


def op_category(name: str) -> str:
    """The :data:`OP_CATEGORIES` entry an operator's profiler name falls in."""
    for category, prefixes in OP_CATEGORIES.items():
        if name.startswith(prefixes):
            return category
    return "element-wise and other"


def op_time_shares(run_steps: Callable[[int], None], steps: int, members: int) -> dict[str, Any]:
    """Where a CPU step's time goes: ``run_steps(steps)`` under torch's profiler, its operators' own
    (self) CPU time summed by :func:`op_category`, as shares and as milliseconds per member-step.

    Why the trainer's speed-up over the naive loop is what it is: batching members removes per-operator
    overhead, not the work each operator does per member, so a category whose time per member-step is
    the same in both methods is one batching cannot shrink.
    """
    run_steps(1)
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        run_steps(steps)
    seconds: dict[str, float] = {}
    for event in prof.key_averages():
        if event.key.startswith("aten::"):
            category = op_category(event.key)
            seconds[category] = seconds.get(category, 0.0) + event.self_cpu_time_total / 1e6
    total = sum(seconds.values())
    return {
        "ms_per_member_step": {k: 1e3 * v / (steps * members) for k, v in seconds.items()},
        "shares": {k: v / total for k, v in seconds.items()},
    }


def time_steps(
    model_cfg: ModelConfig,
    members: int,
    cfg: TrainConfig,
    seq_len: int,
    steps: int = 20,
    warmup: int = 3,
    repeats: int = 1,
) -> StepTimes:
    """Time training steps on random tokens: the population benchmark's inner measure.

    ``warmup`` steps first (compilation and CUDA graph capture happen there, so at least
    ``Stepper.CAPTURE_AFTER + 1`` of them with ``cfg.cuda_graph``), then ``repeats`` timed runs of
    ``steps`` steps, each between device synchronisations; the rates come from the median run.
    Returns member-steps/s, tokens/s, model FLOP/s (Chinchilla App. F count) and peak memory (NaN
    on CPU): bytes allocated at the peak of the whole call, warm-up included, because a captured
    graph allocates its activations once, at capture, and never again.
    """
    if cfg.cuda_graph and warmup <= Stepper.CAPTURE_AFTER:
        raise ValueError(f"warmup must be > {Stepper.CAPTURE_AFTER} with cuda_graph, got {warmup}")
    device = torch.device(cfg.device)
    cuda = device.type == "cuda"
    if cuda:
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
    run_steps = _trainer_steps(model_cfg, members, cfg, seq_len, horizon=warmup + steps * repeats)
    sync = (lambda: torch.cuda.synchronize(device)) if cuda else (lambda: None)
    runs = repeat_timed(run_steps, warmup=warmup, steps=steps, repeats=repeats, sync=sync)
    seconds = float(np.median(runs))
    n_tokens = members * cfg.batch_size * seq_len * steps
    return {
        "seconds": seconds,
        "repeat_seconds": runs,
        "member_steps_per_s": members * steps / seconds,
        "tokens_per_s": n_tokens / seconds,
        "model_flops_per_s": flops_chinchilla(model_cfg, n_tokens, seq_len) / seconds,
        "peak_memory_bytes": float(torch.cuda.max_memory_allocated(device)) if cuda else math.nan,
    }


def _grad(param: Tensor) -> Tensor:
    """The gradient that backward() left on ``param`` (every stacked leaf is in the loss)."""
    if param.grad is None:
        raise RuntimeError(f"no gradient on a parameter of shape {tuple(param.shape)} after backward()")
    return param.grad


def _vmap(run: _Run) -> dict[str, Any]:
    """Method (b): :class:`StackedModels` with torch's AdamW over the stacked leaves and the
    trainer's per-member clipping (each member's own gradient norm)."""
    stacked = StackedModels(Population(run.model, range(run.members)).to(run.device))
    tokens, answer = run.batch(run.members)
    params = list(stacked.params.values())
    optimizer = _adamw(params, 3, run.train, run.device.type == "cuda")

    def step() -> None:
        with _autocast(run.device):
            losses = stacked.losses(tokens, answer)
        optimizer.zero_grad(set_to_none=True)
        losses.sum().backward()
        grads = [_grad(p) for p in params]
        scale = (run.train.grad_clip / (member_grad_norms(grads) + 1e-6)).clamp(max=1.0)
        for g in grads:
            g.mul_(scale.view(-1, *[1] * (g.dim() - 1)))
        optimizer.step()

    def run_steps(n: int) -> None:
        for _ in range(n):
            step()

    runs = repeat_timed(run_steps, warmup=run.warmup, steps=run.steps, repeats=run.repeats, sync=run.sync)
    return run.rates(runs, run.members * run.steps)


def _trainer(run: _Run, variant: TrainerVariant) -> dict[str, Any]:
    """Method (c): :func:`time_steps`, this package's trainer step."""
    cfg = dataclasses.replace(
        run.train, compile=variant.compile, compile_mode=variant.compile_mode, cuda_graph=variant.cuda_graph
    )
    if variant.workers:
        return _trainer_in_workers(run, cfg, variant.workers)
    timed = time_steps(
        run.model, run.members, cfg, run.seq_len, steps=run.steps, warmup=run.warmup, repeats=run.repeats
    )
    return run.rates(timed["repeat_seconds"], run.members * run.steps)


def _time_groups(
    model: ModelConfig, cfg: TrainConfig, seq_len: int, steps: int, warmup: int, repeats: int, groups: list[int]
) -> float:
    """In a worker process of one thread: seconds its groups' timed steps take, one group after another."""
    torch.set_num_threads(1)
    return sum(
        float(np.median(time_steps(model, size, cfg, seq_len, steps, warmup, repeats)["repeat_seconds"]))
        for size in groups
    )


def _trainer_in_workers(run: _Run, cfg: TrainConfig, workers: int) -> dict[str, Any]:
    """The trainer as a CPU sweep runs it: member groups dealt round-robin to ``workers`` processes that
    run at once; the population's time is the slowest worker's, so contention between them counts."""
    size = member_chunk(cfg, run.members)
    groups = [min(size, run.members - start) for start in range(0, run.members, size)]
    shares = [groups[w::workers] for w in range(workers)]
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        seconds = list(
            pool.map(
                _time_groups,
                *zip(*[(run.model, cfg, run.seq_len, run.steps, run.warmup, run.repeats, share) for share in shares]),
            )
        )
    result = run.rates([max(seconds)], run.members * run.steps)
    return {**result, "workers": workers, "member_group": size, "worker_seconds": seconds, "threads": workers}


def matmul_rate(threads: int, batch: int = 1, m: int = 1024, k: int = 1024, n: int = 1024, repeats: int = 5) -> float:
    """FLOP/s of ``batch`` fp32 (m x k) @ (k x n) products on ``threads`` threads (best of ``repeats``).

    The default square product is the CPU's practical peak, against which the trainer's model FLOP/s
    are read; the model's own shapes (a thin k = d_model) show how much of that peak they can reach.
    """
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        a, b = torch.randn(batch, m, k), torch.randn(batch, k, n)
        a @ b
        best = float("inf")
        for _ in range(repeats):
            start = time.perf_counter()
            a @ b
            best = min(best, time.perf_counter() - start)
    finally:
        torch.set_num_threads(before)
    return 2 * batch * m * k * n / best


def _measured(method: Callable[[], dict[str, Any]], device: torch.device) -> dict[str, Any]:
    """Run one method and add its peak memory; an error (out of memory, a failed compile) is recorded
    in place of its numbers, so that one failure does not lose a GPU run's other results."""
    cuda = device.type == "cuda"
    gc.collect()
    if cuda:
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)
    try:
        result = method()
    except Exception as error:
        return {"error": f"{type(error).__name__}: {error}"[:2000]}
    finally:
        gc.collect()
        if cuda:
            torch.cuda.synchronize(device)
    result["peak_memory_bytes"] = torch.cuda.max_memory_allocated(device) if cuda else None
    if cuda:
        torch.cuda.empty_cache()
    return result


def population_benchmark(
    *,
    d_model: int = 64,
    n_layers: int = 2,
    n_heads: int = 4,
    members: int = 200,
    seq_len: int = 96,
    batch_size: int = 64,
    steps: int = 10,
    warmup: int = 3,
    repeats: int = 3,
    naive_members: int = 4,
    device: str = "cpu",
    variants: Sequence[TrainerVariant] = (TrainerVariant(),),
    git_commit: str | None = None,
) -> dict[str, Any]:
    """Time three ways of training ``members`` transformers of one shape on the same batches (issue 3).

    (a) ``naive``: a loop over members, each a plain :class:`SingleTransformer` with AMP and torch's
    fused AdamW (``naive_members`` of them are timed; see :func:`_naive_loop`); (b) ``vmap``:
    ``torch.func.stack_module_state`` + ``vmap`` (:class:`StackedModels`); (c) this package's trainer
    step, once per entry of ``variants``. Each: ``warmup`` steps, then ``repeats`` runs of ``steps``
    steps between device synchronisations, rates from the median run. All three do the same
    per-member work (loss, per-member clipping, AdamW; the trainer's learning-rate schedule and
    divergence check come on top), counted with the same FLOPs (:data:`FLOP_COUNT`), and
    ``equivalence`` holds their losses on one batch from the same initial weights, in fp32.
    Model-FLOP utilisation is against :func:`bf16_peak_flops` (None on CPU); on a CPU each method's
    ``matmul_fraction`` is its model FLOP/s over :func:`matmul_rate` on as many threads. ``git_commit`` names
    the code when the working tree has no git metadata (a copy on a device machine).
    """
    dev = torch.device(device)
    model = ModelConfig(d_model=d_model, n_layers=n_layers, n_heads=n_heads, seq_len=seq_len)
    train_cfg = TrainConfig(batch_size=batch_size, device=device, progress=False)
    name = device_name(device)
    run = _Run(model, train_cfg, members, seq_len, steps, warmup, repeats, dev, bf16_peak_flops(name))

    check = min(members, 4)
    with torch.no_grad():
        population = Population(model, range(check)).to(dev)
        losses = losses_by_method(population, *run.batch(check))
    reference = losses["population"]
    equivalence = {
        "members_checked": check,
        "population_loss": reference.tolist(),
        "max_abs_diff_naive": float((losses["naive"] - reference).abs().max()),
        "max_abs_diff_vmap": float((losses["vmap"] - reference).abs().max()),
    }
    del population, losses, reference

    methods = {"naive": _measured(lambda: _naive_loop(run, min(naive_members, members)), dev)}
    worker_counts = sorted({v.workers for v in variants if v.workers}) if dev.type == "cpu" else []
    for workers in worker_counts:
        methods[f"naive_{workers}workers"] = _measured(
            functools.partial(_naive_in_workers, run, min(naive_members, members), workers), dev
        )
    methods["vmap"] = _measured(lambda: _vmap(run), dev)
    for variant in variants:
        methods[variant.name] = _measured(functools.partial(_trainer, run, variant), dev)

    def ratio(a: str, b: str) -> float | None:
        x, y = methods[a].get("member_steps_per_s"), methods[b].get("member_steps_per_s")
        return x / y if x and y else None

    matmul = model_shapes = time_shares = None
    if dev.type == "cpu":  # each method against the matrix-product rate of the threads it used
        threads = torch.get_num_threads()
        matmul = {t: matmul_rate(t) for t in sorted({threads, *(v.workers for v in variants if v.workers)})}
        for r in methods.values():
            if "model_flops_per_s" in r:
                r.setdefault("threads", threads)
                r["matmul_fraction"] = r["model_flops_per_s"] / matmul[r["threads"]]
        group, rows = member_chunk(train_cfg, members), batch_size * seq_len  # one CPU member group's MLP input
        model_shapes = {
            "threads": 1,
            "square_1024": matmul_rate(1),
            "mlp_in": matmul_rate(1, group, rows, d_model, model.mlp_ratio * d_model),
            "mlp_out": matmul_rate(1, group, rows, model.mlp_ratio * d_model, d_model),
        }
        with torch_threads(1):  # per core, as a sweep's workers run
            time_shares = {
                "threads": 1,
                "naive": op_time_shares(_naive_steps(run, 1), run.steps, 1),
                f"population_group_{group}": op_time_shares(
                    _trainer_steps(model, group, train_cfg, seq_len, horizon=10 * run.steps), run.steps, group
                ),
            }

    commit, dirty = git_state()
    tokens = batch_size * seq_len
    return {
        "benchmark": "population_training",
        "command": command_line(),
        "device": name,
        "device_type": dev.type,
        "torch": torch.__version__,
        "git_commit": commit or git_commit,
        "git_dirty": dirty,
        "config": {
            "d_model": d_model,
            "n_layers": n_layers,
            "n_heads": n_heads,
            "mlp_ratio": model.mlp_ratio,
            "vocab_size": model.vocab_size,
            "positional": model.positional,
            "seq_len": seq_len,
            "batch_size": batch_size,
            "members": members,
            "steps": steps,
            "warmup": warmup,
            "repeats": repeats,
            "naive_members": min(naive_members, members),
            "precision": "bf16 autocast, fp32 weights" if dev.type == "cuda" else "fp32",
            "params_per_member": param_count(model),
            "flops_per_member_step": flops_chinchilla(model, tokens, seq_len),
            "flops_6nd_per_member_step": flops_6nd(model, tokens),
        },
        "flop_count": FLOP_COUNT,
        "peak_flops": run.peak_flops,
        "matmul_flops_per_s": None if matmul is None else {str(t): rate for t, rate in matmul.items()},
        "matmul_model_shapes_flops_per_s": model_shapes,
        "op_time_shares": time_shares,
        "equivalence": equivalence,
        "methods": methods,
        "speedup": {
            v.name: {
                "over_naive": ratio(v.name, "naive"),
                "over_vmap": ratio(v.name, "vmap"),
                **({"over_naive_same_workers": ratio(v.name, f"naive_{v.workers}workers")} if v.workers else {}),
            }
            for v in variants
        },
    }


def write_benchmark_json(result: dict[str, Any], path: str | Path) -> Path:
    """Write ``result`` as indented JSON, atomically (a crash leaves the old file); strict JSON, so a
    NaN that slipped in fails here rather than in a reader."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, (json.dumps(result, indent=2, allow_nan=False) + "\n").encode())
    return path


def population_rows(results: Sequence[dict[str, Any]]) -> pd.DataFrame:
    """One row per (configuration, method) of :func:`population_benchmark` results, for tables and charts.

    A method that failed keeps its row, with its error and no numbers.
    """
    rows = []
    for result in results:
        c = result["config"]
        for method, r in result["methods"].items():
            speed = result["speedup"].get(method, {})
            memory = r.get("peak_memory_bytes")
            rows.append(
                {
                    "device": result["device"],
                    "config": f"d{c['d_model']} L{c['n_layers']} M{c['members']}",
                    "method": method,
                    "member_steps_per_s": r.get("member_steps_per_s"),
                    "tokens_per_s": r.get("tokens_per_s"),
                    "mfu": r.get("mfu"),
                    "matmul_fraction": r.get("matmul_fraction"),
                    "peak_memory_gib": None if memory is None else memory / 2**30,
                    "over_naive": speed.get("over_naive"),
                    "over_vmap": speed.get("over_vmap"),
                    "error": r.get("error", ""),
                    "git_commit": (result.get("git_commit") or "unknown")[:10],
                }
            )
    return pd.DataFrame(rows)


def population_table(results: Sequence[dict[str, Any]]) -> str:
    """A plain-text summary of :func:`population_benchmark` results: one row per (config, method)."""
    header = (
        f"{'config':<22} {'method':<34} {'member-steps/s':>14} {'tokens/s':>10} {'MFU':>6} {'matmul':>7} "
        f"{'mem GiB':>8} {'x naive':>8} {'x vmap':>7}"
    )
    lines = [header, "-" * len(header)]

    def cell(value: float | None, form: str, width: int) -> str:
        return f"{value:>{width}{form}}" if value is not None and not pd.isna(value) else " " * (width - 1) + "-"

    for row in population_rows(results).itertuples():
        if row.error:
            lines.append(f"{row.config:<22} {row.method:<34} {row.error[:60]}")
            continue
        cells = [
            cell(row.member_steps_per_s, ".1f", 14),
            cell(row.tokens_per_s, ".3g", 10),
            cell(row.mfu, ".1%", 6),
            cell(row.matmul_fraction, ".1%", 7),
            cell(row.peak_memory_gib, ".2f", 8),
            cell(row.over_naive, ".1f", 8),
            cell(row.over_vmap, ".1f", 7),
        ]
        lines.append(f"{row.config:<22} {row.method:<34} " + " ".join(cells))
    return "\n".join(lines)


def load_benchmarks(folder: str | Path) -> list[dict[str, Any]]:
    """Every benchmark JSON in ``folder``, sorted by file name; a file that is not a benchmark is an
    error naming it, so a stray or damaged file is not silently left out of the book."""
    results = []
    for path in sorted(Path(folder).glob("*.json")):
        try:
            result = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as error:
            raise ValueError(f"benchmark file {path} is not readable JSON: {error}") from None
        if not isinstance(result, dict) or result.get("benchmark") not in BENCHMARKS:
            raise ValueError(f"benchmark file {path}: 'benchmark' must be one of {sorted(BENCHMARKS)}")
        results.append({**result, "file": path.name})
    return results


# ---------------------------------------------------------------------------------------------
# The Performance page: the stored measurements, and those made while it runs when asked

SETTINGS = "performance"
"""What the page times when asked to, by profile: ``profiles/performance.yaml`` (quick and full; no paper profile)."""

FIT_TARGET = 20.0
"""The speed-up over the scipy loop that the batched Approach 3 fit is meant to reach."""

OBJECTIVE_TIE = 1e-9
"""Best objectives of the two fits closer than this count as equal."""


@dataclass(frozen=True)
class Measurements:
    """What the Performance page shows: the benchmark files stored in a folder (``shown``, as the
    page names it) and, when the page was asked to measure, the results it measured itself."""

    shown: str
    stored: list[dict[str, Any]]
    live_fit: dict[str, Any] | None = None
    live_population: dict[str, Any] | None = None

    def stored_of(self, benchmark: str) -> list[dict[str, Any]]:
        return [result for result in self.stored if result["benchmark"] == benchmark]


def read_measurements(folder: Path) -> Measurements:
    """The benchmark files in ``folder`` (none when it does not exist), named relative to the project
    when inside it, so the page reads the same on every machine."""
    shown = folder.relative_to(REPO_ROOT) if folder.is_relative_to(REPO_ROOT) else folder
    return Measurements(str(shown), load_benchmarks(folder) if folder.is_dir() else [])


def measure_now(measurements: Measurements, profile: str, device: str) -> Measurements:
    """``measurements`` with both benchmarks timed on this machine at the sizes of ``profile``
    (:data:`SETTINGS`)."""
    sizes = load_profile(SETTINGS, profile)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="There is a performance drop")  # torch's vmap fallback on CPU
        warnings.filterwarnings("ignore", message="IProgress not found")  # tqdm's notice; the trainer shows no bar
        return dataclasses.replace(
            measurements,
            live_fit=fit_benchmark(n_starts=sizes["fit_starts"]),
            live_population=population_benchmark(**sizes["population"], device=device),
        )


def _measured_now(measurements: Measurements) -> bool:
    return measurements.live_fit is not None or measurements.live_population is not None


def page_sources(measurements: Measurements) -> list[str]:
    """The page header's sources: each stored file with the commit that made it, or the folder's
    emptiness, and a line when the page timed anything itself."""
    m = measurements
    files = [f"{m.shown}/{r['file']} (commit {(r.get('git_commit') or 'unknown')[:10]})" for r in m.stored]
    return (files or [f"no benchmark files in {m.shown}/"]) + (
        ["timings made while running this page (measure is on)"] if _measured_now(m) else []
    )


def fit_rows(measurements: Measurements) -> pd.DataFrame:
    """One row per fit benchmark, stored ones first: where it was measured, data, starts, both
    timings and their ratio, both best objectives and their difference, and the machine."""
    results = [(r, f"stored: {r['file']}") for r in measurements.stored_of("chinchilla_approach3_fit")]
    if measurements.live_fit is not None:
        results.append((measurements.live_fit, "while running this page"))
    return pd.DataFrame(
        [
            {
                "measured": origin,
                "data": result["data"].split("/")[-1],
                "starts": result["n_starts"],
                "batched (s)": result["batched_seconds"],
                "scipy loop (s)": result["scipy_seconds"],
                "speedup": result["speedup"],
                "best objective, batched": result["batched_objective"],
                "best objective, scipy": result["scipy_objective"],
                "batched minus scipy": result["objective_difference"],
                "machine": f"{result['machine']['cpu']}, {result['machine']['cpu_count']} cores",
            }
            for result, origin in results
        ]
    )


def _page_table(rows: pd.DataFrame, formats: dict[str, str], missing: str) -> Any:
    """``rows`` as a table of the page, "-" where a number is missing; when there are no rows, the
    ``missing`` text, which says how to measure some."""
    from IPython.display import Markdown

    return Markdown(missing) if rows.empty else rows.style.format(formats, na_rep="-").hide(axis="index")


def fit_display(measurements: Measurements) -> Any:
    """:func:`fit_rows` as the page shows them, or, when there are none, how to measure one."""
    shown = measurements.shown
    return _page_table(
        fit_rows(measurements),
        {
            "batched (s)": "{:.2f}",
            "scipy loop (s)": "{:.2f}",
            "speedup": "{:.1f}x",
            "best objective, batched": "{:.6g}",
            "best objective, scipy": "{:.6g}",
            "batched minus scipy": "{:.1e}",
        },
        f"**No fit benchmark is stored in `{shown}/`.** `scalingbook bench fits --out {shown}/fits-approach3-cpu.json` "
        "measures one (about a minute on a CPU); or run this page with `-p measure true`.",
    )


def fit_verdicts(rows: pd.DataFrame) -> str:
    """Per fit benchmark of :func:`fit_rows`, its speed-up against :data:`FIT_TARGET` and whether the
    batched fit's best objective is below, equal to (within :data:`OBJECTIVE_TIE`) or above scipy's."""
    if rows.empty:
        return ""
    lines = []
    for row in rows.to_dict("records"):
        difference = row["batched minus scipy"]
        met = "meets" if row["speedup"] >= FIT_TARGET else "misses"
        side = (
            "below"
            if difference < -OBJECTIVE_TIE
            else f"equal, within {np.format_float_scientific(OBJECTIVE_TIE, trim='-', exp_digits=1)}, to"
            if difference <= OBJECTIVE_TIE
            else "above"
        )
        lines.append(
            f"- {row['measured']}: {row['speedup']:.1f} times faster on {row['starts']:,} starts ({met} the "
            f"{FIT_TARGET:g}x target); the batched best objective is {side} scipy's (difference {difference:.1e})."
        )
    return (
        "\n".join(lines) + "\n\nA negative difference means the batched fit found a lower objective. Timings on "
        "a shared machine vary from run to run; the ratio, taken within one run, varies much less."
    )


def _population_results(measurements: Measurements) -> list[dict[str, Any]]:
    live = [measurements.live_population] if measurements.live_population is not None else []
    return measurements.stored_of("population_training") + live


def population_frame(measurements: Measurements) -> pd.DataFrame:
    """:func:`population_rows` of every population benchmark the page shows, with where each was measured."""
    results = _population_results(measurements)
    rows = population_rows(results)
    if results:
        rows["measured"] = [
            f"stored: {result['file']}" if "file" in result else "while running this page"
            for result in results
            for _ in result["methods"]
        ]
    return rows


def population_display(measurements: Measurements) -> Any:
    """The population benchmarks as the page's table, or, when there are none, how to measure one."""
    rows, shown = population_frame(measurements), measurements.shown
    columns = [
        "measured",
        "device",
        "config",
        "method",
        "member_steps_per_s",
        "tokens_per_s",
        "mfu",
        "matmul_fraction",
        "peak_memory_gib",
        "over_naive",
        "over_vmap",
        "error",
        "git_commit",
    ]
    return _page_table(
        rows[columns] if not rows.empty else rows,
        {
            "member_steps_per_s": "{:,.1f}",
            "tokens_per_s": "{:,.3g}",
            "mfu": "{:.1%}",
            "matmul_fraction": "{:.1%}",
            "peak_memory_gib": "{:.2f}",
            "over_naive": "{:.1f}x",
            "over_vmap": "{:.1f}x",
        },
        f"**No population benchmark is stored in `{shown}/` yet** (files named `population-*.json`). `scalingbook "
        f"bench population --out {shown}/population-cpu.json` measures one on this machine's CPU (add `--device cuda` "
        "on a GPU), and the next build shows it here; or run this page with `-p measure true`.",
    )


def throughput_chart(measurements: Measurements) -> Any:
    """Member-steps per second of every method that ran, one row of points per (origin, device,
    configuration), on a log scale; None when no method ran."""
    import altair as alt

    from scalingbook.chapters import charts

    rows = population_frame(measurements)
    ok = rows[rows["error"] == ""] if not rows.empty else rows
    if ok.empty:
        return None
    live = measurements.live_population
    sources = [f"{measurements.shown}/{r['file']}" for r in measurements.stored_of("population_training")] + (
        [f"measured while running this page on {live['device']}"] if live is not None else []
    )
    return charts.with_source(
        alt.Chart(ok.assign(run=ok["measured"] + " · " + ok["device"] + " · " + ok["config"]))
        .mark_point(
            filled=True,
            size=80,
        )
        .encode(
            x=alt.X("member_steps_per_s:Q", scale=alt.Scale(type="log"), title="member-steps per second (log scale)"),
            y=alt.Y("method:N", title=None, sort=None),
            color=alt.Color("method:N", legend=None),
            row=alt.Row("run:N", title=None, header=alt.Header(labelAngle=0, labelAlign="left")),
            tooltip=[
                "run:N",
                "method:N",
                alt.Tooltip("member_steps_per_s:Q", format=",.1f"),
                alt.Tooltip("over_naive:Q", format=".1f"),
                alt.Tooltip("mfu:Q", format=".1%"),
            ],
        )
        .properties(width=420, height=alt.Step(18)),
        *sources,
        title="Training throughput by method",
    )


CPU_TARGET_MEMBERS = 200
"""The population size at which the engine issue sets its CPU targets (the seeds chapter's)."""

CPU_TARGET_OVER_NAIVE = 2.0
"""The engine issue's target for the trainer on a CPU: member-steps/s over the naive loop's."""

CPU_TARGET_MATMUL_FRACTION = 0.35
"""The same issue's target at width 64: model FLOP/s over the fp32 matrix-product rate on the same threads."""


def _time_split(shares: dict[str, Any]) -> str:
    """One method's :func:`op_time_shares` as matrix products against the rest, per member-step."""
    ms = shares["ms_per_member_step"]
    products = ms.get("matrix products", 0.0)
    return f"{products:.2f} ms in matrix products and {sum(ms.values()) - products:.2f} ms in the rest"


def _same_workers(result: dict[str, Any], method: str) -> str:
    """The clause comparing a grouped trainer variant with the naive loop spread over as many worker
    processes (``over_naive_same_workers``), or nothing where that was not measured."""
    over = result["speedup"].get(method, {}).get("over_naive_same_workers")
    if over is None:
        return ""
    workers = result["methods"][method]["workers"]
    return f", and {over:.2f}x the naive loop run the same way (`naive_{workers}workers`, one thread per process)"


def cpu_verdicts(results: Sequence[dict[str, Any]]) -> str:
    """Per stored CPU population benchmark: its fastest trainer variant against the targets, and where a
    step's time goes per core (:func:`op_time_shares`), which says why batching gains what it gains."""
    lines = []
    for result in results:
        if result["device_type"] != "cpu" or not result.get("op_time_shares"):
            continue
        c, methods = result["config"], result["methods"]
        rates = {
            name: r["member_steps_per_s"]
            for name, r in methods.items()
            if name.startswith("population") and r.get("member_steps_per_s")
        }
        if not rates or not methods["naive"].get("member_steps_per_s"):
            continue
        best = max(rates, key=lambda name: rates[name])
        over = rates[best] / methods["naive"]["member_steps_per_s"]
        fraction = methods[best]["matmul_fraction"]
        shares = result["op_time_shares"]
        group = next(name for name in shares if name.startswith("population_group_"))

        judged = c["members"] >= CPU_TARGET_MEMBERS
        lines.append(
            f"- **Width {c['d_model']}, {c['members']} members**: the fastest trainer variant, `{best}`, runs "
            f"{over:.2f}x the naive loop"
            + (
                f" ({'meets' if over >= CPU_TARGET_OVER_NAIVE else 'misses'} the {CPU_TARGET_OVER_NAIVE:g}x target)"
                if judged
                else f" (the targets are set for {CPU_TARGET_MEMBERS} members)"
            )
            + f" at {fraction:.0%} of the matrix-product rate on its threads"
            + (
                f" ({'meets' if fraction >= CPU_TARGET_MATMUL_FRACTION else 'misses'} the "
                f"{CPU_TARGET_MATMUL_FRACTION:.0%} target set for width 64)"
                if judged and c["d_model"] == 64
                else ""
            )
            + _same_workers(result, best)
            + f". Per core and member-step, the naive step spends {_time_split(shares['naive'])}; the trainer's group of "
            f"{group.rsplit('_', 1)[1]}, {_time_split(shares[group])}."
        )
    if not lines:
        return ""
    return (
        f"On the CPU, against the targets this project set its trainer (at {CPU_TARGET_MEMBERS} members: "
        f"{CPU_TARGET_OVER_NAIVE:g}x the naive loop's member-steps/s; at width 64, {CPU_TARGET_MATMUL_FRACTION:.0%} "
        "of the matrix-product rate), with each step's operator time (torch's profiler, one thread) split into "
        "matrix products and the rest (attention kernels, layer norm, GELU, softmax, element-wise arithmetic and "
        "the optimiser):\n\n" + "\n".join(lines)
    )


def population_notes(measurements: Measurements) -> str:
    """Which GPUs the stored measurements come from (or that none does yet, and how to make them),
    and per benchmark how closely the three methods agreed on the loss before timing."""
    stored = measurements.stored_of("population_training")
    gpus = sorted({r["device"] for r in stored if r["device_type"] == "cuda"})
    gpu_runs = sum(r["device_type"] == "cuda" for r in stored)
    if gpu_runs:
        text = f"Stored GPU measurements: {gpu_runs} configuration(s) on {', '.join(gpus)}."
    else:
        text = (
            "**No GPU measurement is stored yet.** The issue's configurations (width 64 and 256, 64 and 200 "
            "members, sequences of 96 tokens, batches of 64, bf16) need a GPU; on a machine with one, "
            f"`scripts/bench-gpu {measurements.shown}` runs them all (budgeted at about seven minutes; not yet run) "
            "and writes one JSON file per configuration here, and `scalingbook bench population --device cuda "
            "--out FILE` runs one. CPU numbers say nothing about a GPU's: the methods' relative costs differ there."
        )
    checks = [(f"stored: {r['file']}", r["equivalence"]) for r in stored]
    if measurements.live_population is not None:
        checks.append(("while running this page", measurements.live_population["equivalence"]))
    verdicts = cpu_verdicts(_population_results(measurements))
    return (
        text
        + ("\n\n" + verdicts if verdicts else "")
        + "".join(
            f"\n\n{origin}: before timing, the three methods agreed on the loss of {check['members_checked']} members "
            f"to {max(check['max_abs_diff_naive'], check['max_abs_diff_vmap']):.1e}."
            for origin, check in checks
        )
    )
