"""Chinchilla's three ways to find the compute-optimal model size, and the frontier they imply.

Hoffmann et al. (2022, arXiv 2203.15556) estimate how the loss-minimising parameter count N_opt and
token count D_opt grow with the compute budget C = 6ND three ways (Sec. 3):

- Approach 1 (Sec. 3.1): the lower envelope of smoothed training curves, :func:`fit_envelope`;
- Approach 2 (Sec. 3.2): a parabola per IsoFLOP profile, :func:`fit_isoflop`;
- Approach 3 (Sec. 3.3, Eq. 2-3, App. D.2): the parametric loss L(N, D) = E + A/N^alpha + B/D^beta
  fitted with a Huber loss from a 4,500-point grid of starts, :func:`fit_parametric`, with a
  bootstrap over runs, :func:`bootstrap_parametric` (Besiroglu et al. 2024, arXiv 2404.10102, Sec. 3).

All three end in a :class:`Frontier` (Eq. 4): N_opt = G (C/6)^a, D_opt = G^-1 (C/6)^b, from which
:func:`projection_table` builds the paper's Table 3. Approach 3's L-BFGS is batched over starts in
torch (:func:`batched_lbfgs`): every start keeps its own curvature history, line search and stopping
test, so the 4,500 starts of the grid run as one optimisation of 4,500 independent problems.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal, TypeVar

import numpy as np
import pandas as pd
import torch
from scipy.ndimage import gaussian_filter1d

from scalingbook.lab.cpu import torch_threads

GOPHER_FLOPS = 5.76e23
"""Gopher's training budget in FLOPs, the unit of Table 3's third column (Hoffmann Sec. 3.4)."""

TABLE3_SIZES = (4e8, 1e9, 1e10, 6.7e10, 1.75e11, 2.8e11, 5.2e11, 1e12, 1e13)
"""The model sizes that Hoffmann et al. project in Table 3."""

HUBER_DELTA = 1e-3
"""Huber threshold on log-loss residuals (Hoffmann App. D.2: larger overfits small runs)."""

Reduction = Literal["sum", "mean"]
Objective = Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]

_EXP_FLOOR = -600.0
"""Floor on LSE exponents: exp(-600) ~ 1e-261 is nothing next to 1, and keeps exp's results out of
the subnormal range, which costs x86 CPUs ~50x per operation on the grid's far-out starts."""

_RUNNING, _GTOL, _FTOL, _LINE_SEARCH_FAILED = 0, 1, 2, 3
_PARAM_NAMES = ("E", "A", "B", "alpha", "beta", "a", "b")


# ---------------------------------------------------------------------------------------------
# The parametric loss and its frontier (Hoffmann Eq. 2 and Eq. 4)
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Frontier:
    """The compute-optimal frontier N_opt = G (C/6)^a, D_opt = G^-1 (C/6)^b (Hoffmann Eq. 4).

    Approach 3 gives G, a, b in closed form from (A, B, alpha, beta); Approaches 1 and 2 give them by
    least squares in log-log space. Because every run there has D = C/(6N), the D fit is the N fit
    mirrored: b = 1 - a and the D coefficient is 1/G, so one G serves both.
    """

    G: float
    a: float
    b: float

    def n_opt(self, flops: np.ndarray | float) -> np.ndarray:
        """Loss-minimising parameter count at compute ``flops`` (Eq. 4)."""
        return self.G * (np.asarray(flops, dtype=float) / 6.0) ** self.a

    def d_opt(self, flops: np.ndarray | float) -> np.ndarray:
        """Loss-minimising token count at compute ``flops`` (Eq. 4)."""
        return (np.asarray(flops, dtype=float) / 6.0) ** self.b / self.G

    def tokens_per_parameter(self, flops: np.ndarray | float) -> np.ndarray:
        """D_opt / N_opt at ``flops``: about 20 in Hoffmann's Table 3, 18-20 in Epoch's refit."""
        return self.d_opt(flops) / self.n_opt(flops)

    def flops_for(self, n_params: np.ndarray | float) -> np.ndarray:
        """The budget at which ``n_params`` is compute-optimal: Eq. 4 solved for C."""
        return 6.0 * (np.asarray(n_params, dtype=float) / self.G) ** (1.0 / self.a)


@dataclass(frozen=True)
class LossParams:
    """Parameters of L(N, D) = E + A/N^alpha + B/D^beta (Hoffmann Eq. 2), stored unrounded."""

    E: float
    A: float
    B: float
    alpha: float
    beta: float

    @classmethod
    def from_theta(cls, theta: Sequence[float]) -> LossParams:
        """From the optimiser's vector (log A, log B, log E, alpha, beta) (Hoffmann App. D.2)."""
        a, b, e, alpha, beta = (float(v) for v in theta)
        return cls(E=float(np.exp(e)), A=float(np.exp(a)), B=float(np.exp(b)), alpha=alpha, beta=beta)

    @property
    def theta(self) -> np.ndarray:
        """The optimiser's vector (log A, log B, log E, alpha, beta), the LSE parameterisation."""
        return np.array([np.log(self.A), np.log(self.B), np.log(self.E), self.alpha, self.beta])

    @property
    def a(self) -> float:
        """Exponent of N_opt in C: beta / (alpha + beta) (Eq. 4)."""
        return self.beta / (self.alpha + self.beta)

    @property
    def b(self) -> float:
        """Exponent of D_opt in C: alpha / (alpha + beta) (Eq. 4)."""
        return self.alpha / (self.alpha + self.beta)

    @property
    def G(self) -> float:
        """(alpha A / (beta B))^(1/(alpha+beta)), from the first-order condition of Eq. 4."""
        return (self.alpha * self.A / (self.beta * self.B)) ** (1.0 / (self.alpha + self.beta))

    def frontier(self) -> Frontier:
        """The efficient frontier of this loss surface (Eq. 4)."""
        return Frontier(G=self.G, a=self.a, b=self.b)

    def predict(self, n_params: np.ndarray | float, tokens: np.ndarray | float) -> np.ndarray:
        """The predicted loss L(N, D) (Eq. 2)."""
        n, d = np.asarray(n_params, dtype=float), np.asarray(tokens, dtype=float)
        return self.E + self.A / n**self.alpha + self.B / d**self.beta


HOFFMANN_ROUNDED = LossParams(E=1.69, A=406.4, B=410.7, alpha=0.34, beta=0.28)
"""Hoffmann Eq. 10 as printed; the rounded alpha and beta give a = 0.452, outside the paper's own Approach-3 interval (0.454, 0.455) of Table 2."""

HOFFMANN_UNROUNDED = LossParams.from_theta([6.0073404, 6.0179186, 0.5267228, 0.33917084, 0.2849083])
"""Hoffmann's fit from the arXiv TeX source, as used by Besiroglu et al. (their notebook)."""

EPOCH_ESTIMATE = LossParams(E=1.817, A=482.01, B=2085.43, alpha=0.3478, beta=0.3658)
"""Besiroglu et al. (2024) main estimate on the 240 extracted points (Huber likelihood, BFGS)."""

EPOCH_CI95 = {
    "A": (285.2, 743.6),
    "B": (1042.4, 5810.3),
    "E": (1.769, 1.871),
    "alpha": (0.317, 0.373),
    "beta": (0.331, 0.415),
}
"""Besiroglu et al.'s 95% bootstrap intervals (4,000 resamples of the 240 points)."""


def initial_grid() -> np.ndarray:
    """Hoffmann's grid of L-BFGS starts (App. D.2), rows (log A, log B, log E, alpha, beta).

    alpha, beta in {0, 0.5, ..., 2}; e in {-1, -0.5, ..., 1}; a, b in {0, 5, ..., 25}:
    6 * 6 * 5 * 5 * 5 = 4,500 starts.
    """
    ab = np.arange(0.0, 25.0 + 1e-9, 5.0)
    e = np.arange(-1.0, 1.0 + 1e-9, 0.5)
    exponents = np.arange(0.0, 2.0 + 1e-9, 0.5)
    mesh = np.meshgrid(ab, ab, e, exponents, exponents, indexing="ij")
    return np.stack([m.ravel() for m in mesh], axis=1)


# ---------------------------------------------------------------------------------------------
# The Huber objective in the log-sum-exp parameterisation (Hoffmann Eq. 3, App. D.2)
# ---------------------------------------------------------------------------------------------


_Array = TypeVar("_Array", np.ndarray, torch.Tensor)


def _huber(resid: _Array, clipped: _Array) -> _Array:
    """Huber_delta(r) = c (r - c/2) with c = clip(r, -delta, delta) (Hoffmann Eq. 3).

    That is r^2/2 within delta and delta (|r| - delta/2) beyond, written with the clipped residual
    the gradient needs anyway, and without boolean masks (which torch would promote to float32).
    """
    return clipped * (resid - 0.5 * clipped)


def huber_objective(
    theta: torch.Tensor,
    log_n: torch.Tensor,
    log_d: torch.Tensor,
    log_loss: torch.Tensor,
    weights: torch.Tensor,
    delta: float = HUBER_DELTA,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Weighted Huber loss of log-loss residuals and its gradient, for a batch of parameter rows.

    Implements Hoffmann Eq. 3 with log L_hat = LSE(a - alpha log N, b - beta log D, e). ``theta`` is
    (k, 5) in the order (a, b, e, alpha, beta); ``weights`` is (n,) or (k, n): ones for the summed
    loss, 1/n for the mean, bootstrap counts for a resample. The gradient is analytic: each LSE
    term's softmax share times the clipped residual psi(r) = clip(r, -delta, delta), and the sums
    over runs are matrix products. Both choices matter: the objective is almost all of a fit's time.
    """
    a, b, e, alpha, beta = (col[:, None] for col in theta.unbind(1))
    t_n = a - alpha * log_n
    t_d = b - beta * log_d
    top = torch.maximum(torch.maximum(t_n, t_d), e)
    exp_n, exp_d, exp_e = (torch.exp((t - top).clamp_min_(_EXP_FLOOR)) for t in (t_n, t_d, e))
    total = exp_n + exp_d + exp_e
    resid = top.add_(torch.log(total)).sub_(log_loss)
    clipped = resid.clamp(-delta, delta)
    huber = _huber(resid, clipped)
    value = huber @ weights if weights.dim() == 1 else (huber * weights).sum(1)
    psi = clipped.mul_(weights).div_(total)
    one_n = torch.stack((torch.ones_like(log_n), -log_n), dim=1)
    one_d = torch.stack((torch.ones_like(log_d), -log_d), dim=1)
    grad_n, grad_d = exp_n.mul_(psi) @ one_n, exp_d.mul_(psi) @ one_d
    grad = torch.stack((grad_n[:, 0], grad_d[:, 0], (psi * exp_e).sum(1), grad_n[:, 1], grad_d[:, 1]), dim=1)
    return value, grad


def huber_objective_np(
    theta: np.ndarray,
    log_n: np.ndarray,
    log_d: np.ndarray,
    log_loss: np.ndarray,
    delta: float = HUBER_DELTA,
    reduction: Reduction = "sum",
) -> tuple[float, np.ndarray]:
    """One parameter vector's objective and gradient in NumPy: :func:`huber_objective` for k = 1.

    The scalar reference for ``scipy.optimize.minimize`` (the benchmark baseline and the tests) and
    for scoring a published parameter set, e.g. ``HOFFMANN_UNROUNDED.theta``, on a data set. Pure
    NumPy, so the baseline pays no torch dispatch cost per call.
    """
    a, b, e, alpha, beta = theta
    t_n, t_d = a - alpha * log_n, b - beta * log_d
    top = np.maximum(np.maximum(t_n, t_d), e)
    exp_n, exp_d, exp_e = (np.exp(np.maximum(t - top, _EXP_FLOOR)) for t in (t_n, t_d, e))
    total = exp_n + exp_d + exp_e
    resid = top + np.log(total) - log_loss
    scale = _reduction_scale(len(log_n), reduction)
    clipped = np.clip(resid, -delta, delta)
    psi = clipped * scale / total
    psi_n, psi_d = psi * exp_n, psi * exp_d
    grad = np.array([psi_n.sum(), psi_d.sum(), (psi * exp_e).sum(), -(psi_n @ log_n), -(psi_d @ log_d)])
    return float(_huber(resid, clipped).sum() * scale), grad


def _reduction_scale(n: int, reduction: Reduction) -> float:
    """Weight of each run: 1 to sum the Huber loss (Hoffmann, as Epoch reads it), 1/n to average."""
    if reduction not in ("sum", "mean"):
        raise ValueError(f"reduction must be 'sum' or 'mean', got {reduction!r}")
    return 1.0 if reduction == "sum" else 1.0 / n


def _reduction_weights(n: int, reduction: Reduction) -> torch.Tensor:
    """:func:`_reduction_scale` for every run, as the weight vector :func:`huber_objective` takes."""
    return torch.full((n,), _reduction_scale(n, reduction), dtype=torch.float64)


# ---------------------------------------------------------------------------------------------
# Batched L-BFGS: many independent problems, one tensor program
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class LBFGSResult:
    """Per-start outcome of :func:`batched_lbfgs`.

    ``status`` per start: 0 iteration limit, 1 gradient below ``gtol``, 2 relative decrease below
    ``ftol`` (scipy's ``factr`` test), 3 line search failed (no decrease found along the direction).
    """

    x: np.ndarray
    f: np.ndarray
    grad_max: np.ndarray
    n_iter: np.ndarray
    status: np.ndarray
    n_evals: int

    @property
    def converged(self) -> np.ndarray:
        """Starts that met the gradient or the decrease test."""
        return (self.status == _GTOL) | (self.status == _FTOL)


def _two_loop(grad: torch.Tensor, s_hist: torch.Tensor, y_hist: torch.Tensor, rho: torch.Tensor) -> torch.Tensor:
    """H_k grad by the L-BFGS two-loop recursion (Nocedal & Wright Alg. 7.4), batched over starts.

    Histories are (k, m, d), newest pair last; unused slots have rho = 0 and drop out. H_0 is
    gamma I with gamma = s'y / y'y of the newest pair (Nocedal & Wright Eq. 7.20), 1 with no pairs.
    """
    q = grad.clone()
    alphas = []
    for j in range(s_hist.shape[1] - 1, -1, -1):
        alpha_j = rho[:, j] * (s_hist[:, j] * q).sum(1)
        q -= alpha_j[:, None] * y_hist[:, j]
        alphas.append(alpha_j)
    s_new, y_new = s_hist[:, -1], y_hist[:, -1]
    gamma = torch.where(rho[:, -1] > 0, (s_new * y_new).sum(1) / (y_new * y_new).sum(1).clamp_min(1e-300), 1.0)
    r = gamma[:, None] * q
    for j, alpha_j in zip(range(s_hist.shape[1]), reversed(alphas)):
        beta_j = rho[:, j] * (y_hist[:, j] * r).sum(1)
        r += (alpha_j - beta_j)[:, None] * s_hist[:, j]
    return r


def _next_step(
    t: torch.Tensor, lo: torch.Tensor, hi: torch.Tensor, f0: torch.Tensor, f_t: torch.Tensor, slope: torch.Tensor
) -> torch.Tensor:
    """The next trial of the bracketing search: double until bracketed, then bisect.

    The first cut of a too-long step from t = 0 uses the minimiser of the quadratic through
    f(0), f'(0) and f(t), kept within [0.1 t, 0.5 t] (Nocedal & Wright Sec. 3.5), so a step that
    overshoots by orders of magnitude shrinks in a few trials rather than dozens.
    """
    curvature = f_t - f0 - slope * t
    quad = (-slope * t * t / (2.0 * curvature)).nan_to_num(nan=0.0, posinf=0.0, neginf=0.0)
    first_cut = torch.minimum(torch.maximum(quad, 0.1 * t), 0.5 * t)
    bisect = torch.where(torch.isinf(hi), 2.0 * lo, 0.5 * (lo + hi))
    return torch.where((lo == 0) & torch.isfinite(hi), first_cut, bisect)


def _line_search(
    fun: Objective,
    rows: torch.Tensor,
    x: torch.Tensor,
    f: torch.Tensor,
    direction: torch.Tensor,
    slope: torch.Tensor,
    step: torch.Tensor,
    max_trials: int,
    c1: float = 1e-4,
    c2: float = 0.9,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, int]:
    """Weak Wolfe line search by bracketing, each start with its own step (Lewis & Overton 2013).

    ``slope`` is grad'direction (< 0) per start. A trial that fails the sufficient decrease (Armijo)
    condition becomes the upper end of the bracket; one that passes it but fails the curvature
    condition g(t)'d >= c2 slope becomes the lower end. The curvature condition makes s'y > 0, so
    every pair can enter the L-BFGS history; Armijo-only backtracking gave bad pairs and several
    times more iterations on this objective. Only starts still searching are evaluated. Returns
    x, f and gradient at the last Armijo point, a mask of the starts that found one, and the
    number of batched evaluations.
    """
    x_new, f_new, g_new = x.clone(), f.clone(), torch.zeros_like(x)
    found = torch.zeros(len(rows), dtype=torch.bool)
    lo, hi, t = torch.zeros_like(step), torch.full_like(step, torch.inf), step.clone()
    pending = torch.arange(len(rows))
    evals = 0
    for _ in range(max_trials):
        t_p, d_p, slope_p = t[pending], direction[pending], slope[pending]
        trial = x[pending] + t_p[:, None] * d_p
        f_t, g_t = fun(trial, rows[pending])
        evals += 1
        armijo = torch.isfinite(f_t) & (f_t <= f[pending] + c1 * t_p * slope_p)
        flat = (g_t * d_p).sum(1) >= c2 * slope_p
        ok = pending[armijo]
        x_new[ok], f_new[ok], g_new[ok] = trial[armijo], f_t[armijo], g_t[armijo]
        found[ok] = True
        lo[ok], hi[pending[~armijo]] = t_p[armijo], t_p[~armijo]
        left = ~(armijo & flat)
        pending = pending[left]
        if len(pending) == 0:
            break
        t[pending] = _next_step(t_p[left], lo[pending], hi[pending], f[pending], f_t[left], slope_p[left])
    return x_new, f_new, g_new, found, evals


def batched_lbfgs(
    fun: Objective,
    x0: torch.Tensor,
    *,
    history: int = 10,
    max_iter: int = 15000,
    gtol: float = 1e-5,
    ftol: float = 2.220446049250313e-09,
    max_line_search: int = 30,
    max_step: float = 1.0,
    threads: int | None = 1,
) -> LBFGSResult:
    """Minimise k independent problems at once with L-BFGS, one tensor op per step for all of them.

    ``fun(x, rows)`` returns the objective (m,) and gradient (m, d) of the problems ``rows`` at the
    points ``x`` (m, d). Each start keeps its own (s, y) history (two-loop recursion, Nocedal &
    Wright Alg. 7.4), its own line search and its own stopping test, and leaves the batch as soon as it stops, so the
    result for a start does not depend on the others, unlike ``torch.optim.LBFGS`` on one long vector.

    The stopping tests copy scipy's L-BFGS-B defaults (``gtol`` = 1e-5 on the largest gradient entry,
    ``ftol`` = factr * eps on (f_k - f_k+1) / max(|f_k|, |f_k+1|, 1)). Both are absolute when f < 1,
    as a Huber loss with delta = 1e-3 always is; averaging instead of summing divides f and its
    gradient by n, so either test then passes next to the start (Besiroglu et al. 2024).
    Each start's line search (:func:`_line_search`) enforces the weak Wolfe conditions; a pair with
    s'y <= 1e-10 y'y (a search that ran out of trials) is left out of the history (Nocedal & Wright
    Sec. 7.2). The first trial step of an iteration moves no parameter by more than ``max_step``:
    in the Huber loss's linear regime y is tiny and the H_0 scaling s'y/y'y would otherwise propose
    steps of 1e30 and more, which the search must then walk back.

    ``threads`` sets torch's intra-op threads for the run (:func:`scalingbook.lab.cpu.torch_threads`;
    None leaves them alone).
    """
    with torch_threads(threads):
        return _lbfgs_loop(fun, x0, history, max_iter, (gtol, ftol), max_line_search, max_step)


@dataclass
class _LBFGSState:
    """Per-start iterate, objective, gradient, curvature history and progress of a batched run."""

    x: torch.Tensor
    f: torch.Tensor
    g: torch.Tensor
    s_hist: torch.Tensor
    y_hist: torch.Tensor
    rho: torch.Tensor
    n_iter: torch.Tensor
    status: torch.Tensor


def _lbfgs_loop(
    fun: Objective,
    x0: torch.Tensor,
    history: int,
    max_iter: int,
    tests: tuple[float, float],
    max_line_search: int,
    max_step: float,
) -> LBFGSResult:
    """The iteration loop of :func:`batched_lbfgs`: step the running starts until none is left."""
    x = x0.detach().to(torch.float64).clone()
    k, dim = x.shape
    f, g = fun(x, torch.arange(k))
    state = _LBFGSState(
        x=x,
        f=f,
        g=g,
        s_hist=torch.zeros(k, history, dim, dtype=x.dtype),
        y_hist=torch.zeros(k, history, dim, dtype=x.dtype),
        rho=torch.zeros(k, history, dtype=x.dtype),
        n_iter=torch.zeros(k, dtype=torch.long),
        status=torch.where(g.abs().amax(1) <= tests[0], _GTOL, _RUNNING),
    )
    evals = 1
    for _ in range(max_iter):
        rows = torch.nonzero(state.status == _RUNNING).squeeze(1)
        if len(rows) == 0:
            break
        evals += _lbfgs_step(fun, rows, state, tests, max_line_search, max_step)
    return LBFGSResult(
        x=state.x.numpy(),
        f=state.f.numpy(),
        grad_max=state.g.abs().amax(1).numpy(),
        n_iter=state.n_iter.numpy(),
        status=state.status.numpy(),
        n_evals=evals,
    )


def _lbfgs_step(
    fun: Objective,
    rows: torch.Tensor,
    state: _LBFGSState,
    tests: tuple[float, float],
    max_line_search: int,
    max_step: float,
) -> int:
    """One L-BFGS iteration for the running starts ``rows``; updates ``state`` in place.

    ``tests`` is (gtol, ftol). Returns the number of batched objective evaluations it made.
    """
    x_r, f_r, g_r, rho_r = state.x[rows], state.f[rows], state.g[rows], state.rho[rows]
    direction = -_two_loop(g_r, state.s_hist[rows], state.y_hist[rows], rho_r)
    slope = (g_r * direction).sum(1)
    uphill = slope >= 0
    direction[uphill] = -g_r[uphill]
    slope = torch.where(uphill, -(g_r * g_r).sum(1), slope)
    fresh = (rho_r == 0).all(1) | uphill
    step = torch.where(fresh, (1.0 / g_r.abs().sum(1)).clamp(max=1.0), 1.0)
    step = torch.minimum(step, max_step / direction.abs().amax(1))
    x_new, f_new, g_new, ok, evals = _line_search(fun, rows, x_r, f_r, direction, slope, step, max_line_search)
    _remember(state, rows, ok, x_new - x_r, g_new - g_r)
    moved = rows[ok]
    state.x[moved], state.f[moved], state.g[moved] = x_new[ok], f_new[ok], g_new[ok]
    state.n_iter[moved] += 1
    gtol, ftol = tests
    scale = torch.maximum(torch.maximum(f_r.abs(), f_new.abs()), torch.ones_like(f_r))
    state.status[rows[~ok]] = _LINE_SEARCH_FAILED
    state.status[rows[ok & (f_r - f_new <= ftol * scale)]] = _FTOL
    state.status[rows[ok & (g_new.abs().amax(1) <= gtol)]] = _GTOL
    return evals


def _remember(state: _LBFGSState, rows: torch.Tensor, ok: torch.Tensor, s: torch.Tensor, y: torch.Tensor) -> None:
    """Push each start's new (s, y) pair into its history, dropping the oldest (Nocedal & Wright 7.2)."""
    sy = (s * y).sum(1)
    keep = ok & (sy > 1e-10 * (y * y).sum(1))
    upd = rows[keep]
    state.s_hist[upd] = torch.cat((state.s_hist[upd, 1:], s[keep, None]), dim=1)
    state.y_hist[upd] = torch.cat((state.y_hist[upd, 1:], y[keep, None]), dim=1)
    state.rho[upd] = torch.cat((state.rho[upd, 1:], (1.0 / sy[keep])[:, None]), dim=1)


# ---------------------------------------------------------------------------------------------
# Approach 3: the parametric fit and its bootstrap (Hoffmann Sec. 3.3, App. D.2; Epoch Sec. 3)
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class ParametricFit:
    """Best of many L-BFGS runs of Hoffmann's Eq. 3 objective, with what the optimiser did.

    ``optima`` holds the distinct end points of the converged starts (rows of (log A, log B, log E,
    alpha, beta)), best first, with their objectives in ``optima_objective``: the seeds of the
    bootstrap and a check that the best fit is not a lone start. ``n_iter`` and ``status`` describe
    the winning start (status codes of :class:`LBFGSResult`); ``start`` is where it began.
    """

    params: LossParams
    objective: float
    reduction: Reduction
    delta: float
    n_points: int
    n_starts: int
    n_converged: int
    n_iter: int
    status: int
    start: np.ndarray
    optima: np.ndarray
    optima_objective: np.ndarray

    def frontier(self) -> Frontier:
        """The efficient frontier of the fitted surface (Hoffmann Eq. 4)."""
        return self.params.frontier()


def _log_data(
    n_params: np.ndarray, tokens: np.ndarray, loss: np.ndarray
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """log N, log D, log L as float64 tensors, after checking they are positive, finite, aligned."""
    arrays = [np.asarray(v, dtype=float).ravel() for v in (n_params, tokens, loss)]
    for name, values in zip(("n_params", "tokens", "loss"), arrays):
        if len(values) != len(arrays[0]):
            raise ValueError(f"{name} has {len(values)} values, n_params has {len(arrays[0])}")
        if not np.all(np.isfinite(values) & (values > 0)):
            raise ValueError(f"{name} must be finite and positive")
    if len(arrays[0]) < 5:
        raise ValueError(f"Approach 3 fits 5 parameters; got {len(arrays[0])} runs")
    log_n, log_d, log_l = (torch.as_tensor(np.log(v), dtype=torch.float64) for v in arrays)
    return log_n, log_d, log_l


def _objective(
    log_n: torch.Tensor,
    log_d: torch.Tensor,
    log_l: torch.Tensor,
    weights: torch.Tensor,
    delta: float,
    block_elements: int = 32_000,
) -> Objective:
    """Bind the data to :func:`huber_objective`; ``weights`` (n,) is shared, (k, n) is per start.

    Rows are evaluated in blocks of about ``block_elements`` (start, run) pairs so that the dozen
    temporaries stay in cache: about 4x faster than one pass over all 4,500 starts.
    """
    block = max(1, block_elements // len(log_n))

    def fun(x: torch.Tensor, rows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        w = weights if weights.dim() == 1 else weights[rows]
        parts = [
            huber_objective(x[i : i + block], log_n, log_d, log_l, w if w.dim() == 1 else w[i : i + block], delta)
            for i in range(0, len(x), block)
        ]
        return torch.cat([v for v, _ in parts]), torch.cat([g for _, g in parts])

    return fun


def _distinct_optima(result: LBFGSResult, keep: int = 8, tol: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """End points of converged starts, best first, each more than ``tol`` (max-norm) from a better one.

    The objective is flat along the optimum's valley, so starts that reach the same optimum end a
    few 1e-3 apart; ``tol`` merges those and keeps genuinely different local optima.
    """
    good = result.converged & np.isfinite(result.f)
    order = np.argsort(result.f[good])
    x, f = result.x[good][order], result.f[good][order]
    chosen: list[int] = []
    for i in range(len(x)):
        if len(chosen) == keep:
            break
        if all(np.abs(x[i] - x[j]).max() > tol for j in chosen):
            chosen.append(i)
    return x[chosen], f[chosen]


def fit_parametric(
    n_params: np.ndarray,
    tokens: np.ndarray,
    loss: np.ndarray,
    *,
    init: np.ndarray | None = None,
    reduction: Reduction = "sum",
    delta: float = HUBER_DELTA,
    max_iter: int = 15000,
    gtol: float = 1e-5,
    ftol: float = 2.220446049250313e-09,
) -> ParametricFit:
    """Fit L(N, D) = E + A/N^alpha + B/D^beta to final losses (Hoffmann Eq. 2-3, App. D.2).

    Minimises sum_i Huber_delta(LSE(a - alpha log N_i, b - beta log D_i, e) - log L_i) with
    delta = 1e-3, by L-BFGS from every row of ``init`` (default: :func:`initial_grid`, 4,500 starts)
    at once, and keeps the lowest objective. ``gtol`` and ``ftol`` default to scipy's L-BFGS-B
    stopping tests. With f ~ 1e-3 the ftol test can stop a start while it still creeps along the
    optimum's flat valley; over the whole grid some start lands on the optimum all the same, but
    from one start (say Hoffmann's values) pass ``ftol=0`` to stop on the gradient alone, as BFGS
    does. ``reduction="mean"`` averages instead of summing, which divides the gradient by n: even
    the gradient test then passes near the start, the flaw Besiroglu et al. (2024) found in
    Hoffmann's fit.
    """
    log_n, log_d, log_l = _log_data(n_params, tokens, loss)
    starts = initial_grid() if init is None else np.atleast_2d(np.asarray(init, dtype=float))
    fun = _objective(log_n, log_d, log_l, _reduction_weights(len(log_n), reduction), delta)
    result = batched_lbfgs(fun, torch.as_tensor(starts), max_iter=max_iter, gtol=gtol, ftol=ftol)
    best = int(np.nanargmin(np.where(np.isfinite(result.f), result.f, np.nan)))
    optima, optima_f = _distinct_optima(result)
    return ParametricFit(
        params=LossParams.from_theta(result.x[best]),
        objective=float(result.f[best]),
        reduction=reduction,
        delta=delta,
        n_points=len(log_n),
        n_starts=len(starts),
        n_converged=int(result.converged.sum()),
        n_iter=int(result.n_iter[best]),
        status=int(result.status[best]),
        start=starts[best],
        optima=optima,
        optima_objective=optima_f,
    )


@dataclass(frozen=True, eq=False)
class BootstrapResult:
    """Bootstrap distribution of Approach 3's parameters and of a and b (Epoch Sec. 3, Table 1).

    ``samples`` has one row per resample and the columns E, A, B, alpha, beta, a, b. ``n_unconverged``
    counts resamples whose best start hit the iteration limit or a failed line search.
    """

    estimate: ParametricFit
    samples: pd.DataFrame
    level: float
    n_unconverged: int

    def interval(self, name: str) -> tuple[float, float]:
        """Percentile interval of ``name`` at ``level`` (e.g. 0.95 gives the 2.5th-97.5th)."""
        tail = (1.0 - self.level) / 2.0
        low, high = np.quantile(self.samples[name], [tail, 1.0 - tail])
        return float(low), float(high)

    def summary(self) -> pd.DataFrame:
        """Estimate, bootstrap standard error and interval of every parameter, one row each."""
        p = self.estimate.params
        point = {"E": p.E, "A": p.A, "B": p.B, "alpha": p.alpha, "beta": p.beta, "a": p.a, "b": p.b}
        rows = [
            (name, point[name], float(self.samples[name].std(ddof=1)), *self.interval(name)) for name in _PARAM_NAMES
        ]
        return pd.DataFrame(rows, columns=["parameter", "estimate", "se", "low", "high"]).set_index("parameter")


def bootstrap_parametric(
    n_params: np.ndarray,
    tokens: np.ndarray,
    loss: np.ndarray,
    *,
    n_boot: int = 4000,
    seed: int = 42,
    fit: ParametricFit | None = None,
    n_starts: int = 3,
    level: float = 0.95,
    chunk: int = 1000,
    gtol: float = 1e-8,
    counts: np.ndarray | None = None,
) -> BootstrapResult:
    """Resample runs with replacement and refit Approach 3 to convergence (Epoch Sec. 3).

    A resample is a vector of counts, so its summed Huber loss is the full data's with per-run
    weights; every resample is then one more independent problem in :func:`batched_lbfgs`, and
    ``chunk`` resamples run as one batch. Each resample starts from the ``n_starts`` best distinct
    optima of the full-data grid fit (``fit``, computed when not given) rather than the whole grid:
    a resample moves the objective a little, so its optimum lies in the basin of a full-data
    optimum; the extra starts guard against a resample in which the runner-up basin wins. Epoch
    started each resample from one point (Hoffmann's estimate). Runs with the full-data fit's
    reduction and delta.

    Refits run to convergence (Epoch's hygiene point): ``ftol`` is off and the largest gradient
    entry must fall below ``gtol`` (for the summed loss; scaled by 1/n for the mean). With scipy's
    default tests the resamples stop within ~15 iterations of their start and the intervals come
    out ~30x too narrow, the very flaw Epoch found in Hoffmann's intervals.
    """
    log_n, log_d, log_l = _log_data(n_params, tokens, loss)
    fit = fit_parametric(n_params, tokens, loss) if fit is None else fit
    starts = torch.as_tensor(fit.optima[:n_starts])
    n, k = len(log_n), len(starts)
    if counts is None:
        counts = np.random.default_rng(seed).multinomial(n, np.full(n, 1.0 / n), size=n_boot)
    scale = 1.0 if fit.reduction == "sum" else 1.0 / n
    thetas, unconverged = [], 0
    for block in np.array_split(counts, max(1, -(-n_boot // chunk))):
        weights = torch.as_tensor(block * scale, dtype=torch.float64).repeat_interleave(k, dim=0)
        fun = _objective(log_n, log_d, log_l, weights, fit.delta)
        result = batched_lbfgs(fun, starts.repeat(len(block), 1), gtol=gtol * scale, ftol=0.0)
        best = result.f.reshape(len(block), k).argmin(1) + k * np.arange(len(block))
        thetas.append(result.x[best])
        unconverged += int((~result.converged[best]).sum())
    return BootstrapResult(
        estimate=fit, samples=_samples_frame(np.concatenate(thetas)), level=level, n_unconverged=unconverged
    )


def _samples_frame(thetas: np.ndarray) -> pd.DataFrame:
    """Parameter table from rows of (log A, log B, log E, alpha, beta), with a and b (Eq. 4)."""
    a_log, b_log, e_log, alpha, beta = thetas.T
    return pd.DataFrame(
        {
            "E": np.exp(e_log),
            "A": np.exp(a_log),
            "B": np.exp(b_log),
            "alpha": alpha,
            "beta": beta,
            "a": beta / (alpha + beta),
            "b": alpha / (alpha + beta),
        }
    )


# ---------------------------------------------------------------------------------------------
# Power laws in compute, shared by Approaches 1 and 2
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PowerLaw:
    """y = coefficient * x^exponent, fitted as a line in log-log space (Hoffmann Sec. 3.1-3.2)."""

    coefficient: float
    exponent: float

    def __call__(self, x: np.ndarray | float) -> np.ndarray:
        """The fitted y at ``x``."""
        return self.coefficient * np.asarray(x, dtype=float) ** self.exponent


def fit_power_law(x: np.ndarray, y: np.ndarray) -> PowerLaw:
    """Least-squares line through (log x, log y); needs two or more distinct x."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if len(np.unique(x)) < 2:
        raise ValueError(f"a power law needs at least 2 distinct x values, got {len(np.unique(x))}")
    slope, intercept = np.polyfit(np.log(x), np.log(y), 1)
    return PowerLaw(coefficient=float(np.exp(intercept)), exponent=float(slope))


def _frontier(n_fit: PowerLaw, d_fit: PowerLaw) -> Frontier:
    """Eq. 4's form from N_opt = k C^a and D_opt = k' C^b: G = k 6^a."""
    return Frontier(G=n_fit.coefficient * 6.0**n_fit.exponent, a=n_fit.exponent, b=d_fit.exponent)


# ---------------------------------------------------------------------------------------------
# Approach 1: the envelope of training curves (Hoffmann Sec. 3.1, App. D)
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class LossCurve:
    """One run's training curve: loss after ``tokens`` tokens for a model of ``n_params``."""

    n_params: float
    tokens: np.ndarray
    loss: np.ndarray


@dataclass(frozen=True, eq=False)
class EnvelopeFit:
    """Approach 1 (Hoffmann Sec. 3.1): the loss envelope over runs and power laws through it.

    ``flops``, ``n_opt``, ``d_opt`` and ``loss`` are the envelope at the grid points used in the fit.
    """

    flops: np.ndarray
    n_opt: np.ndarray
    d_opt: np.ndarray
    loss: np.ndarray
    n_fit: PowerLaw
    d_fit: PowerLaw
    frontier: Frontier


def smooth_loss(loss: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian smoothing of a logged loss curve (Hoffmann App. D: "a Gaussian window of 10 steps").

    ``sigma`` is in logged points; sigma = 2.5 puts +-2 sigma across 10 points. Edges repeat the end
    values, so the final loss is not pulled towards zero.
    """
    return gaussian_filter1d(np.asarray(loss, dtype=float), sigma, mode="nearest") if sigma > 0 else loss


def _six_n(n_params: np.ndarray | float) -> np.ndarray:
    """Training FLOPs per token as 6N (Kaplan et al. 2020): the default count of Approaches 1 and 2."""
    return 6.0 * np.asarray(n_params, dtype=float)


def _envelope_grid(
    curves: Sequence[LossCurve], n_flops: int, sigma: float, flops_per_token: Callable = _six_n
) -> tuple[np.ndarray, np.ndarray]:
    """Smoothed loss of every run interpolated onto log-spaced FLOPs; inf where a run has no data."""
    logs = []
    for curve in curves:
        tokens, loss = np.asarray(curve.tokens, dtype=float), np.asarray(curve.loss, dtype=float)
        if tokens.shape != loss.shape or np.any(np.diff(tokens) <= 0):
            raise ValueError(f"run with N={curve.n_params:.3g}: tokens must increase and match loss")
        keep = tokens > 0
        logs.append((np.log(flops_per_token(curve.n_params) * tokens[keep]), smooth_loss(loss, sigma)[keep]))
    grid = np.linspace(min(c[0] for c, _ in logs), max(c[-1] for c, _ in logs), n_flops)
    table = np.full((len(curves), n_flops), np.inf)
    for row, (log_c, loss) in zip(table, logs):
        inside = (grid >= log_c[0]) & (grid <= log_c[-1])
        row[inside] = np.interp(grid[inside], log_c, loss)
    return np.exp(grid), table


def fit_envelope(
    curves: Sequence[LossCurve],
    *,
    n_flops: int = 1500,
    smoothing_sigma: float = 2.5,
    exclude_edge_sizes: bool = True,
    flops_per_token: Callable | None = None,
) -> EnvelopeFit:
    """Approach 1: at each of ``n_flops`` log-spaced budgets, the run with the lowest smoothed loss.

    FLOPs are 6 N D, or ``flops_per_token(N) * D`` when given (e.g. Hoffmann's App. F count). Each run's curve is smoothed, interpolated in log FLOPs and never extrapolated
    (Hoffmann Sec. 3.1, App. D); N_opt ∝ C^a and D_opt ∝ C^b are then fitted through the winners.
    With ``exclude_edge_sizes`` the budgets won by the smallest or the largest model size are left
    out: there the optimum may lie outside the sampled sizes, and keeping them flattens the slope.
    """
    if len(curves) < 2:
        raise ValueError(f"Approach 1 needs runs of at least 2 model sizes, got {len(curves)} runs")
    per_token = flops_per_token or _six_n
    flops, table = _envelope_grid(curves, n_flops, smoothing_sigma, per_token)
    sizes = np.array([c.n_params for c in curves], dtype=float)
    winner = table.argmin(0)
    keep = np.isfinite(table.min(0))
    if exclude_edge_sizes:
        keep &= (sizes[winner] > sizes.min()) & (sizes[winner] < sizes.max())
    n_opt = sizes[winner][keep]
    c = flops[keep]
    d_opt = c / per_token(n_opt)
    n_fit, d_fit = fit_power_law(c, n_opt), fit_power_law(c, d_opt)
    return EnvelopeFit(
        flops=c,
        n_opt=n_opt,
        d_opt=d_opt,
        loss=table.min(0)[keep],
        n_fit=n_fit,
        d_fit=d_fit,
        frontier=_frontier(n_fit, d_fit),
    )


# ---------------------------------------------------------------------------------------------
# Approach 2: IsoFLOP profiles (Hoffmann Sec. 3.2)
# ---------------------------------------------------------------------------------------------


class IsoFlopWarning(UserWarning):
    """An IsoFLOP profile whose minimum is not bracketed by the sampled model sizes."""


@dataclass(frozen=True)
class IsoFlopProfile:
    """One budget's parabola loss = c0 + c1 x + c2 x^2 in x = log N, and its vertex (Sec. 3.2).

    ``interior`` is False when the minimum is at or beyond the sampled sizes; such a budget is
    reported but left out of the power-law fits.
    """

    flops: float
    n_opt: float
    d_opt: float
    loss_opt: float
    coefficients: tuple[float, float, float]
    n_min: float
    n_max: float
    interior: bool


@dataclass(frozen=True)
class IsoFlopFit:
    """Approach 2 (Hoffmann Sec. 3.2): every profile and the power laws through the interior ones."""

    profiles: tuple[IsoFlopProfile, ...]
    n_fit: PowerLaw
    d_fit: PowerLaw
    frontier: Frontier


def _profile(flops: float, n_params: np.ndarray, loss: np.ndarray, per_token: Callable = _six_n) -> IsoFlopProfile:
    """Fit one budget's parabola; warn (:class:`IsoFlopWarning`) if its minimum is not interior.

    Not interior means: the parabola opens downward, its vertex is at or outside [N_min, N_max], or
    the lowest observed loss is at the smallest or largest size (the minimum is not bracketed).
    """
    x = np.log(n_params)
    c2, c1, c0 = np.polyfit(x, loss, 2)
    vertex = -c1 / (2.0 * c2) if c2 > 0 else (x.max() if c1 < 0 else x.min())
    lowest = x[np.argmin(loss)]
    interior = bool(c2 > 0 and x.min() < vertex < x.max() and x.min() < lowest < x.max())
    n_opt = float(np.exp(vertex))
    if not interior:
        warnings.warn(
            f"IsoFLOP budget C={flops:.3g}: the loss minimum (parabola vertex N={n_opt:.3g}, lowest "
            f"observed loss at N={np.exp(lowest):.3g}) is at or beyond the edge of the sampled sizes "
            f"[{n_params.min():.3g}, {n_params.max():.3g}]; this budget is left out of the power-law "
            "fit. Sample sizes on both sides of the optimum.",
            IsoFlopWarning,
            stacklevel=3,
        )
    return IsoFlopProfile(
        flops=flops,
        n_opt=n_opt,
        d_opt=float(flops / per_token(n_opt)),
        loss_opt=float(c0 + c1 * vertex + c2 * vertex**2),
        coefficients=(float(c0), float(c1), float(c2)),
        n_min=float(n_params.min()),
        n_max=float(n_params.max()),
        interior=interior,
    )


def isoflop_profiles(
    budget: np.ndarray, n_params: np.ndarray, loss: np.ndarray, flops_per_token: Callable | None = None
) -> tuple[IsoFlopProfile, ...]:
    """Approach 2's first step: a parabola in log N per FLOP budget (Sec. 3.2), edge minima flagged.

    ``budget`` is each run's nominal budget (runs with equal values form one profile; each needs
    three or more sizes); D_opt = C / (6 N_opt), or C / flops_per_token(N_opt) when given. A budget
    whose minimum is not interior warns (:class:`IsoFlopWarning`) and is marked ``interior=False``.
    """
    budget, n_params, loss = (np.asarray(v, dtype=float).ravel() for v in (budget, n_params, loss))
    if not (len(budget) == len(n_params) == len(loss)):
        raise ValueError("budget, n_params and loss must have the same length")
    profiles = []
    for c in np.unique(budget):
        at = budget == c
        if len(np.unique(n_params[at])) < 3:
            raise ValueError(f"IsoFLOP budget C={c:.3g} has {at.sum()} runs; a parabola needs 3 sizes")
        profiles.append(_profile(float(c), n_params[at], loss[at], flops_per_token or _six_n))
    return tuple(profiles)


ISOFLOP_MIN_BUDGETS = 2
"""Interior IsoFLOP profiles the power law of Approach 2 needs."""


def isoflop_frontier(profiles: Sequence[IsoFlopProfile]) -> IsoFlopFit:
    """Approach 2's second step: N_opt ∝ C^a, D_opt ∝ C^b through the interior profiles (Sec. 3.2).

    Raises if fewer than :data:`ISOFLOP_MIN_BUDGETS` profiles are interior.
    """
    inner = [p for p in profiles if p.interior]
    if len(inner) < ISOFLOP_MIN_BUDGETS:
        raise ValueError(
            f"only {len(inner)} IsoFLOP budgets have an interior minimum; need at least {ISOFLOP_MIN_BUDGETS}"
        )
    c = np.array([p.flops for p in inner])
    n_fit = fit_power_law(c, np.array([p.n_opt for p in inner]))
    d_fit = fit_power_law(c, np.array([p.d_opt for p in inner]))
    return IsoFlopFit(profiles=tuple(profiles), n_fit=n_fit, d_fit=d_fit, frontier=_frontier(n_fit, d_fit))


def fit_isoflop(
    budget: np.ndarray, n_params: np.ndarray, loss: np.ndarray, flops_per_token: Callable | None = None
) -> IsoFlopFit:
    """Approach 2: a parabola in log N per FLOP budget, then N_opt ∝ C^a, D_opt ∝ C^b (Sec. 3.2).

    :func:`isoflop_profiles` then :func:`isoflop_frontier`: non-interior profiles are flagged and excluded.
    """
    return isoflop_frontier(isoflop_profiles(budget, n_params, loss, flops_per_token))


# ---------------------------------------------------------------------------------------------
# Projections (Hoffmann Table 3)
# ---------------------------------------------------------------------------------------------


def projection_table(frontier: Frontier, n_params: Sequence[float] = TABLE3_SIZES) -> pd.DataFrame:
    """Hoffmann's Table 3 for any frontier: the budget at which each size is optimal, and its tokens.

    Columns: parameters, flops (Eq. 4 solved for C), gopher_units (flops / 5.76e23, Table 3's third
    column), tokens (D_opt at that budget) and tokens_per_parameter (about 20 in the paper).
    """
    n = np.asarray(n_params, dtype=float)
    flops = frontier.flops_for(n)
    tokens = frontier.d_opt(flops)
    return pd.DataFrame(
        {
            "parameters": n,
            "flops": flops,
            "gopher_units": flops / GOPHER_FLOPS,
            "tokens": tokens,
            "tokens_per_parameter": tokens / n,
        }
    )
