"""The Chinchilla experiment at small scale: an IsoFLOP sweep and Approach-1 runs, trained and fitted.

Hoffmann et al. (2022, arXiv 2203.15556) find the compute-optimal model size three ways (Sec. 3). This
module is the experiment behind the book's Chinchilla chapter:

* :func:`make_design` lays out the runs. IsoFLOP (Sec. 3.2): several FLOP budgets C, at each a window
  of model sizes N around the expected optimum, each trained on D = C / (6N) tokens with its cosine
  cycle matched to D. Approach 1 (Sec. 3.1): per model size, four cosine horizons over a 16x range
  of tokens.
* :func:`train_design` trains them with :func:`scalingbook.train.train`, one population per model
  size whose members differ only in their ``steps`` horizon, and stores the loss curves through the
  results store, keyed by the design, so a rerun reads them back.
* :func:`analyse` fits the three approaches of :mod:`scalingbook.fits` and sets the fitted E beside
  the training language's exact loss floor (:meth:`MarkovSource.irreducible_loss`).

The training language is a random Markov source (:mod:`scalingbook.languages`), or a byte-level text
file when ``corpus_path`` is set (then the floor is unknown).
"""

from __future__ import annotations

import hashlib
import warnings
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from scalingbook import fits
from scalingbook.cpu import torch_threads
from scalingbook.languages import CorpusSource, MarkovSource
from scalingbook.model import ModelConfig, param_count
from scalingbook.results import Result, ResultStore
from scalingbook.tasks import LanguageModelling
from scalingbook.train import Member, TrainConfig, train

ENVELOPE_TOKEN_RATIOS = (1.0, 16 ** (1 / 3), 16 ** (2 / 3), 16.0)
"""Approach 1's four cosine horizons per size, spanning 16x in tokens (Hoffmann Sec. 3.1)."""


@dataclass(frozen=True)
class Design:
    """Everything that decides what the sweep computes; its dict keys the stored results.

    Model sizes come from a ladder of widths (``widths``, d_model) at fixed depth; each budget takes
    ``sizes_per_budget`` consecutive widths centred on the size that would give ``tokens_per_param``
    tokens per parameter. ``envelope_widths`` get Approach 1's horizons, from
    ``envelope_tokens_per_param`` tokens per parameter up 16x.
    """

    budgets: tuple[float, ...]
    widths: tuple[int, ...]
    sizes_per_budget: int
    envelope_widths: tuple[int, ...]
    n_layers: int = 1
    context: int = 32
    batch_size: int = 16
    lr: float = 1e-2
    warmup_steps: int = 5
    log_every: int = 5
    min_steps: int = 20
    tokens_per_param: float = 20.0
    envelope_tokens_per_param: float = 2.5
    vocab_size: int = 64
    order: int = 1
    concentration: float = 0.2
    source_seed: int = 0
    corpus_path: str = ""
    seed: int = 0

    @property
    def tokens_per_step(self) -> int:
        """Loss tokens per member per step: every position of every sequence (C = 6ND's D)."""
        return self.batch_size * self.context

    def source(self) -> MarkovSource | CorpusSource:
        """The training language: the Markov source, or the byte-level corpus at ``corpus_path``."""
        if self.corpus_path:
            return CorpusSource(Path(self.corpus_path))
        return MarkovSource(self.vocab_size, self.order, self.concentration, self.source_seed)

    def task(self) -> LanguageModelling:
        return LanguageModelling(self.source(), self.context)

    def model_config(self, width: int) -> ModelConfig:
        """A member of width ``width``: rotary positions (no position table), heads of 16 or fewer."""
        vocab = 256 if self.corpus_path else self.vocab_size
        return ModelConfig(
            d_model=width, n_layers=self.n_layers, n_heads=max(1, width // 16), positional="rotary",
            seq_len=self.context + 1, vocab_size=vocab,
        )

    def n_params(self, width: int) -> int:
        """N of Hoffmann et al.: all parameters, embeddings included (Sec. 3.1)."""
        return param_count(self.model_config(width))

    def steps_for(self, tokens: float) -> int:
        """Steps that train ``tokens`` tokens, rounded to whole log intervals (the curve ends there).

        Raises if that is fewer than ``min_steps``: a run shorter than its warmup measures nothing.
        """
        steps = int(self.log_every * max(1, round(tokens / self.tokens_per_step / self.log_every)))
        if steps < self.min_steps:
            raise ValueError(
                f"{tokens:.3g} tokens is {steps} steps, fewer than min_steps={self.min_steps}; "
                "raise the smallest budget or drop the largest widths"
            )
        return steps

    def key(self) -> dict:
        """The stored results' key: the design, with a corpus named by its content, not its path.

        With ``corpus_path`` set, ``corpus_path`` gives way to ``corpus``: the SHA-256 and size of
        the file's bytes, so a corpus edited in place is trained afresh and a copy elsewhere is not.
        A design without a corpus keeps exactly the key it always had (``corpus_path: ""``), so
        stored Markov-source results stay where they are.
        """
        key = {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(self).items()}
        if self.corpus_path:
            data = Path(self.corpus_path).read_bytes()
            del key["corpus_path"]
            key["corpus"] = {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
        return key


CORPUS_TOKENS_PER_PARAM = 50.0
"""Where a corpus design centres each budget's sizes: byte-level text (256 symbols, so embeddings weigh
more) has its IsoFLOP minima at more tokens per parameter than the Markov source; 36-50 were measured
on a 300 KB text corpus (this repository's pages and source) at 2e9-3e10 FLOPs."""
CORPUS_BUDGETS = {"quick": (5e9, 8e10), "full": (10**13.5, 10**15.5)}
"""IsoFLOP budgets of a corpus design per profile (5 quick, 9 full, log-spaced), unless the corpus caps them."""
CORPUS_MAX_EPOCHS = 4.0
"""The largest budget's centre run reads the corpus at most this many times (repeated text stops
counting as new data beyond a few epochs, Muennighoff et al. 2023)."""


def corpus_budgets(profile: str, n_bytes: int) -> tuple[float, ...]:
    """IsoFLOP budgets for a byte-level corpus of ``n_bytes``: the profile's range, capped by the corpus.

    A budget C centres its sizes on N = sqrt(C / (6 k)) with D = k N tokens, k =
    :data:`CORPUS_TOKENS_PER_PARAM`; the largest budget is cut to the C whose D is
    :data:`CORPUS_MAX_EPOCHS` passes over the corpus. Raises if that leaves less than half a decade.
    """
    low, high = CORPUS_BUDGETS[profile]
    cap = 6.0 * (CORPUS_MAX_EPOCHS * n_bytes) ** 2 / CORPUS_TOKENS_PER_PARAM
    top = min(high, cap)
    if top < low * 10**0.5:
        need = int(np.ceil(np.sqrt(low * 10**0.5 * CORPUS_TOKENS_PER_PARAM / 6.0) / CORPUS_MAX_EPOCHS))
        raise ValueError(
            f"corpus_path: {n_bytes:,} bytes is too small for the {profile} profile's budgets (from {low:.2g} FLOPs); "
            f"it needs at least {need:,} bytes, or give smaller budgets"
        )
    return tuple(float(c) for c in np.logspace(np.log10(low), np.log10(top), 5 if profile == "quick" else 9))


def make_design(profile: str, *, budgets: list[float] | None = None, corpus_path: str = "", **source) -> Design:
    """The sweep of ``profile``: ``quick`` trains on a CPU in about a minute or two, ``full`` is for a GPU.

    Quick: 5 budgets over 1.5 decades (5e8 to 1.6e10 FLOPs), 7 sizes each from 1.3k to 31k
    parameters (one layer), 4 Approach-1 horizons for 5 sizes: about 33,000 member-steps, a
    minute or two on one CPU thread. Full: 9 budgets over 2 decades, as
    Hoffmann's 9 (Sec. 3.2), 9 sizes each of a 4-layer model from 0.2M to 13M parameters on a
    richer source (order 2, 128 symbols). ``source`` overrides vocab_size, order, concentration or
    source_seed. With ``corpus_path``, sizes are centred on :data:`CORPUS_TOKENS_PER_PARAM` tokens
    per parameter and, unless ``budgets`` are given, the budgets come from :func:`corpus_budgets`.
    """
    if profile == "quick":
        design = Design(
            budgets=tuple(float(c) for c in np.logspace(np.log10(5e8), np.log10(5e8) + 1.5, 5)),
            widths=(8, 10, 12, 14, 16, 20, 24, 28, 32, 40, 48),
            sizes_per_budget=7,
            envelope_widths=(8, 12, 16, 24, 32),
        )
    elif profile == "full":
        design = Design(
            budgets=tuple(float(c) for c in np.logspace(13.5, 15.5, 9)),
            widths=(48, 64, 80, 96, 128, 160, 192, 256, 320, 384, 512, 640, 768, 1024),
            sizes_per_budget=9,
            envelope_widths=(64, 96, 128, 192, 256, 384),
            n_layers=4, context=128, batch_size=64, lr=3e-3, warmup_steps=20, log_every=10, min_steps=50,
            vocab_size=128, order=2,
        )
    else:
        raise ValueError(f"profile must be 'quick' or 'full', got {profile!r}")
    changes: dict = {"corpus_path": corpus_path, **source}
    if corpus_path:
        ratio = CORPUS_TOKENS_PER_PARAM / design.tokens_per_param
        changes |= {"tokens_per_param": CORPUS_TOKENS_PER_PARAM,
                    "envelope_tokens_per_param": design.envelope_tokens_per_param * ratio}
        if not budgets:
            changes["budgets"] = corpus_budgets(profile, Path(corpus_path).stat().st_size)
    if budgets:
        changes["budgets"] = tuple(float(c) for c in sorted(budgets))
    return replace(design, **changes)


def budget_note(design: Design, given: bool) -> str:
    """A sentence for the chapter on where the budgets came from, when a corpus set them; else empty."""
    if not design.corpus_path or given:
        return ""
    size = Path(design.corpus_path).stat().st_size
    return (f" With a corpus, the budgets are chosen from its size ({size:,} bytes; `chinchilla.corpus_budgets`): "
            f"the profile's range, capped where the largest budget's runs would read the corpus more than "
            f"{CORPUS_MAX_EPOCHS:g} times, and sizes centred on {CORPUS_TOKENS_PER_PARAM:g} tokens per parameter.")


def isoflop_runs(design: Design) -> pd.DataFrame:
    """Approach 2's runs (Hoffmann Sec. 3.2): per budget, ``sizes_per_budget`` sizes, D = C / (6N).

    The window of widths is centred on the ladder size nearest sqrt(C / (6 tokens_per_param)), the
    optimum if tokens per parameter were ``tokens_per_param``, and clipped to the ladder. Each run's
    cosine horizon is its step count, so the schedule is matched to its tokens.
    """
    sizes = np.array([design.n_params(w) for w in design.widths], dtype=float)
    k = design.sizes_per_budget
    if k > len(sizes):
        raise ValueError(f"sizes_per_budget={k} exceeds the {len(sizes)} widths of the ladder")
    rows = []
    for budget in design.budgets:
        guess = np.sqrt(budget / (6.0 * design.tokens_per_param))
        centre = int(np.argmin(np.abs(np.log(sizes / guess))))
        lo = min(max(0, centre - k // 2), len(sizes) - k)
        for width, n in zip(design.widths[lo : lo + k], sizes[lo : lo + k]):
            steps = design.steps_for(budget / (6.0 * n))
            rows.append((budget, width, n, steps))
    return _runs_frame(design, rows)


def envelope_runs(design: Design) -> pd.DataFrame:
    """Approach 1's runs (Hoffmann Sec. 3.1): per size, 4 cosine horizons over 16x in tokens.

    The shortest horizon is ``envelope_tokens_per_param`` tokens per parameter, or ``min_steps``
    steps if that is longer.
    """
    rows = []
    for width in design.envelope_widths:
        n = float(design.n_params(width))
        shortest = max(design.envelope_tokens_per_param * n, design.min_steps * design.tokens_per_step)
        for ratio in ENVELOPE_TOKEN_RATIOS:
            rows.append((np.nan, width, n, design.steps_for(shortest * ratio)))
    return _runs_frame(design, rows)


def _runs_frame(design: Design, rows: list) -> pd.DataFrame:
    runs = pd.DataFrame(rows, columns=["budget", "width", "n_params", "steps"])
    runs["tokens"] = runs["steps"] * design.tokens_per_step
    runs["flops"] = 6.0 * runs["n_params"] * runs["tokens"]
    runs.insert(0, "run", np.arange(len(runs)))
    return runs


def member_steps(runs: pd.DataFrame) -> int:
    """Member-steps the trainer computes: each size's population runs to its longest horizon."""
    by_width = runs.groupby("width")["steps"]
    return int((by_width.size() * by_width.max()).sum())


def training_flops(design: Design, runs: pd.DataFrame) -> float:
    """6ND FLOPs the trainer spends on ``runs``, members idling past their horizon included."""
    by_width = runs.groupby("width").agg(n=("n_params", "first"), m=("steps", "size"), s=("steps", "max"))
    return float((6.0 * by_width.n * by_width.m * by_width.s * design.tokens_per_step).sum())


def train_runs(name: str, design: Design, runs: pd.DataFrame, profile: str, device: str = "cpu") -> Result:
    """Train ``runs`` (or read them back) and return their loss curves as a stored :class:`Result`.

    One population per width; its members are the width's runs, each with seed ``design.seed +
    run`` and its own cosine horizon (Hoffmann App. B: cycle length matched to the tokens). The
    table has one row per logged point: run, budget, width, n_params, steps, tokens, flops, step,
    loss (mean training loss over the ``log_every`` steps before ``step``). On the CPU, torch runs
    on one thread meanwhile (:func:`scalingbook.cpu.torch_threads`).
    """
    store = ResultStore.for_profile(profile)
    key = {"design": design.key(), "runs": runs[["width", "steps"]].to_dict("list")}
    if store.exists(name, key):
        return store.read(name, key)
    started = datetime.now(UTC)
    task = design.task()
    with torch_threads(1 if device == "cpu" else None):
        tables = [_train_width(design, task, int(width), group, device) for width, group in runs.groupby("width")]
    table = pd.concat(tables, ignore_index=True).sort_values(["run", "step"], ignore_index=True)
    return store.write(name, key, table, profile=profile, device=device, started=started)


def _train_width(design: Design, task: LanguageModelling, width: int, group: pd.DataFrame, device: str) -> pd.DataFrame:
    """One population: the runs of one width, each member with its own cosine horizon."""
    members = [Member(seed=design.seed + int(r), lr=design.lr, steps=int(s)) for r, s in zip(group.run, group.steps)]
    cfg = TrainConfig(
        steps=int(group.steps.max()), batch_size=design.batch_size, warmup_steps=design.warmup_steps,
        log_every=design.log_every, device=device, progress=False,
    )
    curves = train(design.model_config(width), members, task, cfg).losses()
    curves["run"] = group.run.to_numpy()[curves.member.to_numpy()]
    return curves.drop(columns=["member", "seed"]).merge(group, on="run")


def final_losses(curves: pd.DataFrame) -> pd.DataFrame:
    """One row per run: its last logged loss, at the end of its cosine cycle."""
    return curves.sort_values("step").groupby("run", as_index=False).last()


def loss_curves(curves: pd.DataFrame) -> list[fits.LossCurve]:
    """The runs' curves as :class:`fits.LossCurve`, tokens = steps x tokens per step."""
    per_step = curves["tokens"] / curves["steps"]
    table = curves.assign(seen=curves["step"] * per_step)
    return [
        fits.LossCurve(n_params=float(g.n_params.iloc[0]), tokens=g.seen.to_numpy(float), loss=g.loss.to_numpy(float))
        for _, g in table.sort_values("step").groupby("run")
    ]


@dataclass(frozen=True, eq=False)
class Analysis:
    """The three approaches on one sweep, and the truth they can be checked against."""

    isoflop: fits.IsoFlopFit
    edge_warnings: tuple[str, ...]
    envelope: fits.EnvelopeFit
    parametric: fits.ParametricFit
    bootstrap: fits.BootstrapResult | None
    floor: float | None
    finals: pd.DataFrame

    def exponents(self) -> pd.DataFrame:
        """Table 2's rows for our sweep: a and b per approach, with the bootstrap range where there is one."""
        rows = [
            ("1. Minimum over training curves", self.envelope.frontier.a, self.envelope.frontier.b, None, None),
            ("2. IsoFLOP profiles", self.isoflop.frontier.a, self.isoflop.frontier.b, None, None),
        ]
        p = self.parametric.params
        ranges = (self.bootstrap.interval("a"), self.bootstrap.interval("b")) if self.bootstrap else (None, None)
        rows.append(("3. Parametric modelling of the loss", p.a, p.b, *ranges))
        return pd.DataFrame(rows, columns=["approach", "a", "b", "a_range", "b_range"])


def analyse(
    isoflop: pd.DataFrame, envelope: pd.DataFrame, design: Design, *, n_boot: int = 200, seed: int = 0
) -> Analysis:
    """Approaches 1-3 (Hoffmann Sec. 3.1-3.3) on stored curves, and the source's exact floor.

    Approach 3 fits the final losses of every run, IsoFLOP and Approach 1 together, as Hoffmann did
    (App. D.2), and is bootstrapped over runs with ``n_boot`` resamples (Epoch Sec. 3); 0 skips it.
    IsoFLOP budgets whose minimum is at the edge of their sizes are flagged and left out of Approach 2.
    """
    iso_final = final_losses(isoflop)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", fits.IsoFlopWarning)
        iso_fit = fits.fit_isoflop(iso_final.budget, iso_final.n_params, iso_final.loss)
    edge = tuple(str(w.message) for w in caught if issubclass(w.category, fits.IsoFlopWarning))
    env_fit = fits.fit_envelope(loss_curves(envelope), smoothing_sigma=1.0)
    finals = pd.concat(
        [iso_final.assign(approach="isoflop"), final_losses(envelope).assign(approach="envelope")], ignore_index=True
    )
    n, d, loss = finals.n_params.to_numpy(float), finals.tokens.to_numpy(float), finals.loss.to_numpy(float)
    param_fit = fits.fit_parametric(n, d, loss)
    boot = fits.bootstrap_parametric(n, d, loss, n_boot=n_boot, seed=seed, fit=param_fit) if n_boot else None
    floor = design.source().irreducible_loss(design.context + 1)
    return Analysis(iso_fit, edge, env_fit, param_fit, boot, floor, finals)
