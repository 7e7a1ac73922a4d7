"""The population trainer: M members, one batched model, independent optimisation.

Each member m has its own seed (initialisation and data stream), peak learning rate and schedule
length. Independence holds by construction:

* the total loss is the *sum* of per-member losses, so d(total)/d(theta_m) = d(loss_m)/d(theta_m);
* AdamW (Loshchilov & Hutter 2019) state, bias correction, gradient clipping (global norm of the
  member's own gradients) and the learning-rate schedule are all per member;
* member m's batch at step t is a pure function of (task, seed_m, t) (see :mod:`scalingbook.lab.tasks`).

So seed s gives the same weights alone or among 199 others (up to floating-point summation order).

Schedule: linear warmup, then cosine decay to 10% of the peak at the member's horizon (Hoffmann et
al. 2022, Sec. 3 and App. B). A member past its horizon stops updating; that lets one population hold
Chinchilla's several cosine lengths per model size (Approach 1). A member whose loss or gradient
norm is NaN or infinite is frozen from that step on and its step recorded; the others go on.

The hot loop never reads a value back to the host, so a GPU runs ahead of Python; the learning-rate,
divergence and logging bookkeeping live in device tensors, the step counter too (``TrainState.clock``).
So every step launches the same kernels on the same shapes, which is what lets ``TrainConfig.compile``
fuse the forward, backward and optimizer and ``TrainConfig.cuda_graph`` capture a whole step once and
replay it: small members are bound by kernel launches, not arithmetic, and these remove the launches.
"""

from __future__ import annotations

import contextlib
import io
import math
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import Tensor
from tqdm.auto import tqdm

from scalingbook.lab.model import ModelConfig, Population
from scalingbook.lab.store import write_atomic
from scalingbook.lab.tasks import Task, train_batch


@dataclass(frozen=True)
class Member:
    """One population member: its seed, peak learning rate and schedule length.

    ``steps=None`` takes :attr:`TrainConfig.steps`. The seed sets both the initial weights and the
    data stream (the member's examples are keyed by it).
    """

    seed: int
    lr: float = 1e-3
    steps: int | None = None

    def __post_init__(self) -> None:
        if not self.lr > 0:
            raise ValueError(f"Member.lr must be > 0, got {self.lr}")
        if self.steps is not None and self.steps < 1:
            raise ValueError(f"Member.steps must be >= 1 or None, got {self.steps}")


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation settings shared by all members. Defaults follow nanoGPT and Chinchilla."""

    steps: int = 1000
    batch_size: int = 64
    warmup_steps: int = 100
    min_lr_ratio: float = 0.1
    weight_decay: float = 0.1
    beta1: float = 0.9
    beta2: float = 0.95
    eps: float = 1e-8
    grad_clip: float = 1.0
    log_every: int = 10
    checkpoint_every: int = 500
    device: str = "cpu"
    compile: bool = False
    compile_mode: str = "default"
    cuda_graph: bool = False
    progress: bool = True
    member_chunk: int = 0

    def __post_init__(self) -> None:
        """Validate; ``compile_mode`` is torch.compile's, ``cuda_graph`` captures whole steps (CUDA only).

        Inductor's own CUDA graphs ("reduce-overhead", "max-autotune") would nest inside a captured
        step, so ``cuda_graph`` takes the modes without them ("default", "max-autotune-no-cudagraphs").
        """
        for name in ("steps", "batch_size", "log_every", "checkpoint_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"TrainConfig.{name} must be >= 1, got {getattr(self, name)}")
        if self.warmup_steps < 0:
            raise ValueError(f"TrainConfig.warmup_steps must be >= 0, got {self.warmup_steps}")
        if self.member_chunk < 0:
            raise ValueError(
                f"TrainConfig.member_chunk must be >= 0 (0: the device's default), got {self.member_chunk}"
            )
        if not 0 <= self.min_lr_ratio <= 1:
            raise ValueError(f"TrainConfig.min_lr_ratio must be in [0, 1], got {self.min_lr_ratio}")
        if self.cuda_graph and not self.device.startswith("cuda"):
            raise ValueError(f"TrainConfig.cuda_graph needs a CUDA device, got device={self.device!r}")
        if self.cuda_graph and self.compile and self.compile_mode in ("reduce-overhead", "max-autotune"):
            raise ValueError(
                f"TrainConfig.compile_mode={self.compile_mode!r} uses CUDA graphs of its own; with "
                "cuda_graph=True use 'default' or 'max-autotune-no-cudagraphs'"
            )


RUNTIME_FIELDS = frozenset(
    {"device", "compile", "compile_mode", "cuda_graph", "progress", "checkpoint_every", "member_chunk"}
)
"""TrainConfig fields that say how a run executes, not what it computes: kept out of every identity
(a sweep run's key, a checkpoint's owner). ``member_chunk`` and ``compile`` change results only at
floating-point rounding, as the device does."""

CPU_MEMBER_CHUNK = 10
"""Members trained together on a CPU. A population of 200 as one batched model is up to 2.2x slower
per member than small groups (its activations leave the cache; see the Performance page), so a CPU
trains it in groups of this many, one group after another or one per worker process."""


def member_chunk(cfg: TrainConfig, members: int) -> int:
    """How many members train as one batched model: ``cfg.member_chunk``, else all of them on a GPU
    and :data:`CPU_MEMBER_CHUNK` on a CPU. Fixed by the run, never by the number of workers, so that
    results are bit-identical however many workers share the groups."""
    if cfg.member_chunk:
        return min(cfg.member_chunk, members)
    return members if torch.device(cfg.device).type == "cuda" else min(CPU_MEMBER_CHUNK, members)


class TimeUp(Exception):
    """A time-boxed run reached its deadline; its checkpoint holds everything done so far."""


# --------------------------------------------------------------------------- per-member math


def lr_schedule(step: int | Tensor, peak: Tensor, horizon: Tensor, warmup: int, min_ratio: float) -> Tensor:
    """Learning rate (M,) at ``step``: linear warmup to ``peak``, cosine to ``min_ratio * peak``.

    The cosine reaches its floor at each member's ``horizon`` (Hoffmann et al. 2022, App. B: the
    cycle length matches the number of training steps; decay by 10x). ``step`` may be a device
    tensor; both branches are computed and selected on the device, so no value reaches the host.
    """
    step = torch.as_tensor(step, device=peak.device)
    warming = peak * ((step + 1) / max(warmup, 1))
    progress = ((step - warmup) / (horizon - warmup).clamp(min=1)).clamp(0, 1)
    decaying = peak * (min_ratio + (1 - min_ratio) * 0.5 * (1 + torch.cos(math.pi * progress)))
    return torch.where(step < warmup, warming, decaying)


def member_losses(model: Population, tokens: Tensor, answer: Tensor) -> Tensor:
    """Mean cross-entropy (M,) of each member over its answer tokens only.

    ``tokens`` (M, B, T) and ``answer`` (M, B, T) as in :class:`scalingbook.lab.tasks.Examples`: position
    t is predicted from positions < t wherever ``answer[..., t]`` holds.
    """
    logits = model(tokens[..., :-1]).float()
    targets = tokens[..., 1:].long()
    mask = answer[..., 1:].to(logits.dtype)
    ce = F.cross_entropy(logits.flatten(0, 2), targets.flatten(), reduction="none")
    return (ce.view_as(mask) * mask).sum((1, 2)) / mask.sum((1, 2)).clamp(min=1)


def member_grad_norms(grads: Sequence[Tensor]) -> Tensor:
    """Global L2 norm (M,) of each member's gradient over all its parameters."""
    return torch.stack([g.float().pow(2).flatten(1).sum(1) for g in grads]).sum(0).sqrt()


def _per_member(x: Tensor, like: Tensor) -> Tensor:
    """Reshape (M,) to broadcast against a stacked parameter (M, ...)."""
    return x.view(-1, *([1] * (like.dim() - 1)))


@dataclass
class TrainState:
    """Everything a checkpoint holds: weights, AdamW moments, step, divergence, loss log."""

    model: Population
    exp_avg: list[Tensor]
    exp_avg_sq: list[Tensor]
    updates: Tensor  # (M,) AdamW steps applied, for bias correction
    diverged_at: Tensor  # (M,) step of the first non-finite loss or gradient; -1 if none
    loss_sum: Tensor  # (M,) summed losses since the last log point
    clock: Tensor  # () the step on the device, so that a compiled or captured step reads no host int
    history: list[Tensor] = field(default_factory=list)  # (M,) mean loss per log interval
    step: int = 0  # the same step on the host, for logging and checkpoint cadence

    @classmethod
    def fresh(cls, model: Population) -> TrainState:
        params = list(model.parameters())
        device = params[0].device
        m = model.members
        return cls(
            model=model,
            exp_avg=[torch.zeros_like(p) for p in params],
            exp_avg_sq=[torch.zeros_like(p) for p in params],
            updates=torch.zeros(m, dtype=torch.int64, device=device),
            diverged_at=torch.full((m,), -1, dtype=torch.int64, device=device),
            loss_sum=torch.zeros(m, device=device),
            clock=torch.zeros((), dtype=torch.int64, device=device),
        )


@torch.no_grad()
def adamw_update(
    state: TrainState,
    grads: Sequence[Tensor],
    lr: Tensor,
    active: Tensor,
    cfg: TrainConfig,
    grad_scale: Tensor | None = None,
) -> None:
    """One AdamW step (Loshchilov & Hutter 2019, Alg. 2) on the stacked weights, per member.

    ``lr`` (M,) is each member's rate this step; members where ``active`` (M,) is false keep their
    weights and moments exactly (``torch.where``, so a NaN gradient cannot leak in). Weight decay
    applies to matrices and embeddings, not to LayerNorm gains (as in nanoGPT). ``grad_scale`` (M,)
    multiplies each member's gradient first (clipping); applied here, a compiled step fuses it into
    the update instead of spending a pass over every gradient on it.
    """
    state.updates.add_(active.long())
    count = state.updates.clamp(min=1).float()
    correction1 = 1 - cfg.beta1**count
    correction2 = 1 - cfg.beta2**count
    for p, g, m1, m2 in zip(state.model.parameters(), grads, state.exp_avg, state.exp_avg_sq):
        on = _per_member(active, p)
        if grad_scale is not None:
            g = g * _per_member(grad_scale, g).to(g.dtype)
        new_m1 = m1.lerp(g, 1 - cfg.beta1)
        new_m2 = m2 * cfg.beta2 + (1 - cfg.beta2) * g * g
        step = (new_m1 / _per_member(correction1, p)) / ((new_m2 / _per_member(correction2, p)).sqrt() + cfg.eps)
        if p.dim() > 2:
            step = step + cfg.weight_decay * p
        p.copy_(torch.where(on, p - _per_member(lr, p) * step, p))
        m1.copy_(torch.where(on, new_m1, m1))
        m2.copy_(torch.where(on, new_m2, m2))


def forward_backward(
    model: Population,
    tokens: Tensor,
    answer: Tensor,
    loss_fn: Callable[[Population, Tensor, Tensor], Tensor] = member_losses,
) -> tuple[Tensor, tuple[Tensor, ...]]:
    """Per-member losses (M,) and the gradients of their sum; bf16 autocast on CUDA, fp32 elsewhere.

    The autocast weight cache is off: casts cached outside a captured CUDA graph would be read by
    its replays after the weights they came from had changed.
    """
    autocast = (
        torch.autocast("cuda", dtype=torch.bfloat16, cache_enabled=False)
        if tokens.device.type == "cuda"
        else contextlib.nullcontext()
    )
    with autocast:
        losses = loss_fn(model, tokens, answer)
    return losses.detach(), torch.autograd.grad(losses.sum(), list(model.parameters()))


@torch.no_grad()
def apply_update(
    state: TrainState,
    losses: Tensor,
    grads: Sequence[Tensor],
    peak_lr: Tensor,
    horizon: Tensor,
    cfg: TrainConfig,
) -> None:
    """Everything after the backward pass, in place and on the device: divergence check, per-member
    clipping, learning rate, AdamW, the loss log and the step clock. One function so that
    ``torch.compile`` can fuse it into a few kernels instead of some fifteen passes per parameter.
    """
    norms = member_grad_norms(grads)
    healthy = torch.isfinite(losses) & torch.isfinite(norms)
    state.diverged_at.copy_(torch.where((state.diverged_at < 0) & ~healthy, state.clock, state.diverged_at))
    active = (state.diverged_at < 0) & (state.clock < horizon)
    scale = (cfg.grad_clip / (norms + 1e-6)).clamp(max=1.0)
    lr = lr_schedule(state.clock, peak_lr, horizon, cfg.warmup_steps, cfg.min_lr_ratio)
    adamw_update(state, grads, lr, active, cfg, scale)
    state.loss_sum.add_(losses)
    state.clock.add_(1)


def _end_step(state: TrainState, cfg: TrainConfig) -> None:
    """Host bookkeeping after a step: the step count and, every ``log_every`` steps, the loss log."""
    state.step += 1
    if state.step % cfg.log_every == 0:
        state.history.append(state.loss_sum / cfg.log_every)
        state.loss_sum.zero_()


def train_step(
    state: TrainState,
    tokens: Tensor,
    answer: Tensor,
    peak_lr: Tensor,
    horizon: Tensor,
    cfg: TrainConfig,
    loss_fn: Callable[[Population, Tensor, Tensor], Tensor] = member_losses,
    update_fn: Callable[..., None] = apply_update,
) -> None:
    """Forward, backward, per-member clipping and divergence check, AdamW; no host sync."""
    losses, grads = forward_backward(state.model, tokens, answer, loss_fn)
    update_fn(state, losses, grads, peak_lr, horizon, cfg)
    _end_step(state, cfg)


class Stepper:
    """Runs training steps on ``state`` as ``cfg`` asks: eager, compiled, or replayed from a CUDA graph.

    With ``cfg.compile`` the loss (forward and backward, through AOTAutograd) and
    :func:`apply_update` are each compiled once. With ``cfg.cuda_graph`` the first
    ``CAPTURE_AFTER`` steps run on a side stream (cuBLAS handles, compilation and autotuning happen
    there, as CUDA graph capture requires), the next is captured whole (forward, backward, update)
    and every step from then on copies its batch into the graph's fixed input buffers and replays it:
    one launch per step instead of hundreds. Those first steps are real training steps, so the
    trained weights are the eager ones either way.
    """

    CAPTURE_AFTER = 2

    def __init__(
        self,
        state: TrainState,
        peak_lr: Tensor,
        horizon: Tensor,
        cfg: TrainConfig,
        loss_fn: Callable[[Population, Tensor, Tensor], Tensor] = member_losses,
    ) -> None:
        self.state, self.peak_lr, self.horizon, self.cfg = state, peak_lr, horizon, cfg
        if cfg.compile:  # static shapes: one specialised graph, never a dynamic-shape recompile
            loss_fn = torch.compile(loss_fn, mode=cfg.compile_mode, dynamic=False)
        self.loss_fn = loss_fn
        self.update_fn = (
            torch.compile(apply_update, mode=cfg.compile_mode, dynamic=False) if cfg.compile else apply_update
        )
        self.graph: torch.cuda.CUDAGraph | None = None
        self._inputs: tuple[Tensor, Tensor] | None = None
        self._side = torch.cuda.Stream(device=cfg.device) if cfg.cuda_graph else None
        self._eager_steps = 0

    def _device_step(self, tokens: Tensor, answer: Tensor) -> None:
        """:func:`train_step` without its host bookkeeping: the part a CUDA graph can hold."""
        losses, grads = forward_backward(self.state.model, tokens, answer, self.loss_fn)
        self.update_fn(self.state, losses, grads, self.peak_lr, self.horizon, self.cfg)

    def __call__(self, tokens: Tensor, answer: Tensor) -> None:
        if self._side is None:
            train_step(self.state, tokens, answer, self.peak_lr, self.horizon, self.cfg, self.loss_fn, self.update_fn)
            return
        if self.graph is not None:
            if self._inputs is None:
                raise RuntimeError("Stepper: a captured CUDA graph without its input buffers")
            for buffer, batch in zip(self._inputs, (tokens, answer)):
                buffer.copy_(batch)
            self.graph.replay()
        elif self._eager_steps < self.CAPTURE_AFTER:
            self._side.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(self._side):
                self._device_step(tokens, answer)
            torch.cuda.current_stream().wait_stream(self._side)
            self._eager_steps += 1
        else:
            self._inputs = (tokens.clone(), answer.clone())
            self.graph = torch.cuda.CUDAGraph()
            # thread_local: the data loader's thread may pin and copy the next batch meanwhile
            with torch.cuda.graph(self.graph, capture_error_mode="thread_local"):
                self._device_step(*self._inputs)
            self.graph.replay()
        _end_step(self.state, self.cfg)


# --------------------------------------------------------------------------- checkpoints


def _identity(model_cfg: ModelConfig, members: Sequence[Member], task: Task, cfg: TrainConfig) -> dict:
    """What must match for a checkpoint to belong to this run (runtime switches excluded)."""
    fixed = {k: v for k, v in asdict(cfg).items() if k not in RUNTIME_FIELDS}
    return {
        "model": asdict(model_cfg),
        "members": [asdict(m) for m in members],
        "task": repr(task),
        "train": fixed,
    }


def save_checkpoint(path: Path, state: TrainState, identity: dict) -> None:
    """Write ``state`` to ``path`` atomically: a new file, fsynced, then renamed over the old one.

    The data stream needs no saved state: each batch is a function of (seed, step).
    """
    buffer = io.BytesIO()
    torch.save(
        {
            "identity": identity,
            "step": state.step,
            "model": state.model.state_dict(),
            "exp_avg": state.exp_avg,
            "exp_avg_sq": state.exp_avg_sq,
            "updates": state.updates,
            "diverged_at": state.diverged_at,
            "loss_sum": state.loss_sum,
            "history": state.history,
        },
        buffer,
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, buffer.getvalue())


def load_checkpoint(path: Path, state: TrainState, identity: dict) -> bool:
    """Restore ``state`` in place from ``path`` and return True.

    A truncated, unreadable or foreign checkpoint (another run's, or another layout) must not stop a
    sweep until someone deletes it: it is renamed ``NAME.bad-<timestamp>`` with a warning, ``state``
    is left untouched and False returned, so training starts from scratch.
    """
    import warnings

    def layout(x: object) -> object:  # keys, shapes and dtypes: what must match before anything is copied
        if isinstance(x, dict):
            return {k: layout(v) for k, v in x.items()}
        if isinstance(x, (list, tuple)):
            return [layout(v) for v in x]
        return (tuple(x.shape), x.dtype) if isinstance(x, Tensor) else type(x)

    copied = ("exp_avg", "exp_avg_sq", "updates", "diverged_at", "loss_sum")
    expected = {"model": state.model.state_dict(), **{name: getattr(state, name) for name in copied}}
    try:
        saved = torch.load(path, map_location=state.updates.device, weights_only=True)
        history, step = list(saved["history"]), int(saved["step"])
        if saved["identity"] != identity:
            problem = "was written by a different run"
        elif layout({key: saved[key] for key in expected}) != layout(expected):
            problem = "does not fit this model"
        else:
            problem = None
    except Exception as err:  # torch.load raises OSError, EOFError, RuntimeError, pickle errors, ...
        reason = str(err).strip().split(". ")[0].replace("\n", " ")
        problem = f"is unreadable ({type(err).__name__}{': ' + reason if reason else ''})"
    if problem:
        bad = path.with_name(f"{path.name}.bad-{time.strftime('%Y%m%d-%H%M%S')}")
        path.replace(bad)
        warnings.warn(f"checkpoint {path} {problem}; moved to {bad.name}, training starts from scratch", stacklevel=2)
        return False
    state.model.load_state_dict(saved["model"])
    for name in ("exp_avg", "exp_avg_sq"):
        for mine, theirs in zip(getattr(state, name), saved[name]):
            mine.copy_(theirs)
    for name in ("updates", "diverged_at", "loss_sum"):  # in place: a captured step holds them
        getattr(state, name).copy_(saved[name])
    state.history, state.step = history, step
    state.clock.fill_(step)
    return True


# --------------------------------------------------------------------------- the loop


@dataclass
class TrainResult:
    """A trained population, its per-member loss curves and divergence record."""

    model: Population
    members: tuple[Member, ...]
    horizons: np.ndarray  # (M,) schedule length of each member
    history: np.ndarray  # (n_logs, M) mean training loss per log interval
    log_every: int
    diverged_at: np.ndarray  # (M,) -1 if the member never diverged

    def losses(self) -> pd.DataFrame:
        """Per-member loss curves (member, seed, step, loss) up to each member's horizon.

        ``step`` counts steps done; ``loss`` is the mean over the ``log_every`` steps before it, the
        smoothed curve Chinchilla's Approach 1 takes its minima from (Hoffmann et al. 2022, Sec. 3.1).
        """
        n_logs, m = self.history.shape
        steps = np.repeat((np.arange(n_logs) + 1) * self.log_every, m)
        member = np.tile(np.arange(m), n_logs)
        table = pd.DataFrame(
            {
                "member": member.astype(np.int16),
                "seed": np.array([x.seed for x in self.members], dtype=np.int64)[member],
                "step": steps.astype(np.int32),
                "loss": self.history.ravel().astype(np.float32),
            }
        )
        return table[table["step"] <= self.horizons[member]].reset_index(drop=True)

    def summary(self) -> pd.DataFrame:
        """One row per member: seed, peak lr, horizon, divergence and final logged loss."""
        final = self.history[-1] if len(self.history) else np.full(len(self.members), np.nan)
        return pd.DataFrame(
            {
                "member": np.arange(len(self.members), dtype=np.int16),
                "seed": [m.seed for m in self.members],
                "lr": np.array([m.lr for m in self.members], dtype=np.float32),
                "steps": self.horizons.astype(np.int32),
                "diverged": self.diverged_at >= 0,
                "diverged_at": self.diverged_at.astype(np.int32),
                "final_loss": final.astype(np.float32),
            }
        )


DIVERGENCE_RATIO = 1.5
"""A member whose logged loss rises above this multiple of its early loss has diverged."""


def diverged_from_losses(
    curves: pd.DataFrame, by: str = "member", vocab_size: int | None = None, ratio: float = DIVERGENCE_RATIO
) -> pd.Series:
    """Which members diverged, read from their logged loss curves: a bool per value of ``by``.

    ``curves`` has columns ``by``, ``step`` and ``loss`` (:meth:`TrainResult.losses`, or a sweep's
    stored ``training`` table). The rule: a member diverged when any logged loss is not finite, or
    when its highest logged loss is more than ``ratio`` (1.5) times its early loss. The early loss
    is its first logged loss (the mean over its first ``log_every`` steps, close to the loss at
    initialisation) or, if ``vocab_size`` V is given and that is lower, log V, the loss of an
    untrained model predicting uniformly: a member at a huge learning rate blows up within its first
    interval, and its first logged loss is then no reference. Healthy training stays below its
    untrained loss, so rising 50% above it is a blow-up, not noise; a member that never learns stays
    near its early loss and is not flagged (such failed seeds are a result, Zhao et al. 2025, not a
    fault). A member that blew up counts even if it later came down: its weights went through it.
    The rule only reads the history: it changes neither training nor any stored key.
    """
    missing = [c for c in (by, "step", "loss") if c not in curves.columns]
    if missing:
        raise KeyError(f"curves: missing column(s) {missing}; has {list(curves.columns)}")
    ordered = curves.sort_values([by, "step"], kind="stable")
    loss = ordered["loss"].astype(np.float64)
    grouped = loss.groupby(ordered[by], sort=True)
    not_finite = grouped.apply(lambda x: not np.isfinite(x.to_numpy()).all())
    early = grouped.first()
    if vocab_size is not None:
        early = early.clip(upper=math.log(vocab_size))
    blown_up = grouped.max() > ratio * early
    return (not_finite | blown_up).rename("diverged")


def _batches(task: Task, seeds: np.ndarray, start: int, stop: int, cfg: TrainConfig) -> Iterator:
    """Training batches for steps start..stop-1, the next one built on a thread while this one trains."""
    device = torch.device(cfg.device)

    def build(step: int) -> tuple[Tensor, Tensor]:
        ex = train_batch(task, seeds, step, cfg.batch_size)
        shape = (len(seeds), cfg.batch_size, ex.tokens.shape[1])
        tokens, answer = torch.from_numpy(ex.tokens), torch.from_numpy(ex.answer)
        if device.type == "cuda":
            tokens, answer = tokens.pin_memory(), answer.pin_memory()
        return tokens.view(shape).to(device, non_blocking=True), answer.view(shape).to(device, non_blocking=True)

    if start >= stop:
        return
    with ThreadPoolExecutor(max_workers=1) as pool:
        pending: Future[tuple[Tensor, Tensor]] = pool.submit(build, start)
        for step in range(start, stop):
            batch = pending.result()
            if step + 1 < stop:
                pending = pool.submit(build, step + 1)
            yield batch


def train(
    model_cfg: ModelConfig,
    members: Sequence[Member],
    task: Task,
    cfg: TrainConfig,
    checkpoint: Path | None = None,
    deadline: float | None = None,
) -> TrainResult:
    """Train a population on ``task``; resume from ``checkpoint`` if it exists, and keep it current.

    The loop runs to the longest member horizon. A run killed at any point and restarted with the
    same arguments ends with bit-identical weights and losses (on a deterministic device). At
    ``deadline`` (a ``time.time()`` value) it writes the checkpoint and raises :class:`TimeUp`.
    """
    if deadline is not None and checkpoint is None:
        raise ValueError("a deadline needs a checkpoint to stop at")
    members = tuple(members)
    horizons = [m.steps or cfg.steps for m in members]
    device = torch.device(cfg.device)
    model = Population(model_cfg, [m.seed for m in members]).to(device)
    state = TrainState.fresh(model)
    identity = _identity(model_cfg, members, task, cfg)
    if checkpoint is not None and Path(checkpoint).exists():
        load_checkpoint(Path(checkpoint), state, identity)
    peak_lr = torch.tensor([m.lr for m in members], device=device)
    horizon = torch.tensor(horizons, device=device)
    step = Stepper(state, peak_lr, horizon, cfg)
    total = max(horizons)
    seeds = np.array([m.seed for m in members], dtype=np.int64)
    bar = tqdm(
        total=total * len(members),
        initial=state.step * len(members),
        unit=" member-step",
        unit_scale=True,
        disable=not cfg.progress,
        desc=f"{len(members)} members",
    )
    with bar:
        for tokens, answer in _batches(task, seeds, state.step, total, cfg):
            step(tokens, answer)
            if state.step % cfg.log_every == 0 or state.step == total:
                bar.update((state.step - bar.n // len(members)) * len(members))
            out_of_time = deadline is not None and state.step < total and time.time() >= deadline
            if checkpoint is not None and (
                state.step % cfg.checkpoint_every == 0 or state.step == total or out_of_time
            ):
                save_checkpoint(Path(checkpoint), state, identity)
            if out_of_time:
                raise TimeUp(f"stopped at step {state.step} of {total}; checkpoint {checkpoint}")
    history = torch.stack(state.history).cpu().numpy() if state.history else np.zeros((0, len(members)))
    return TrainResult(
        model=model,
        members=members,
        horizons=np.array(horizons),
        history=history,
        log_every=cfg.log_every,
        diverged_at=state.diverged_at.cpu().numpy(),
    )
