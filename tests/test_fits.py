"""Tests of scalingbook.analysis.fits: Chinchilla Approaches 1-3 (Hoffmann et al. 2022) and Epoch's refit."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from scipy.optimize import minimize

from scalingbook.analysis import fits
from scalingbook.chapters import performance
from scalingbook.lab import epoch_data

PLANTED = fits.LossParams(E=1.7, A=400.0, B=900.0, alpha=0.36, beta=0.31)


def _surface_runs(params: fits.LossParams, n_runs: int, noise: float, seed: int):
    """Runs spread over 3 decades of N and 3.5 of D/N, with multiplicative noise on the loss."""
    rng = np.random.default_rng(seed)
    n = 10 ** rng.uniform(7.5, 10.5, n_runs)
    d = n * 10 ** rng.uniform(-1.0, 2.5, n_runs)
    return n, d, params.predict(n, d) * np.exp(rng.normal(0.0, noise, n_runs))


@pytest.fixture(scope="module")
def epoch_runs():
    """Epoch's 240 runs, from the copy shipped in data/reference/."""
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv(epoch_data.ENV_VAR, raising=False)
        return epoch_data.drop_highest_losses(epoch_data.load_epoch_data(download=False))


@pytest.fixture(scope="module")
def epoch_fit(epoch_runs):
    return fits.fit_parametric(epoch_runs["n_params"], epoch_runs["tokens"], epoch_runs["loss"])


# --- the objective and the optimiser -------------------------------------------------------------


def test_initial_grid_is_hoffmanns_4500_points():
    grid = fits.initial_grid()
    assert grid.shape == (4500, 5)
    assert len(np.unique(grid, axis=0)) == 4500
    for column, values in zip(
        grid.T, ([0, 5, 10, 15, 20, 25],) * 2 + ([-1, -0.5, 0, 0.5, 1],) + ([0, 0.5, 1, 1.5, 2],) * 2
    ):
        np.testing.assert_array_equal(np.unique(column), values)


def test_objective_gradient_matches_finite_differences_and_numpy():
    n, d, loss = _surface_runs(PLANTED, 50, 0.01, seed=1)
    logs = [np.log(v) for v in (n, d, loss)]
    theta = np.array([5.5, 7.0, 0.4, 0.3, 0.35])
    value, grad = fits.huber_objective_np(theta, *logs)
    value_t, grad_t = fits.huber_objective(
        torch.tensor(theta)[None], *(torch.tensor(v) for v in logs), torch.ones(50, dtype=torch.float64)
    )
    assert value == pytest.approx(float(value_t[0]), rel=1e-12)
    np.testing.assert_allclose(grad, grad_t[0].numpy(), rtol=1e-10, atol=1e-15)
    step = 1e-6 * np.eye(5)
    numeric = [
        (fits.huber_objective_np(theta + h, *logs)[0] - fits.huber_objective_np(theta - h, *logs)[0]) / 2e-6
        for h in step
    ]
    np.testing.assert_allclose(grad, numeric, rtol=1e-5, atol=1e-9)


def _rosenbrock(x: torch.Tensor, rows: torch.Tensor):
    x = x.detach().requires_grad_(True)
    f = (100 * (x[:, 1:] - x[:, :-1] ** 2) ** 2 + (1 - x[:, :-1]) ** 2).sum(1)
    return f.detach(), torch.autograd.grad(f.sum(), x)[0]


def test_batched_lbfgs_starts_are_independent():
    """A start's path does not depend on which other starts share the batch."""
    starts = torch.tensor(np.random.default_rng(0).normal(0, 2, (12, 4)))
    together = fits.batched_lbfgs(_rosenbrock, starts)
    alone = fits.batched_lbfgs(_rosenbrock, starts[3:4])
    np.testing.assert_array_equal(together.x[3], alone.x[0])
    assert together.n_iter[3] == alone.n_iter[0]
    assert together.converged.all()


def test_batched_lbfgs_matches_scipy_on_a_few_starts():
    n, d, loss = _surface_runs(PLANTED, 120, 0.01, seed=2)
    logs = tuple(np.log(v) for v in (n, d, loss))
    starts = np.vstack([fits.HOFFMANN_UNROUNDED.theta, [6.0, 7.0, 0.5, 0.5, 0.5], [5.0, 5.0, 0.0, 0.5, 0.5]])
    batched = fits.fit_parametric(n, d, loss, init=starts, ftol=0.0, gtol=1e-9)
    result = fits.batched_lbfgs(
        fits._objective(*(torch.tensor(v) for v in logs), torch.ones(120, dtype=torch.float64), fits.HUBER_DELTA),
        torch.tensor(starts),
        ftol=0.0,
        gtol=1e-9,
    )
    for x0, x, f in zip(starts, result.x, result.f):
        ref = minimize(
            fits.huber_objective_np,
            x0,
            args=logs,
            jac=True,
            method="L-BFGS-B",
            options={"ftol": 0.0, "gtol": 1e-9, "maxiter": 5000},
        )
        assert f == pytest.approx(ref.fun, rel=1e-7)
        np.testing.assert_allclose(x, ref.x, atol=2e-3)
    assert batched.objective == pytest.approx(result.f.min(), rel=1e-12)


# --- Approach 3 -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def planted_fit():
    n, d, loss = _surface_runs(PLANTED, 200, 0.003, seed=3)
    return (n, d, loss), fits.fit_parametric(n, d, loss)


def test_parametric_fit_recovers_planted_parameters(planted_fit):
    _, fit = planted_fit
    p = fit.params
    assert p.E == pytest.approx(PLANTED.E, rel=0.01)
    assert (p.A, p.B) == pytest.approx((PLANTED.A, PLANTED.B), rel=0.15)
    assert (p.alpha, p.beta) == pytest.approx((PLANTED.alpha, PLANTED.beta), abs=0.01)
    assert (p.a, p.b) == pytest.approx((PLANTED.a, PLANTED.b), abs=0.01)
    assert fit.n_starts == 4500 and fit.n_points == 200


def test_bootstrap_intervals_cover_the_planted_exponents(planted_fit):
    (n, d, loss), fit = planted_fit
    boot = fits.bootstrap_parametric(n, d, loss, fit=fit, n_boot=200, seed=0)
    assert len(boot.samples) == 200 and boot.n_unconverged == 0
    summary = boot.summary()
    assert list(summary.index) == ["E", "A", "B", "alpha", "beta", "a", "b"]
    for name in ("E", "alpha", "beta", "a", "b"):
        low, high = boot.interval(name)
        assert low < getattr(fit.params, name) < high
        assert low < getattr(PLANTED, name) < high, name
    np.testing.assert_allclose(boot.samples["a"] + boot.samples["b"], 1.0)


# --- Approach 3 on Epoch's data (Besiroglu et al. 2024) --------------------------------------------


def test_epoch_refit_lands_in_epochs_95_percent_intervals(epoch_runs, epoch_fit):
    assert len(epoch_runs) == 240
    p = epoch_fit.params
    for name, (low, high) in fits.EPOCH_CI95.items():
        assert low < getattr(p, name) < high, name
    # Epoch's exact replication (L-BFGS-B over the same grid): A 477.84, B 2143.86, E 1.8172.
    assert (p.A, p.B, p.E) == pytest.approx((477.84, 2143.86, 1.8172), rel=2e-3)
    assert (p.alpha, p.beta) == pytest.approx((0.3473, 0.3672), abs=2e-4)
    assert epoch_fit.frontier().tokens_per_parameter(6 * 70e9 * 1.4e12) == pytest.approx(17.9, abs=0.3)
    # Not a tautology: Hoffmann's own values fall outside Epoch's intervals.
    assert not fits.EPOCH_CI95["B"][0] < fits.HOFFMANN_UNROUNDED.B < fits.EPOCH_CI95["B"][1]


def test_averaged_huber_loss_stops_at_its_start(epoch_runs):
    """Epoch's diagnosis: averaging shrinks the gradient n-fold, so the gradient test ends the fit at once.

    Both fits start at Hoffmann's values and stop on the gradient alone (ftol=0, like the BFGS that
    Epoch ran); with L-BFGS-B's default ftol the mean stops after 2-3 iterations as well.
    """
    columns = (epoch_runs["n_params"], epoch_runs["tokens"], epoch_runs["loss"])
    start = fits.HOFFMANN_UNROUNDED
    mean = fits.fit_parametric(*columns, init=start.theta, reduction="mean", ftol=0.0)
    summed = fits.fit_parametric(*columns, init=start.theta, reduction="sum", ftol=0.0)
    default_mean = fits.fit_parametric(*columns, init=start.theta, reduction="mean")
    assert mean.params.B == pytest.approx(start.B, rel=0.01)
    assert default_mean.n_iter <= 5 and default_mean.params.B == pytest.approx(start.B, rel=0.01)
    assert summed.params.B == pytest.approx(2143.9, rel=0.01)
    assert summed.objective < 0.99 * mean.objective * len(epoch_runs)


# --- the frontier and Table 3 -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "n_opt", "tokens_per_param"),
    [(fits.HOFFMANN_UNROUNDED, 40.4e9, 59), (fits.HOFFMANN_ROUNDED, 32.2e9, 93), (fits.EPOCH_ESTIMATE, 72.2e9, 18.4)],
)
def test_frontier_at_gophers_budget_matches_papers_md(params, n_opt, tokens_per_param):
    frontier = params.frontier()
    assert frontier.n_opt(fits.GOPHER_FLOPS) == pytest.approx(n_opt, rel=0.01)
    assert frontier.tokens_per_parameter(fits.GOPHER_FLOPS) == pytest.approx(tokens_per_param, rel=0.02)
    assert frontier.a + frontier.b == pytest.approx(1.0)


def test_projection_table_is_compute_optimal_and_spends_6nd():
    frontier = fits.EPOCH_ESTIMATE.frontier()
    table = fits.projection_table(frontier)
    assert list(table.columns) == ["parameters", "flops", "gopher_units", "tokens", "tokens_per_parameter"]
    np.testing.assert_allclose(table["flops"], 6 * table["parameters"] * table["tokens"], rtol=1e-12)
    np.testing.assert_allclose(frontier.n_opt(table["flops"]), table["parameters"], rtol=1e-12)
    np.testing.assert_allclose(table["gopher_units"], table["flops"] / 5.76e23)


# --- Approach 1 -----------------------------------------------------------------------------------


def test_envelope_recovers_planted_frontier_exponent():
    sizes = np.geomspace(1e7, 1e10, 25)
    rng = np.random.default_rng(4)
    curves = []
    for n in sizes:
        tokens = np.geomspace(0.3 * n, 300 * n, 400)
        loss = PLANTED.predict(n, tokens) + rng.normal(0, 1e-3, len(tokens))
        curves.append(fits.LossCurve(n_params=float(n), tokens=tokens, loss=loss))
    fit = fits.fit_envelope(curves)
    assert fit.frontier.a == pytest.approx(PLANTED.a, abs=0.02)
    assert fit.frontier.b == pytest.approx(PLANTED.b, abs=0.02)
    mid = np.sqrt(fit.flops.min() * fit.flops.max())
    assert fit.frontier.n_opt(mid) == pytest.approx(float(PLANTED.frontier().n_opt(mid)), rel=0.15)
    assert set(fit.n_opt) <= set(sizes[1:-1])


# --- Approach 2 -----------------------------------------------------------------------------------

TRUE = fits.Frontier(G=0.3, a=0.5, b=0.5)
BUDGETS = np.array([6e18, 1e19, 3e19, 1e20, 3e20, 1e21])
OFFSETS = np.linspace(-1.0, 1.0, 9)  # sizes around N_opt, in ln N


def _parabola_runs(budgets, offsets=OFFSETS, curvature=0.05):
    """Exact parabolas in log N with their minimum at the planted N_opt(C), two decades wide."""
    rows = [
        (c, TRUE.n_opt(c) * np.exp(o), 2.0 + curvature * o * o + 0.1 * np.log10(c)) for c in budgets for o in offsets
    ]
    return tuple(np.array(column) for column in zip(*rows))


def test_isoflop_recovers_planted_optimum():
    fit = fits.fit_isoflop(*_parabola_runs(BUDGETS))
    for profile in fit.profiles:
        assert profile.interior
        assert profile.n_opt == pytest.approx(float(TRUE.n_opt(profile.flops)), rel=1e-8)
    assert fit.frontier.a == pytest.approx(0.5, abs=1e-8)
    assert fit.frontier.G == pytest.approx(0.3, rel=1e-6)


def test_isoflop_recovers_exponent_from_a_loss_surface():
    budget, n, loss = [], [], []
    for c in BUDGETS:
        sizes = PLANTED.frontier().n_opt(c) * np.geomspace(0.1, 10, 9)
        budget += [c] * 9
        n += list(sizes)
        loss += list(PLANTED.predict(sizes, c / (6 * sizes)))
    fit = fits.fit_isoflop(np.array(budget), np.array(n), np.array(loss))
    assert fit.frontier.a == pytest.approx(PLANTED.a, abs=0.02)


def test_isoflop_flags_and_excludes_a_grid_edge_minimum():
    budget, n, loss = _parabola_runs(BUDGETS)
    edge_budget, edge_n, edge_loss = _parabola_runs([3e21], offsets=np.linspace(-2.0, -0.2, 7))
    with pytest.warns(fits.IsoFlopWarning, match=r"C=3e\+21.*edge of the sampled sizes"):
        fit = fits.fit_isoflop(
            np.concatenate([budget, edge_budget]), np.concatenate([n, edge_n]), np.concatenate([loss, edge_loss])
        )
    flagged = [p for p in fit.profiles if not p.interior]
    assert [p.flops for p in flagged] == [3e21]
    assert fit.frontier.a == pytest.approx(0.5, abs=1e-8)


def test_fit_benchmark_reports_both_fits_as_json(tmp_path):
    """A small run of the benchmark; with no CSV anywhere (no shipped copy either) it uses synthetic runs."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(epoch_data.CACHE_ENV_VAR, str(tmp_path))
        mp.delenv(epoch_data.ENV_VAR, raising=False)
        mp.setattr(epoch_data, "SHIPPED_CSV", tmp_path / "not-shipped.csv")
        report = performance.fit_benchmark(n_starts=12)
    assert report["data"] == "synthetic" and report["n_starts"] == 12
    assert report["speedup"] == pytest.approx(report["scipy_seconds"] / report["batched_seconds"])
    assert report["batched_objective"] <= report["scipy_objective"] * (1 + 1e-6)
    assert json.loads(json.dumps(report))["machine"]["device"] == "cpu"
