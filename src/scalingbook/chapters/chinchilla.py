"""The Chinchilla experiment at small scale: an IsoFLOP sweep and Approach-1 runs, trained and fitted.

Hoffmann et al. (2022, arXiv 2203.15556) find the compute-optimal model size three ways (Sec. 3). This
module is the experiment behind the book's Chinchilla chapter:

* :func:`make_design` lays out the runs. IsoFLOP (Sec. 3.2): several FLOP budgets C, at each a window
  of model sizes N around the expected optimum, each trained on D = C / (6N) tokens with its cosine
  cycle matched to D. Approach 1 (Sec. 3.1): per model size, four cosine horizons over a 16x range
  of tokens, or one long run whose logged curve gives the shorter horizons.
* :func:`train_design` trains them with :func:`scalingbook.lab.train.train`, one population per model
  size whose members differ only in their ``steps`` horizon, and stores the loss curves through the
  results store, keyed by the design, so a rerun reads them back.
* :func:`analyse` fits the three approaches of :mod:`scalingbook.analysis.fits` and sets the fitted E beside
  the training language's exact loss floor (:meth:`MarkovSource.irreducible_loss`).
* The chapter's page is built here too, so that the notebook stays prose and every sentence it states
  is tested: :func:`sweep_summary`, the charts of Figures 2-4, :func:`floor_report`, :func:`table2`
  and :func:`exponents_note`, :func:`projection`, and :func:`refit_published` (Epoch's refit of the
  published points, Besiroglu et al. 2024).

The training language is a random Markov source (:mod:`scalingbook.lab.languages`; the quick profile), the
Zipf facts source (the full and paper profiles: its loss follows power laws in N and D over an exact
floor), or a byte-level text file when ``corpus_path`` is set (then the floor is unknown).

Profiles: each profile's design is set in ``profiles/chinchilla.yaml`` (read through
:mod:`scalingbook.lab.profiles`, like every chapter's settings). ``quick`` trains here through
:func:`train_runs` (minutes on a CPU). ``full`` (2 CPU cores, hours) and ``paper`` (a GPU) train
through the sweeps engine (:mod:`scalingbook.lab.sweeps`): the configs
``sweeps/chinchilla-isoflop.yaml`` and ``sweeps/chinchilla-envelope.yaml`` are written from
:func:`make_design` by :func:`write_sweep_configs`, each model size one grid entry whose members are its
runs, each with its own ``steps`` horizon; :func:`read_sweep` reads their stored results without training.
"""

from __future__ import annotations

import hashlib
import itertools
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import altair as alt
import numpy as np
import pandas as pd
from pandas.io.formats.style import Styler

from scalingbook.analysis import fits
from scalingbook.chapters import charts
from scalingbook.lab.cpu import torch_threads
from scalingbook.lab.languages import CorpusSource, MarkovSource, ZipfFactsSource
from scalingbook.lab.model import ModelConfig, flops_chinchilla, param_count
from scalingbook.lab.profiles import from_settings, load_profile
from scalingbook.lab.store import REPO_ROOT, Result, ResultStore
from scalingbook.lab.tasks import LanguageModelling
from scalingbook.lab.train import Member, TrainConfig, train

ENVELOPE_TOKEN_RATIOS = (1.0, 16 ** (1 / 3), 16 ** (2 / 3), 16.0)
"""Approach 1's four cosine horizons per size, spanning 16x in tokens (Hoffmann Sec. 3.1)."""


@dataclass(frozen=True)
class Design:
    """Everything that decides what the sweep computes; its dict keys the stored results.

    Model sizes come from a ladder of widths (``widths``, d_model) at fixed depth; each budget takes
    ``sizes_per_budget`` consecutive widths centred on the size that would give ``tokens_per_param``
    tokens per parameter. ``envelope_widths`` get Approach 1's runs, one per ``envelope_token_ratios``
    entry, of ``envelope_tokens_per_param`` times that ratio tokens per parameter: by default four
    cosine horizons over 16x (Hoffmann Sec. 3.1); one long run per size reads the other horizons
    off its logged curve instead, which buys more sizes for the same compute.
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
    # Added with the full profile; left out of key() at these defaults so quick results keep their keys.
    # The facts source's settings default to ZipfFactsSource's own.
    language: str = "markov"
    n_facts: int = ZipfFactsSource.n_facts
    zipf_exponent: float = ZipfFactsSource.zipf_exponent
    key_length: int = ZipfFactsSource.key_length
    key_symbols: int = ZipfFactsSource.key_symbols
    value_symbols: int = ZipfFactsSource.value_symbols
    noise: float = ZipfFactsSource.noise
    n_heads: int = 0
    flops_count: str = "6nd"
    envelope_seed_offset: int = 0
    envelope_token_ratios: tuple[float, ...] = ENVELOPE_TOKEN_RATIOS

    @property
    def tokens_per_step(self) -> int:
        """Loss tokens per member per step: every position of every sequence (C = 6ND's D)."""
        return self.batch_size * self.context

    def source(self) -> MarkovSource | ZipfFactsSource | CorpusSource:
        """The training language: the Markov source, the Zipf facts source (``language="zipf-facts"``),
        or the byte-level corpus at ``corpus_path``."""
        if self.corpus_path:
            return CorpusSource(Path(self.corpus_path))
        if self.language == "zipf-facts":
            return ZipfFactsSource(**self.source_settings())
        if self.language != "markov":
            raise ValueError(f"language must be 'markov' or 'zipf-facts', got {self.language!r}")
        return MarkovSource(self.vocab_size, self.order, self.concentration, self.source_seed)

    def source_settings(self) -> dict:
        """The Zipf facts source's parameters, as ``ZipfFactsSource`` takes them."""
        return {
            "n_facts": self.n_facts,
            "zipf_exponent": self.zipf_exponent,
            "key_length": self.key_length,
            "key_symbols": self.key_symbols,
            "value_symbols": self.value_symbols,
            "noise": self.noise,
            "seed": self.source_seed,
        }

    def task(self) -> LanguageModelling:
        return LanguageModelling(self.source(), self.context)

    def model_config(self, width: int) -> ModelConfig:
        """A member of width ``width``: rotary positions (no position table); ``n_heads`` heads, or
        (``n_heads=0``) heads of 16 or fewer."""
        vocab = 256 if self.corpus_path else self.source().vocab_size if self.language != "markov" else self.vocab_size
        return ModelConfig(
            d_model=width,
            n_layers=self.n_layers,
            n_heads=self.n_heads or max(1, width // 16),
            positional="rotary",
            seq_len=self.context + 1,
            vocab_size=vocab,
        )

    def flops_per_token(self, width: int) -> float:
        """Training FLOPs per token of a member of ``width``: 6N (Kaplan et al. 2020), or with
        ``flops_count="chinchilla"`` Hoffmann et al.'s App. F count (embeddings, attention and logits
        included), which is 1.2-1.8x 6N at widths 8-48."""
        if self.flops_count == "6nd":
            return 6.0 * self.n_params(width)
        if self.flops_count != "chinchilla":
            raise ValueError(f"flops_count must be '6nd' or 'chinchilla', got {self.flops_count!r}")
        seq = self.context  # the model reads context tokens and predicts each one's successor
        return flops_chinchilla(self.model_config(width), 1_000_000 * seq, seq) / (1_000_000 * seq)

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
        Fields added later are left out while they hold their defaults. So a design without a corpus
        keeps exactly the key it always had (``corpus_path: ""``), and stored results stay where they are.
        """
        later = {f: getattr(Design, f) for f in _LATER_FIELDS}
        key = {
            k: (list(v) if isinstance(v, tuple) else v)
            for k, v in asdict(self).items()
            if not (k in later and v == later[k])
        }
        if self.corpus_path:
            data = Path(self.corpus_path).read_bytes()
            del key["corpus_path"]
            key["corpus"] = {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
        return key


_LATER_FIELDS = (
    "language",
    "n_facts",
    "zipf_exponent",
    "key_length",
    "key_symbols",
    "value_symbols",
    "noise",
    "n_heads",
    "flops_count",
    "envelope_seed_offset",
    "envelope_token_ratios",
)


CORPUS_TOKENS_PER_PARAM = 50.0
"""Where a corpus design centres each budget's sizes: byte-level text (256 symbols, so embeddings weigh
more) has its IsoFLOP minima at more tokens per parameter than the Markov source; 36-50 were measured
on a 300 KB text corpus (this repository's pages and source) at 2e9-3e10 FLOPs."""
CORPUS_MAX_EPOCHS = 4.0
"""The largest budget's centre run reads the corpus at most this many times (repeated text stops
counting as new data beyond a few epochs, Muennighoff et al. 2023)."""
SETTINGS = "chinchilla"
"""The profiles' designs and corpus budget ranges: ``profiles/chinchilla.yaml`` (see :mod:`scalingbook.lab.profiles`)."""


def _flops(value: float | str) -> float:
    """A FLOP count from a settings file: a number, or a power of ten written ``10**X`` (which keeps
    10**13.5 exact where a decimal would round it)."""
    if isinstance(value, str) and value.startswith("10**"):
        return 10.0 ** float(value[4:])
    return float(value)


def corpus_budgets(profile: str, n_bytes: int) -> tuple[float, ...]:
    """IsoFLOP budgets for a byte-level corpus of ``n_bytes``: the profile's range, capped by the corpus.

    A budget C centres its sizes on N = sqrt(C / (6 k)) with D = k N tokens, k =
    :data:`CORPUS_TOKENS_PER_PARAM`; the largest budget is cut to the C whose D is
    :data:`CORPUS_MAX_EPOCHS` passes over the corpus. Raises if that leaves less than half a decade.
    The range and the number of budgets are the profile's ``corpus_budgets`` (5 quick, 9 otherwise).
    """
    spec = load_profile(SETTINGS, profile)["corpus_budgets"]
    low, high = _flops(spec["first"]), _flops(spec["last"])
    cap = 6.0 * (CORPUS_MAX_EPOCHS * n_bytes) ** 2 / CORPUS_TOKENS_PER_PARAM
    top = min(high, cap)
    if top < low * 10**0.5:
        need = int(np.ceil(np.sqrt(low * 10**0.5 * CORPUS_TOKENS_PER_PARAM / 6.0) / CORPUS_MAX_EPOCHS))
        raise ValueError(
            f"corpus_path: {n_bytes:,} bytes is too small for the {profile} profile's budgets (from {low:.2g} FLOPs); "
            f"it needs at least {need:,} bytes, or give smaller budgets"
        )
    return tuple(float(c) for c in np.logspace(np.log10(low), np.log10(top), spec["count"]))


def make_design(profile: str, *, budgets: list[float] | None = None, corpus_path: str = "", **source) -> Design:
    """The sweep of ``profile``, as ``profiles/chinchilla.yaml`` sets it: ``quick`` trains on a CPU in a
    minute or two, ``full`` on 2 CPU cores in hours (through the sweeps engine), ``paper`` is for a GPU.

    Quick: 5 budgets over 1.5 decades (5e8 to 1.6e10 FLOPs, 6ND), 7 sizes each from 1.3k to 31k
    parameters (one layer) on the order-1 Markov source, 4 Approach-1 horizons for 5 sizes: about
    33,000 member-steps. Full: 9 budgets over 2 decades (1e11 to 1e13 FLOPs by Hoffmann's App. F
    count), as Hoffmann's 9 (Sec. 3.2), 9 sizes each of a 2-layer model from 2.9k to 1.6M
    parameters, on the Zipf facts source (2^20 facts, s = 1.5); Approach 1: 11 sizes (8.8k to 0.3M
    parameters, widths about 1.2-1.7x apart in N), each trained once to 80 tokens per parameter,
    so that 9 sizes can win inside the edges: k winners flatten the fitted slope by about 1/k^2, and
    with 2, as the former 4 sizes x 4 horizons gave, a came out 0.08 low on synthetic losses. Sizes
    are centred on 30 tokens per parameter, where a pilot (seeds 90000+) put the optimum. Paper: the former full profile's geometry (9 budgets 10^13.5 to
    10^15.5, 4 layers, widths 48-1024, context 128) on the facts source. ``source`` overrides the
    source's fields (vocab_size, order, concentration, source_seed, or the facts' settings). With
    ``corpus_path``, sizes are centred on :data:`CORPUS_TOKENS_PER_PARAM` tokens per parameter and,
    unless ``budgets`` are given, the budgets come from :func:`corpus_budgets`.
    """
    settings = load_profile(SETTINGS, profile)["design"]
    spread = settings["budgets"]
    start = np.log10(_flops(spread["first"]))
    settings["budgets"] = [float(c) for c in np.logspace(start, start + spread["decades"], spread["count"])]
    design = from_settings(Design, settings, SETTINGS, profile)
    changes: dict = {"corpus_path": corpus_path, **source}
    if corpus_path:
        ratio = CORPUS_TOKENS_PER_PARAM / design.tokens_per_param
        changes |= {
            "tokens_per_param": CORPUS_TOKENS_PER_PARAM,
            "envelope_tokens_per_param": design.envelope_tokens_per_param * ratio,
        }
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
    return (
        f" With a corpus, the budgets are chosen from its size ({size:,} bytes; `chinchilla.corpus_budgets`): "
        f"the profile's range, capped where the largest budget's runs would read the corpus more than "
        f"{CORPUS_MAX_EPOCHS:g} times, and sizes centred on {CORPUS_TOKENS_PER_PARAM:g} tokens per parameter."
    )


def envelope_plan(design: Design) -> str:
    """Approach 1's runs in words, for the chapter: sizes and horizons per size."""
    ratios = design.envelope_token_ratios
    if len(ratios) == 1:
        return (
            f"{len(design.envelope_widths)} sizes, each trained once to "
            f"{design.envelope_tokens_per_param * ratios[0]:g} tokens per parameter, its loss logged every "
            f"{design.log_every} steps"
        )
    return (
        f"{len(design.envelope_widths)} sizes x {len(ratios)} cosine horizons over "
        f"{max(ratios) / min(ratios):.0f}x in tokens"
    )


def isoflop_runs(design: Design) -> pd.DataFrame:
    """Approach 2's runs (Hoffmann Sec. 3.2): per budget, ``sizes_per_budget`` sizes, D = C / (6N).

    The window of widths is centred on the ladder size nearest sqrt(C / (6 tokens_per_param)), the
    optimum if tokens per parameter were ``tokens_per_param``, and clipped to the ladder. Each run's
    cosine horizon is its step count, so the schedule is matched to its tokens.
    """
    sizes = np.array([design.n_params(w) for w in design.widths], dtype=float)
    per_token = np.array([design.flops_per_token(w) for w in design.widths])
    k = design.sizes_per_budget
    if k > len(sizes):
        raise ValueError(f"sizes_per_budget={k} exceeds the {len(sizes)} widths of the ladder")
    rows = []
    for budget in design.budgets:
        # the size whose D / N would be tokens_per_param at this budget: C = flops_per_token(N) * D
        centre = int(np.argmin(np.abs(np.log(budget / (per_token * sizes * design.tokens_per_param)))))
        lo = min(max(0, centre - k // 2), len(sizes) - k)
        for width, n, f in zip(design.widths[lo : lo + k], sizes[lo : lo + k], per_token[lo : lo + k]):
            steps = design.steps_for(budget / f)
            rows.append((budget, width, n, steps))
    return _runs_frame(design, rows)


def envelope_runs(design: Design) -> pd.DataFrame:
    """Approach 1's runs (Hoffmann Sec. 3.1): per size, one cosine horizon per ``envelope_token_ratios``.

    The shortest horizon is ``envelope_tokens_per_param`` tokens per parameter, or ``min_steps``
    steps if that is longer.
    """
    rows = []
    for width in design.envelope_widths:
        n = float(design.n_params(width))
        shortest = max(design.envelope_tokens_per_param * n, design.min_steps * design.tokens_per_step)
        for ratio in design.envelope_token_ratios:
            rows.append((np.nan, width, n, design.steps_for(shortest * ratio)))
    return _runs_frame(design, rows)


def _runs_frame(design: Design, rows: list) -> pd.DataFrame:
    """Runs with their tokens, ``flops`` by the design's count and ``flops_6nd`` beside it."""
    runs = pd.DataFrame(rows, columns=["budget", "width", "n_params", "steps"])
    runs["tokens"] = runs["steps"] * design.tokens_per_step
    per_token = {w: design.flops_per_token(int(w)) for w in runs["width"].unique()}
    runs["flops"] = runs["width"].map(per_token) * runs["tokens"]
    runs["flops_6nd"] = 6.0 * runs["n_params"] * runs["tokens"]
    runs.insert(0, "run", np.arange(len(runs)))
    return runs


def train_runs(name: str, design: Design, runs: pd.DataFrame, profile: str, device: str = "cpu") -> Result:
    """Train ``runs`` (or read them back) and return their loss curves as a stored :class:`Result`.

    One population per width; its members are the width's runs, each with seed ``design.seed +
    run`` and its own cosine horizon (Hoffmann App. B: cycle length matched to the tokens). The
    table has one row per logged point: run, budget, width, n_params, steps, tokens, flops, step,
    loss (mean training loss over the ``log_every`` steps before ``step``). On the CPU, torch runs
    on one thread meanwhile (:func:`scalingbook.lab.cpu.torch_threads`).
    """
    store = ResultStore.for_profile(profile)
    key = {"design": design.key(), "runs": runs[["width", "steps"]].to_dict("list")}

    def compute() -> pd.DataFrame:
        task = design.task()
        with torch_threads(1 if device == "cpu" else None):
            tables = [_train_width(design, task, int(width), group, device) for width, group in runs.groupby("width")]
        return pd.concat(tables, ignore_index=True).sort_values(["run", "step"], ignore_index=True)

    return store.cached(name, key, compute, profile=profile, device=device)


def _train_width(design: Design, task: LanguageModelling, width: int, group: pd.DataFrame, device: str) -> pd.DataFrame:
    """One population: the runs of one width, each member with its own cosine horizon."""
    members = [Member(seed=design.seed + int(r), lr=design.lr, steps=int(s)) for r, s in zip(group.run, group.steps)]
    cfg = TrainConfig(
        steps=int(group.steps.max()),
        batch_size=design.batch_size,
        warmup_steps=design.warmup_steps,
        log_every=design.log_every,
        device=device,
        progress=False,
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
    """The three approaches on one sweep, and the truth they can be checked against.

    ``profiles`` are every IsoFLOP budget's parabola, edge minima flagged; ``isoflop`` is Approach 2's
    fit through the interior ones, None when too few are interior (:func:`edge_summary` says why).
    """

    isoflop: fits.IsoFlopFit | None
    profiles: tuple[fits.IsoFlopProfile, ...]
    envelope: fits.EnvelopeFit
    parametric: fits.ParametricFit
    bootstrap: fits.BootstrapResult | None
    floor: float | None
    finals: pd.DataFrame

    def exponents(self) -> pd.DataFrame:
        """Table 2's rows for our sweep: a and b per approach, with the bootstrap range where there is one."""
        iso = self.isoflop.frontier if self.isoflop else None
        rows = [
            ("1. Minimum over training curves", self.envelope.frontier.a, self.envelope.frontier.b, None, None),
            ("2. IsoFLOP profiles", iso.a if iso else np.nan, iso.b if iso else np.nan, None, None),
        ]
        p = self.parametric.params
        ranges = (self.bootstrap.interval("a"), self.bootstrap.interval("b")) if self.bootstrap else (None, None)
        rows.append(("3. Parametric modelling of the loss", p.a, p.b, *ranges))
        return pd.DataFrame(rows, columns=["approach", "a", "b", "a_range", "b_range"])


def analyse(
    isoflop: pd.DataFrame, envelope: pd.DataFrame, design: Design, *, n_boot: int = 200, seed: int = 0
) -> Analysis:
    """Approaches 1-3 (Hoffmann Sec. 3.1-3.3) on stored curves, and the source's exact floor.

    A run's final loss is its held-out ``test_loss`` where the table has one (sweeps-engine runs),
    else its last logged training loss. Compute is the design's count (6ND, or App. F). Approach 3
    fits the final losses of every run, IsoFLOP and Approach 1 together, as Hoffmann did (App. D.2),
    and is bootstrapped over runs with ``n_boot`` resamples (Epoch Sec. 3); 0 skips it. IsoFLOP
    budgets whose minimum is at the edge of their sizes are flagged and left out of Approach 2, which
    is not fitted (``isoflop`` None) when fewer than :data:`fits.ISOFLOP_MIN_BUDGETS` remain.
    """
    per_token = flops_per_token_fn(design)
    iso_final = _finals(isoflop)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", fits.IsoFlopWarning)  # flagged in the profiles; edge_summary says so
        profiles = fits.isoflop_profiles(iso_final.budget, iso_final.n_params, iso_final.loss, per_token)
    inner = sum(p.interior for p in profiles)
    iso_fit = fits.isoflop_frontier(profiles) if inner >= fits.ISOFLOP_MIN_BUDGETS else None
    env_fit = fits.fit_envelope(loss_curves(envelope), smoothing_sigma=1.0, flops_per_token=per_token)
    finals = pd.concat(
        [iso_final.assign(approach="isoflop"), _finals(envelope).assign(approach="envelope")], ignore_index=True
    )
    n, d, loss = finals.n_params.to_numpy(float), finals.tokens.to_numpy(float), finals.loss.to_numpy(float)
    param_fit = fits.fit_parametric(n, d, loss)
    boot = fits.bootstrap_parametric(n, d, loss, n_boot=n_boot, seed=seed, fit=param_fit) if n_boot else None
    floor = design.source().irreducible_loss(design.context + 1)
    return Analysis(iso_fit, profiles, env_fit, param_fit, boot, floor, finals)


def _finals(curves: pd.DataFrame) -> pd.DataFrame:
    """Final losses, the held-out test loss replacing the last training loss where there is one."""
    out = final_losses(curves)
    return out.assign(loss=out["test_loss"]) if "test_loss" in out else out


# ---------------------------------------------------------------------------------------------
# Full and paper profiles: sweep configs for the sweeps engine, and reading their stored results
# ---------------------------------------------------------------------------------------------

SWEEP_KINDS = ("isoflop", "envelope")
EVAL_EXAMPLES = 1024
"""Held-out sequences every run is scored on at the end (the same ones for all runs, so differences
between runs carry no test-set noise); 1024 x 39 tokens put a run's test loss within about 0.006 nats."""
EVAL_SEED = 1234


def sweep_path(kind: str) -> Path:
    """The sweep config of ``kind`` (isoflop or envelope) under the repository's ``sweeps/``."""
    if kind not in SWEEP_KINDS:
        raise ValueError(f"kind must be one of {SWEEP_KINDS}, got {kind!r}")
    return REPO_ROOT / "sweeps" / f"chinchilla-{kind}.yaml"


def design_runs(design: Design, kind: str) -> pd.DataFrame:
    """The runs of ``kind`` with each one's member seed: ``design.seed + run`` (IsoFLOP) or
    ``design.seed + envelope_seed_offset + run`` (Approach 1), so the two never share a seed."""
    runs = isoflop_runs(design) if kind == "isoflop" else envelope_runs(design)
    offset = design.envelope_seed_offset if kind == "envelope" else 0
    return runs.assign(seed=design.seed + offset + runs["run"])


def sweep_section(design: Design, kind: str) -> dict:
    """One profile of a sweep config: a grid entry per model size whose members are that size's runs,
    shortest horizon first, each with its own ``steps``; one member per group (``member_chunk: 1``)
    so that no member computes past its horizon while a longer one trains."""
    runs = design_runs(design, kind)
    grid = []
    for width, group in runs.sort_values(["steps", "run"]).groupby("width", sort=True):
        cfg = design.model_config(int(width))
        grid.append(
            {
                "d_model": int(width),
                "n_heads": cfg.n_heads,
                "members": {
                    "seeds": [int(x) for x in group.seed],
                    "lr": design.lr,
                    "steps": [int(x) for x in group.steps],
                },
            }
        )
    source = (
        {"kind": "zipf-facts", **design.source_settings()}
        if design.language == "zipf-facts"
        else {
            "kind": "markov",
            "vocab_size": design.vocab_size,
            "order": design.order,
            "concentration": design.concentration,
            "seed": design.source_seed,
        }
    )
    return {
        "task": {"name": "language", "context": design.context, "source": source},
        "model": {"n_layers": design.n_layers, "positional": "rotary"},
        "grid": grid,
        "members": {"seeds": 1, "lr": design.lr},
        "train": {
            "steps": int(runs.steps.max()),
            "batch_size": design.batch_size,
            "warmup_steps": design.warmup_steps,
            "log_every": design.log_every,
            "member_chunk": 1,
        },
        "eval": {"n_examples": EVAL_EXAMPLES, "seed": EVAL_SEED},
    }


def sweep_config(kind: str) -> dict:
    """The whole config of ``kind``: the paper profile at the top level, the full profile as overrides
    (no quick profile: quick trains in the chapter through :func:`train_runs`)."""
    return {
        "name": f"chinchilla/{kind}",
        **sweep_section(make_design("paper"), kind),
        "profiles": {"full": sweep_section(make_design("full"), kind)},
    }


def write_sweep_configs(folder: Path | None = None) -> list[Path]:
    """Write ``sweeps/chinchilla-{isoflop,envelope}.yaml`` from :func:`make_design` (a test checks the
    committed files match)."""
    import yaml

    paths = []
    for kind in SWEEP_KINDS:
        path = Path(folder) / f"chinchilla-{kind}.yaml" if folder else sweep_path(kind)
        header = (
            f"# Chinchilla chapter, {'IsoFLOP profiles (Approach 2)' if kind == 'isoflop' else 'Approach 1 horizons'}: "
            "written by scalingbook.chapters.chinchilla.write_sweep_configs from make_design; do not edit by hand.\n"
            "# Top level: the paper profile (a GPU). profiles.full: 2 CPU cores (see notebooks/chinchilla.py).\n"
        )
        path.write_text(
            header + yaml.safe_dump(sweep_config(kind), sort_keys=False, width=120, default_flow_style=None)
        )
        paths.append(path)
    return paths


@dataclass(frozen=True, eq=False)
class SweepResults:
    """Stored curves of one kind: the table :func:`train_runs` gives plus ``test_loss`` per run."""

    table: pd.DataFrame
    sources: list[Result]
    pending: int


def read_sweep(
    design: Design, kind: str, profile: str, path: Path | None = None, store_root: Path | None = None
) -> SweepResults:
    """The stored runs of the ``kind`` sweep at ``profile`` (full or paper), without training.

    Each run's curve (step, training loss) joins its design row (budget, width, n_params, steps,
    tokens, flops, flops_6nd) by seed, and ``test_loss`` is its held-out loss after training:
    summed NLL over summed tokens of its records. ``pending`` counts grid entries not stored yet.
    """
    from scalingbook.lab.sweeps import Sweep, load_tables

    sweep = Sweep.load(path or sweep_path(kind), profile)
    runs = design_runs(design, kind)
    trainings = load_tables(sweep, "training", profile, store_root)
    records = load_tables(sweep, "records", profile, store_root)
    parts, sources = [], []
    for spec, training, record in zip(sweep.runs, trainings, records):
        if training is None or record is None:
            continue
        seeds = np.array([m["seed"] for m in spec.members])
        scores = record.table.groupby("member")[["nll", "tokens"]].sum()
        test = pd.DataFrame({"seed": seeds[scores.index.to_numpy()], "test_loss": scores.nll / scores.tokens})
        parts.append(training.table.drop(columns="member").merge(test, on="seed"))
        sources.append(record)
    pending = sum(t is None for t in records)
    if not parts:
        return SweepResults(pd.DataFrame(), [], pending)
    table = pd.concat(parts, ignore_index=True).merge(runs, on="seed")
    return SweepResults(table.sort_values(["run", "step"], ignore_index=True), sources, pending)


@dataclass(frozen=True, eq=False)
class Loaded:
    """What the chapter shows: the profile its runs come from, the design, both kinds of curves."""

    profile: str
    design: Design
    isoflop: pd.DataFrame
    envelope: pd.DataFrame
    sources: list
    pending: int


def load_or_train(profile: str, device: str = "cpu", **overrides) -> Loaded:
    """The chapter's data: at ``full`` or ``paper`` the stored sweep runs when both sweeps have some
    (never training), else the quick profile, trained here if not stored (``overrides`` go to
    :func:`make_design` for quick only: the stored sweeps are fixed by their configs)."""
    if profile in ("full", "paper"):
        design = make_design(profile)
        iso, env = (read_sweep(design, kind, profile) for kind in SWEEP_KINDS)
        if len(iso.table) and len(env.table):
            return Loaded(profile, design, iso.table, env.table, iso.sources + env.sources, iso.pending + env.pending)
    design = make_design("quick", **overrides)
    iso_run = train_runs("chinchilla/isoflop", design, isoflop_runs(design), "quick", device)
    env_run = train_runs("chinchilla/envelope", design, envelope_runs(design), "quick", device)
    return Loaded("quick", design, iso_run.table, env_run.table, [iso_run, env_run], 0)


# ---------------------------------------------------------------------------------------------
# Uncertainty for all three approaches, the fit with E fixed, and Epoch's tests
# ---------------------------------------------------------------------------------------------


def flops_per_token_fn(design: Design) -> Callable[[np.ndarray], np.ndarray]:
    """FLOPs per token as a function of N for the fits: the design's count, interpolated in log-log
    between the sizes trained (needed at a parabola's vertex, which falls between them)."""
    trained = sorted(set(design.widths) | set(design.envelope_widths))
    log_n = np.log([design.n_params(w) for w in trained])
    log_f = np.log([design.flops_per_token(w) for w in trained])
    return lambda n: (
        np.exp(np.interp(np.log(np.asarray(n, dtype=float)), log_n, log_f, left=np.nan, right=np.nan))
        if design.flops_count != "6nd"
        else 6.0 * np.asarray(n, dtype=float)
    )


def numeric_frontier(params: fits.LossParams, per_token: Callable, flops: np.ndarray) -> fits.PowerLaw:
    """Approach 3's N_opt(C) when C = flops_per_token(N) * D instead of 6ND: minimise the fitted
    L(N, C / f(N)) over N at each budget, then fit N_opt ∝ C^a through the minima."""
    n_grid = np.geomspace(1e2, 1e9, 4000)
    f = per_token(n_grid)
    ok = np.isfinite(f)
    n_grid, f = n_grid[ok], f[ok]
    n_opt = [n_grid[np.argmin(params.predict(n_grid, c / f))] for c in flops]
    return fits.fit_power_law(np.asarray(flops), np.array(n_opt))


def _resample_weights(n: int, n_boot: int, scheme: str, seed: int) -> np.ndarray:
    """Weights per run for each resample: Hoffmann's 80% subsamples (0/1, Table 2) or Epoch's
    resampling with replacement (counts)."""
    rng = np.random.default_rng(seed)
    if scheme == "subsample":
        keep = round(0.8 * n)
        return np.array([np.isin(np.arange(n), rng.choice(n, keep, replace=False)) for _ in range(n_boot)], dtype=float)
    if scheme == "resample":
        return rng.multinomial(n, np.full(n, 1.0 / n), size=n_boot).astype(float)
    raise ValueError(f"scheme must be 'subsample' or 'resample', got {scheme!r}")


def bootstrap_exponents(
    iso_final: pd.DataFrame,
    envelope_curves: pd.DataFrame,
    finals: pd.DataFrame,
    design: Design,
    *,
    n_boot: int = 100,
    scheme: str = "subsample",
    seed: int = 0,
    param_fit: fits.ParametricFit | None = None,
) -> pd.DataFrame:
    """a and b of each approach on ``n_boot`` resamples of the runs: one row per (approach, resample).

    ``scheme="subsample"`` is Hoffmann's (Table 2: 100 subsamples of 80% of the data); "resample"
    draws runs with replacement (Epoch). Approach 1 resamples whole training curves, Approach 2
    IsoFLOP runs (a budget left with fewer than 3 sizes, or without an interior minimum, drops out
    of that resample), Approach 3 the final losses it is fitted to. A resample whose fit fails
    gives NaN. Subsamples of 80% without replacement vary about half as much as the estimate does
    (variance ratio n/m - 1 = 0.25), so Hoffmann's scheme gives narrower ranges than Epoch's.
    """
    per_token = flops_per_token_fn(design)
    rows = []
    w_iso = _resample_weights(len(iso_final), n_boot, scheme, seed)
    for i, w in enumerate(w_iso):
        pick = iso_final.loc[np.repeat(np.arange(len(iso_final)), w.astype(int))]
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", fits.IsoFlopWarning)
                fit = fits.fit_isoflop(pick.budget, pick.n_params, pick.loss, per_token)
            rows.append(("2", i, fit.frontier.a, fit.frontier.b))
        except ValueError:
            rows.append(("2", i, np.nan, np.nan))
    curves = loss_curves(envelope_curves)
    w_env = _resample_weights(len(curves), n_boot, scheme, seed + 1)
    for i, w in enumerate(w_env):
        picked = [c for c, k in zip(curves, w.astype(int)) for _ in range(k)]
        try:
            env_fit = fits.fit_envelope(picked, smoothing_sigma=1.0, flops_per_token=per_token)
            rows.append(("1", i, env_fit.frontier.a, env_fit.frontier.b))
        except ValueError:
            rows.append(("1", i, np.nan, np.nan))
    n, d, loss = (finals[c].to_numpy(float) for c in ("n_params", "tokens", "loss"))
    w_par = _resample_weights(len(finals), n_boot, scheme, seed + 2)
    boot = fits.bootstrap_parametric(n, d, loss, n_boot=n_boot, fit=param_fit, counts=w_par)
    rows += [("3", i, a, b) for i, (a, b) in enumerate(zip(boot.samples.a, boot.samples.b))]
    out = pd.DataFrame(rows, columns=["approach", "resample", "a", "b"])
    out.attrs["parametric"] = boot
    return out


def percentile_range(values: pd.Series | np.ndarray, low: float = 0.1, high: float = 0.9) -> tuple[float, float]:
    """The ``low``-``high`` percentile range of the finite values (Hoffmann's Table 2 reports 10th-90th)."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if not len(v):
        return (np.nan, np.nan)
    lo, hi = np.quantile(v, [low, high])
    return float(lo), float(hi)


def fit_fixed_floor(
    n_params: np.ndarray, tokens: np.ndarray, loss: np.ndarray, floor: float, delta: float = fits.HUBER_DELTA
) -> fits.LossParams:
    """Hoffmann's Eq. 3 fit with E held at ``floor`` (the source's exact entropy): A, B, alpha, beta
    by L-BFGS-B from a grid of 36 starts, best objective kept."""
    from scipy.optimize import minimize

    log_n, log_d, log_l = (np.log(np.asarray(v, dtype=float)) for v in (n_params, tokens, loss))
    e = float(np.log(floor))

    def objective(x: np.ndarray) -> tuple[float, np.ndarray]:
        value, grad = fits.huber_objective_np(np.array([x[0], x[1], e, x[2], x[3]]), log_n, log_d, log_l, delta)
        return value, grad[[0, 1, 3, 4]]

    # the lowest of the 36 starts (the first of equals, as a strict < over them in order would keep)
    best = min(
        (
            minimize(
                objective,
                np.array([a0, b0, al, be]),
                jac=True,
                method="L-BFGS-B",
                bounds=[(-20, 40), (-20, 40), (0.01, 3), (0.01, 3)],
                options={"gtol": 1e-10, "ftol": 0, "maxiter": 5000},
            )
            for a0, b0, al, be in itertools.product((0.0, 5.0, 10.0), (0.0, 5.0, 10.0), (0.25, 0.75), (0.25, 0.75))
        ),
        key=lambda r: r.fun,
    )
    a, b, alpha, beta = best.x
    return fits.LossParams.from_theta([a, b, e, alpha, beta])


def huber_log_likelihood(
    params: fits.LossParams, n_params: np.ndarray, tokens: np.ndarray, loss: np.ndarray, delta: float = fits.HUBER_DELTA
) -> float:
    """Log-likelihood of log-loss residuals under a Huber density with its scale maximised (Besiroglu
    et al. 2024, Sec. 3): r / sigma has density exp(-Huber_delta(u)) / Z_delta, with
    Z_delta = sqrt(2 pi) (2 Phi(delta) - 1) + 2 exp(-delta^2 / 2) / delta."""
    from scipy.optimize import minimize_scalar
    from scipy.stats import norm

    r = np.log(np.asarray(loss, float)) - np.log(params.predict(np.asarray(n_params, float), np.asarray(tokens, float)))
    log_z = np.log(np.sqrt(2 * np.pi) * (2 * norm.cdf(delta) - 1) + 2 * np.exp(-(delta**2) / 2) / delta)

    def negative(log_sigma: float) -> float:
        u = np.abs(r) / np.exp(log_sigma)
        rho = np.where(u <= delta, 0.5 * u**2, delta * u - 0.5 * delta**2)
        return float((rho + log_sigma + log_z).sum())

    best = minimize_scalar(negative, bounds=(-25.0, 5.0), method="bounded", options={"xatol": 1e-10})
    return -float(best.fun)


def likelihood_ratio_test(
    null: fits.LossParams,
    alternative: fits.LossParams,
    n_params: np.ndarray,
    tokens: np.ndarray,
    loss: np.ndarray,
    df: int,
) -> tuple[float, float]:
    """Epoch's likelihood-ratio test of ``null`` against the fitted ``alternative``: the statistic
    2 (l_alt - l_null) and its chi-squared p-value with ``df`` degrees of freedom."""
    from scipy.stats import chi2

    stat = 2.0 * (
        huber_log_likelihood(alternative, n_params, tokens, loss) - huber_log_likelihood(null, n_params, tokens, loss)
    )
    return stat, float(chi2.sf(max(stat, 0.0), df))


def runs_needed(n_runs: int, width: float, target_width: float) -> float:
    """Runs an interval of ``width`` from ``n_runs`` would need to shrink to ``target_width``, at the
    1/sqrt(n) rate of a bootstrap interval (Besiroglu et al. 2024: over 600,000 for Hoffmann's a)."""
    if width <= 0 or target_width <= 0:
        raise ValueError(f"widths must be positive, got {width} and {target_width}")
    return n_runs * (width / target_width) ** 2


def covers(interval: tuple[float, float], value: float) -> bool:
    """Whether ``value`` lies within ``interval`` (ends included)."""
    return bool(interval[0] <= value <= interval[1])


def overlap(first: tuple[float, float], second: tuple[float, float]) -> bool:
    """Whether two intervals share any value."""
    return bool(max(first[0], second[0]) <= min(first[1], second[1]))


def floor_verdict(estimate: float, interval: tuple[float, float], floor: float, level: str) -> str:
    """One sentence on the fitted E against the exact floor, from the numbers alone."""
    gap = estimate - floor
    where = "covers" if covers(interval, floor) else "does not cover"
    return (
        f"The fitted E = {estimate:.4f} nats lies {abs(gap):.4f} ({abs(gap) / floor:.1%}) "
        f"{'above' if gap > 0 else 'below'} the exact floor {floor:.4f}; its {level} bootstrap range "
        f"({interval[0]:.4f}, {interval[1]:.4f}) {where} the floor."
    )


def agreement_verdict(ranges: dict[str, tuple[float, float]], estimates: dict[str, float], name: str = "a") -> str:
    """One sentence on whether the approaches' ranges of ``name`` overlap pairwise, from the numbers."""
    keys = sorted(ranges)
    pairs = [(x, y) for i, x in enumerate(keys) for y in keys[i + 1 :]]
    agree = [f"{x} and {y}" for x, y in pairs if overlap(ranges[x], ranges[y])]
    differ = [f"{x} and {y}" for x, y in pairs if not overlap(ranges[x], ranges[y])]
    spread = max(estimates.values()) - min(estimates.values())
    text = f"The estimates of {name} span {spread:.3f}. "
    if agree:
        text += f"Ranges overlap for Approaches {'; '.join(agree)}. "
    if differ:
        text += f"They do not overlap for Approaches {'; '.join(differ)}."
    return text.strip()


# ---------------------------------------------------------------------------------------------
# The chapter's tables and sentences, computed here so that every conclusion is tested
# ---------------------------------------------------------------------------------------------

HOFFMANN_TABLE2 = {
    "1": ((0.50, 0.488, 0.502), (0.50, 0.501, 0.512)),
    "2": ((0.49, 0.462, 0.534), (0.51, 0.483, 0.529)),
    "3": ((0.46, 0.454, 0.455), (0.54, 0.542, 0.543)),
}
"""Hoffmann et al.'s Table 2: per approach, (a, 10th, 90th percentile) and the same for b."""


@dataclass(frozen=True, eq=False)
class Table2:
    """Our Table 2: per approach the point estimate of a and b and their 10th-90th percentile ranges
    under Hoffmann's subsampling and Epoch's resampling (``ranges[scheme][approach][name]``); a point
    is None for an approach that could not be fitted."""

    point: dict[str, fits.Frontier | None]
    ranges: dict[str, dict[str, dict[str, tuple[float, float]]]]
    samples: dict[str, pd.DataFrame]

    def table(self) -> pd.DataFrame:
        """The rows the chapter shows, ours beside Hoffmann's, formatted."""
        rows = []
        for k in "123":
            r, q, point = self.ranges["subsample"][k], self.ranges["resample"][k], self.point[k]
            (ha, ha0, ha1), (hb, hb0, hb1) = HOFFMANN_TABLE2[k]
            ours = (
                {
                    "a (ours, subsampled 10-90%)": f"{point.a:.3f} ({r['a'][0]:.3f}, {r['a'][1]:.3f})",
                    "b (ours, subsampled 10-90%)": f"{point.b:.3f} ({r['b'][0]:.3f}, {r['b'][1]:.3f})",
                    "a, resampled 10-90%": f"({q['a'][0]:.3f}, {q['a'][1]:.3f})",
                }
                if point is not None
                else dict.fromkeys(
                    ("a (ours, subsampled 10-90%)", "b (ours, subsampled 10-90%)", "a, resampled 10-90%"), "not fitted"
                )
            )
            rows.append(
                {
                    "approach": k,
                    **ours,
                    "a (Hoffmann)": f"{ha:.2f} ({ha0:.3f}, {ha1:.3f})",
                    "b (Hoffmann)": f"{hb:.2f} ({hb0:.3f}, {hb1:.3f})",
                }
            )
        return pd.DataFrame(rows)

    def verdict(self) -> str:
        """Whether the fitted approaches agree on a, judged on Epoch's (wider) resampled ranges."""
        points = {k: p for k, p in ((k, self.point[k]) for k in "123") if p is not None}
        fitted = list(points)
        text = agreement_verdict(
            {k: self.ranges["resample"][k]["a"] for k in fitted}, {k: float(point.a) for k, point in points.items()}
        )
        missing = [k for k in "123" if k not in fitted]
        return text + (
            f" Approach {', '.join(missing)} is not fitted (too few IsoFLOP budgets have an interior minimum)."
            if missing
            else ""
        )


def table2(
    analysis: Analysis,
    isoflop: pd.DataFrame,
    envelope: pd.DataFrame,
    design: Design,
    *,
    n_boot: int = 100,
    seed: int = 0,
) -> Table2:
    """Hoffmann's Table 2 for our sweep: every approach refitted on ``n_boot`` subsamples of 80% of the
    runs (his scheme) and on as many resamples with replacement (Epoch's), 10th-90th percentiles."""
    samples = {
        scheme: bootstrap_exponents(
            _finals(isoflop),
            envelope,
            analysis.finals,
            design,
            n_boot=n_boot,
            scheme=scheme,
            seed=seed,
            param_fit=analysis.parametric,
        )
        for scheme in ("subsample", "resample")
    }
    ranges = {
        s: {k: {x: percentile_range(g[x]) for x in "ab"} for k, g in b.groupby("approach")} for s, b in samples.items()
    }
    point = {
        "1": analysis.envelope.frontier,
        "2": analysis.isoflop.frontier if analysis.isoflop else None,
        "3": analysis.parametric.params.frontier(),
    }
    return Table2(point, ranges, samples)


def edge_summary(profiles: tuple[fits.IsoFlopProfile, ...]) -> str:
    """How many IsoFLOP budgets have an interior minimum, naming those flagged and left out, and why
    Approach 2 is not fitted when too few remain."""
    edge = [p for p in profiles if not p.interior]
    inner = len(profiles) - len(edge)
    text = f"{inner} of {len(profiles)} budgets have an interior minimum"
    if edge:
        text += "; flagged and left out of Approach 2: " + "; ".join(f"C = {p.flops:.3g}" for p in edge)
    text += "."
    if inner < fits.ISOFLOP_MIN_BUDGETS:
        text += (
            f" Approach 2 is not fitted: its power law needs the minima of at least {fits.ISOFLOP_MIN_BUDGETS} "
            "budgets. Sample sizes on both sides of the optimum (a wider window or another centre)."
        )
    return text


def floor_report(analysis: Analysis) -> str:
    """The fitted E against the source's exact floor (with its bootstrap range), the fit with E held
    at the floor, and the likelihood-ratio test of E = floor (Besiroglu et al. 2024's test, df 1)."""
    if analysis.floor is None:
        return "The training language's floor is unknown (a text corpus), so E cannot be checked."
    p, floor, finals = analysis.parametric.params, analysis.floor, analysis.finals
    if analysis.bootstrap is not None:
        level = f"{analysis.bootstrap.level:.0%}"
        text = floor_verdict(p.E, analysis.bootstrap.interval("E"), floor, level)
    else:
        gap = p.E - floor
        text = (
            f"The fitted E = {p.E:.4f} nats lies {abs(gap):.4f} ({abs(gap) / floor:.1%}) "
            f"{'above' if gap > 0 else 'below'} the exact floor {floor:.4f}; no bootstrap was run (`n_boot = 0`)."
        )
    fixed = fit_fixed_floor(finals.n_params, finals.tokens, finals.loss, floor)
    stat, p_value = likelihood_ratio_test(fixed, p, finals.n_params, finals.tokens, finals.loss, df=1)
    reject = p_value < 0.05
    return (
        text + f" With E fixed at the floor the fit gives α = {fixed.alpha:.3f}, β = {fixed.beta:.3f}, "
        f"a = {fixed.a:.3f} (E free: α = {p.alpha:.3f}, β = {p.beta:.3f}, a = {p.a:.3f}). The likelihood-ratio "
        f"test of E = floor gives {stat:.2f} (df 1, p = {p_value:.3g}): the data "
        + (
            "reject the exact floor at 5%, so the losses do not follow the fitted form down to it."
            if reject
            else "do not reject the exact floor at 5%."
        )
    )


def compute_ratio(runs: pd.DataFrame) -> tuple[float, float]:
    """The smallest and largest ratio of the runs' compute (the design's count) to 6ND."""
    ratio = runs["flops"] / runs["flops_6nd"]
    return float(ratio.min()), float(ratio.max())


# ---------------------------------------------------------------------------------------------
# The chapter's page: what the notebook shows, built here so that the notebook stays prose
# ---------------------------------------------------------------------------------------------

CHINCHILLA_FLOPS = 6 * 70e9 * 1.4e12
"""Chinchilla's own budget (70B parameters on 1.4T tokens), where the chapter compares tokens per parameter."""
AVERAGED_FIT_MOVE = 0.05
"""A fit whose parameters (log A, log B, log E, alpha, beta) all move less than this from their start
has barely left it: Epoch's explanation of Hoffmann's estimate (an averaged Huber loss stops early)."""
_LOG = alt.Scale(type="log")


def given_budgets(budgets: list[float]) -> list[float]:
    """The IsoFLOP budgets the reader gave: the parameter's non-positive entries ([0.0]) mean none."""
    return [b for b in budgets if b > 0]


def profile_note(loaded: Loaded, asked: str) -> str:
    """Which profile the page shows, how many sweep runs are not stored yet, and why it is not the one
    asked for when none of that profile is stored."""
    text = f"**Results shown: the `{loaded.profile}` profile**"
    if loaded.pending:
        text += f" ({loaded.pending} sweep runs not stored yet)"
    if loaded.profile != asked:
        text += " (no full sweep is stored, so the quick profile is shown)"
    return text + "."


def sweep_summary(design: Design, floor: float | None, budgets_given: bool) -> str:
    """The sweep in numbers: the language and its floor, the budgets and sizes, and the compute by both counts."""
    iso_runs, env_runs = isoflop_runs(design), envelope_runs(design)
    floor_text = (
        f"its exact loss floor over a {design.context}-token context is **{floor:.4f} nats**"
        if floor is not None
        else "its loss floor is unknown (a text corpus)"
    )
    low, high = compute_ratio(pd.concat([iso_runs, env_runs]))
    return (
        f"Training language: `{design.source()!r}`; {floor_text}. "
        f"IsoFLOP: {len(design.budgets)} budgets from {min(design.budgets):.3g} to {max(design.budgets):.3g} FLOPs "
        f"({np.log10(max(design.budgets) / min(design.budgets)):.2f} decades), {design.sizes_per_budget} sizes each, "
        f"{iso_runs.n_params.nunique()} distinct sizes from {iso_runs.n_params.min():,.0f} to "
        f"{iso_runs.n_params.max():,.0f} parameters ({len(iso_runs)} runs). Approach 1: {envelope_plan(design)} "
        f"({len(env_runs)} runs). Compute: {iso_runs.flops.sum() + env_runs.flops.sum():.3g} FLOPs counted as "
        f"`{design.flops_count}`, {iso_runs.flops_6nd.sum() + env_runs.flops_6nd.sum():.3g} as 6ND "
        f"(per run, {low:.2f}-{high:.2f}x 6ND)." + budget_note(design, given=budgets_given)
    )


def curves_by_compute(curves: pd.DataFrame, design: Design) -> pd.DataFrame:
    """Training curves with ``flops``: the compute spent by each logged step, by the design's count."""
    per_token = flops_per_token_fn(design)
    return curves.assign(flops=lambda t: per_token(t.n_params) * t.step * t.tokens / t.steps)


def thinned_curves(curves: pd.DataFrame, per_run: int = 150) -> pd.DataFrame:
    """At most ``per_run`` points of each run's logged curve, evenly spaced in log step (the chart's log
    axis), first and last kept: enough to draw, under Altair's 5,000-row limit and light on the page.
    The fits use every point; only the drawing is thinned."""
    kept = []
    for _, run in curves.groupby("run", sort=False):
        picks = np.unique(np.rint(np.geomspace(1, len(run), per_run)).astype(int) - 1)
        kept.append(run if len(run) <= per_run else run.iloc[picks])
    return pd.concat(kept, ignore_index=True)


def envelope_winners(envelope: fits.EnvelopeFit, most: int = 60) -> pd.DataFrame:
    """The envelope's winning size and loss at every ``len // most``-th compute value, enough to draw."""
    winners = pd.DataFrame({"flops": envelope.flops, "n_opt": envelope.n_opt, "loss": envelope.loss})
    return winners.iloc[:: max(1, len(winners) // most)]


def envelope_chart(loaded: Loaded, analysis: Analysis) -> alt.TopLevelMixin:
    """Figure 2: the training curves with their envelope, and the winners' sizes with the fitted power law."""
    envelope = analysis.envelope
    curves = (
        alt.Chart(thinned_curves(curves_by_compute(loaded.envelope, loaded.design)))
        .mark_line(opacity=0.7)
        .encode(
            x=alt.X("flops:Q", scale=_LOG, axis=alt.Axis(format=".0e"), title=f"FLOPs ({loaded.design.flops_count})"),
            y=alt.Y("loss:Q", scale=alt.Scale(zero=False), title="training loss (nats)"),
            color=alt.Color("n_params:O", title="parameters N"),
            detail="run:N",
        )
    )
    winners = envelope_winners(envelope)
    frontier = alt.Chart(winners).mark_point(color="black", size=12).encode(x="flops:Q", y="loss:Q")
    n_opt = alt.Chart(winners).mark_point().encode(
        x=alt.X("flops:Q", scale=_LOG, axis=alt.Axis(format=".0e"), title="FLOPs"),
        y=alt.Y("n_opt:Q", scale=_LOG, title="N_opt (envelope)"),
    ) + alt.Chart(winners.assign(fit=envelope.n_fit(winners.flops))).mark_line().encode(x="flops:Q", y="fit:Q")
    return charts.with_source(
        alt.hconcat(curves + frontier, n_opt),
        loaded.sources[-1].describe(),
        title=f"Approach 1: N_opt ∝ C^{envelope.frontier.a:.2f}",
    )


def isoflop_finals(isoflop: pd.DataFrame, profiles: tuple[fits.IsoFlopProfile, ...]) -> pd.DataFrame:
    """The IsoFLOP runs' final losses, each marked by whether its budget's minimum is interior."""
    interior = {p.flops: p.interior for p in profiles}
    return _finals(isoflop).assign(interior=lambda t: t.budget.map(interior))


def parabolas(profiles: tuple[fits.IsoFlopProfile, ...], points: int = 40) -> pd.DataFrame:
    """Each budget's fitted parabola in log N, drawn at ``points`` sizes across its sampled range."""
    return pd.concat(
        [
            pd.DataFrame(
                {
                    "n_params": (n := np.geomspace(p.n_min, p.n_max, points)),
                    "budget": p.flops,
                    "interior": p.interior,
                    "loss": np.polyval(p.coefficients[::-1], np.log(n)),
                }
            )
            for p in profiles
        ]
    )


def isoflop_optima(profiles: tuple[fits.IsoFlopProfile, ...]) -> pd.DataFrame:
    """Each budget's parabola vertex, marked by whether it lies inside the sampled sizes."""
    return pd.DataFrame([{"flops": p.flops, "n_opt": p.n_opt, "interior": p.interior} for p in profiles])


def isoflop_chart(loaded: Loaded, analysis: Analysis) -> alt.TopLevelMixin:
    """Figure 3: the final losses per budget with their parabolas (dashed at an edge minimum), and the
    vertices with Approach 2's power law when it is fitted."""
    colour = alt.Color("budget:O", title="budget C (FLOPs)", legend=alt.Legend(format=".1e"))
    profiles = alt.Chart(isoflop_finals(loaded.isoflop, analysis.profiles)).mark_point(filled=True).encode(
        x=alt.X("n_params:Q", scale=_LOG, title="parameters N"),
        y=alt.Y("loss:Q", scale=alt.Scale(zero=False), title="final loss"),
        color=colour,
        shape=alt.Shape("interior:N", title="interior minimum"),
    ) + alt.Chart(parabolas(analysis.profiles)).mark_line().encode(
        x="n_params:Q",
        y="loss:Q",
        color=colour,
        detail="budget:N",
        strokeDash=alt.condition("datum.interior", alt.value([1, 0]), alt.value([4, 3])),
    )
    optima = isoflop_optima(analysis.profiles)
    vertices = (
        alt.Chart(optima)
        .mark_point(filled=True, size=60)
        .encode(
            x=alt.X("flops:Q", scale=_LOG, axis=alt.Axis(format=".0e"), title="budget C"),
            y=alt.Y("n_opt:Q", scale=_LOG, title="N_opt (parabola vertex)"),
            shape="interior:N",
        )
    )
    iso = analysis.isoflop
    if iso:
        vertices += alt.Chart(optima.assign(fit=iso.n_fit(optima.flops))).mark_line().encode(x="flops:Q", y="fit:Q")
    return charts.with_source(
        alt.hconcat(profiles, vertices),
        loaded.sources[0].describe(),
        title=f"Approach 2: N_opt ∝ C^{iso.frontier.a:.2f}" if iso else "Approach 2: not fitted",
    )


def iso_loss_contours(params: fits.LossParams, per_token: Callable, finals: pd.DataFrame) -> pd.DataFrame:
    """Curves of equal fitted loss in the (C, N) plane at the 10th-90th percentiles of the final losses,
    within the budgets the chart spans (half the smallest to ten times the largest)."""
    n_grid = np.geomspace(finals.n_params.min() / 2, finals.n_params.max() * 4, 200)
    parts = []
    for level in np.quantile(finals.loss, [0.1, 0.3, 0.5, 0.7, 0.9]):
        room = level - params.E - params.A / n_grid**params.alpha
        ok = room > 0  # sizes too small to reach this loss with any number of tokens have no point
        tokens = (params.B / room[ok]) ** (1 / params.beta)
        parts.append(
            pd.DataFrame({"n_params": n_grid[ok], "flops": per_token(n_grid[ok]) * tokens, "level": f"{level:.3f}"})
        )
    contours = pd.concat(parts)
    return contours[contours.flops.between(finals.flops.min() / 2, finals.flops.max() * 10)]


def frontier_lines(frontiers: dict[str, fits.Frontier | None], flops: np.ndarray) -> pd.DataFrame:
    """N_opt(C) of every fitted frontier over ``flops``, one line per approach (None: not fitted)."""
    return pd.concat(
        [
            pd.DataFrame({"flops": flops, "n_params": f.n_opt(flops), "approach": name})
            for name, f in frontiers.items()
            if f
        ]
    )


def parametric_chart(loaded: Loaded, analysis: Analysis) -> alt.TopLevelMixin:
    """Figure 4: the runs in the (C, N) plane coloured by loss, iso-loss contours of the fit, and the
    three approaches' efficient frontiers."""
    finals, p = analysis.finals, analysis.parametric.params
    lines = frontier_lines(
        {
            "1 envelope": analysis.envelope.frontier,
            "2 IsoFLOP": analysis.isoflop.frontier if analysis.isoflop else None,
            "3 parametric": p.frontier(),
        },
        np.geomspace(finals.flops.min() / 2, finals.flops.max() * 10, 60),
    )
    runs = (
        alt.Chart(finals)
        .mark_point(filled=True)
        .encode(
            x=alt.X("flops:Q", scale=_LOG, axis=alt.Axis(format=".0e"), title="FLOPs"),
            y=alt.Y("n_params:Q", scale=_LOG, title="parameters N"),
            color=alt.Color("loss:Q", scale=alt.Scale(scheme="viridis"), title="final loss"),
        )
    )
    contours = (
        alt.Chart(iso_loss_contours(p, flops_per_token_fn(loaded.design), finals))
        .mark_line(strokeDash=[2, 2], color="#999")
        .encode(x="flops:Q", y="n_params:Q", detail="level:N", order="n_params:Q")
    )
    frontiers = (
        alt.Chart(lines)
        .mark_line()
        .encode(x="flops:Q", y="n_params:Q", strokeDash=alt.StrokeDash("approach:N", title="efficient frontier"))
    )
    return charts.with_source(
        alt.layer(runs, contours, frontiers).resolve_scale(color="independent"),
        loaded.sources[0].describe(),
        loaded.sources[-1].describe(),
        title="Approach 3: iso-loss contours and the efficient frontiers",
    )


def fit_table(analysis: Analysis) -> Styler:
    """Approach 3's fitted parameters beside the source's exact floor ("unknown" for a corpus)."""
    p = analysis.parametric.params
    table = pd.DataFrame(
        {"E": [p.E], "A": [p.A], "B": [p.B], "alpha": [p.alpha], "beta": [p.beta], "true floor": [analysis.floor]}
    )
    return table.style.format(precision=4, na_rep="unknown").hide(axis="index")


def exponents_note(exponents: Table2, analysis: Analysis, design: Design) -> str:
    """Table 2's verdict, and Approach 3's a under the design's compute count beside Eq. 4's 6ND one."""
    p = analysis.parametric.params
    numeric = numeric_frontier(p, flops_per_token_fn(design), analysis.finals.flops.to_numpy())
    return (
        exponents.verdict() + f" Approach 3's a = β/(α+β) = {p.a:.3f} assumes C = 6ND; minimising the fitted "
        f"loss under the `{design.flops_count}` count instead gives a = {numeric.exponent:.3f}. "
        "Kaplan et al.'s a is 0.73."
    )


def projection(analysis: Analysis, design: Design) -> pd.DataFrame:
    """Table 3 from our Approach 1 frontier, for six sizes from the sweep's smallest to 100 times its largest."""
    sizes = isoflop_runs(design).n_params
    return fits.projection_table(analysis.envelope.frontier, np.geomspace(sizes.min(), sizes.max() * 100, 6).tolist())


def projection_table(table: pd.DataFrame) -> Styler:
    """Table 3 as the chapter shows it: budgets and tokens to three digits, sizes in full."""
    return table.style.format(
        {
            "parameters": "{:,.0f}",
            "flops": "{:.3g}",
            "gopher_units": "{:.2g}",
            "tokens": "{:.3g}",
            "tokens_per_parameter": "{:.1f}",
        }
    ).hide(axis="index")


def projection_note(table: pd.DataFrame) -> str:
    """The tokens per parameter our projection implies, beside Hoffmann's Table 3."""
    return (
        f"Our Approach 1 frontier implies {table.tokens_per_parameter.min():.1f} to "
        f"{table.tokens_per_parameter.max():.1f} tokens per parameter over these sizes; Hoffmann's Table 3 "
        "implies about 20 throughout (400M parameters on 8.0B tokens at 1.92e19 FLOPs, up to 10T on 216.2T). The "
        "number is a property of the language and the architecture, not a universal constant."
    )


@dataclass(frozen=True, eq=False)
class PublishedRefit:
    """Epoch's refit repeated on the points read back from Hoffmann's Figure 4: Approach 3 with the Huber
    loss summed (Epoch's fit) and averaged from Hoffmann's unrounded estimate (the premature stop
    Epoch blame), the likelihood-ratio test of Hoffmann's estimate, and the refit's bootstrap."""

    points: pd.DataFrame
    summed: fits.LossParams
    averaged: fits.LossParams
    averaged_iterations: int
    lr_statistic: float
    lr_p: float
    bootstrap: fits.BootstrapResult | None

    def table(self) -> pd.DataFrame:
        """Hoffmann's, Epoch's and our parameters, each with its frontier at Gopher's and Chinchilla's budgets."""
        rows = []
        for name, q in (
            ("Hoffmann (rounded)", fits.HOFFMANN_ROUNDED),
            ("Hoffmann (unrounded, TeX)", fits.HOFFMANN_UNROUNDED),
            ("Epoch main estimate", fits.EPOCH_ESTIMATE),
            ("our refit, summed Huber", self.summed),
            ("our refit, averaged Huber", self.averaged),
        ):
            f = q.frontier()
            rows.append(
                {
                    "parameters": name,
                    "E": q.E,
                    "A": q.A,
                    "B": q.B,
                    "alpha": q.alpha,
                    "beta": q.beta,
                    "a": q.a,
                    "N_opt at Gopher (B)": f.n_opt(fits.GOPHER_FLOPS) / 1e9,
                    "D/N at Chinchilla's C": f.tokens_per_parameter(CHINCHILLA_FLOPS),
                }
            )
        return pd.DataFrame(rows)

    def styled_table(self) -> Styler:
        """The table with A, B and the frontier columns to one decimal, the rest to four."""
        return (
            self.table()
            .style.format(precision=4)
            .format({"A": "{:.1f}", "B": "{:.1f}", "N_opt at Gopher (B)": "{:.1f}", "D/N at Chinchilla's C": "{:.1f}"})
            .hide(axis="index")
        )

    def report(self) -> str:
        """What the refit finds, from its numbers: Epoch's intervals, tokens per parameter, the premature
        stop, the likelihood-ratio test and (with a bootstrap) how wide Hoffmann's range should have been."""
        q, n = self.summed, len(self.points)
        outside = [k for k, (low, high) in fits.EPOCH_CI95.items() if not low <= getattr(q, k) <= high]
        moved = float(np.abs(self.averaged.theta - fits.HOFFMANN_UNROUNDED.theta).max())
        text = (
            f"On {n} points our summed-Huber refit gives E = {q.E:.3f}, α = {q.alpha:.4f}, β = {q.beta:.4f}; "
            f"{len(fits.EPOCH_CI95) - len(outside)} of its 5 parameters lie inside Epoch's 95% intervals"
            + (f" (outside: {', '.join(outside)})" if outside else "")
            + f". It implies {q.frontier().tokens_per_parameter(CHINCHILLA_FLOPS):.1f} tokens per parameter at "
            f"Chinchilla's budget, against {fits.HOFFMANN_UNROUNDED.frontier().tokens_per_parameter(CHINCHILLA_FLOPS):.0f} "
            f"(unrounded) and {fits.HOFFMANN_ROUNDED.frontier().tokens_per_parameter(CHINCHILLA_FLOPS):.0f} (rounded) "
            "from Hoffmann's parameters. Averaging the Huber loss instead and starting from Hoffmann's unrounded "
            f"values, L-BFGS stops after {self.averaged_iterations} iterations, its largest parameter change being "
            f"{moved:.3g}: "
            + (
                "it barely leaves its start, Epoch's explanation of Hoffmann's fit."
                if moved < AVERAGED_FIT_MOVE
                else "it does move away from its start here."
            )
            + " Epoch's likelihood-ratio test of Hoffmann's unrounded estimate against the refit, recomputed: "
            f"{self.lr_statistic:.1f} (df 5, p = {self.lr_p:.2g}); Epoch report 84.0, p = 1.2e-16."
        )
        if self.bootstrap is None:
            return text
        a80 = percentile_range(self.bootstrap.samples.a)
        hoffmann_low, hoffmann_high = HOFFMANN_TABLE2["3"][0][1:]
        needed = runs_needed(n, a80[1] - a80[0], hoffmann_high - hoffmann_low)
        a_low, a_high = self.bootstrap.interval("a")
        return text + (
            f" Hoffmann's 80% range for a is 0.001 wide; ours on {n} points is {a80[1] - a80[0]:.3f}, so at the "
            f"1/√n rate it would take about {needed:,.0f} runs (Epoch: over 600,000). Our "
            f"{len(self.bootstrap.samples)}-resample bootstrap puts a = β/(α+β) in ({a_low:.3f}, {a_high:.3f}) at "
            f"{self.bootstrap.level:.0%}, {a_high - a_low:.3f} wide, against Hoffmann's 80% range "
            f"({hoffmann_low}, {hoffmann_high})."
        )

    def residuals(self) -> pd.DataFrame:
        """Log loss minus log prediction at every point, for our refit and for Hoffmann's unrounded estimate."""
        n, d, loss = (self.points[c].to_numpy() for c in ("n_params", "tokens", "loss"))
        return pd.concat(
            [
                self.points.assign(residual=np.log(loss) - np.log(q.predict(n, d)), fit=name)
                for name, q in (("our refit", self.summed), ("Hoffmann unrounded", fits.HOFFMANN_UNROUNDED))
            ]
        )

    def residual_chart(self) -> alt.TopLevelMixin:
        """The residuals against compute, where a misfit shows as a trend away from zero."""
        return charts.with_source(
            alt.Chart(self.residuals())
            .mark_point(size=15)
            .encode(
                x=alt.X("flops:Q", scale=_LOG, axis=alt.Axis(format=".0e"), title="training FLOPs"),
                y=alt.Y("residual:Q", title="log loss − log prediction"),
                color="fit:N",
            )
            + alt.Chart(pd.DataFrame({"zero": [0.0]})).mark_rule(color="#888").encode(y="zero:Q"),
            f"Epoch's extracted Figure 4 data ({len(self.points)} points)",
            title="Residuals on the published data",
        )


def refit_published(points: pd.DataFrame, n_boot: int = 200) -> PublishedRefit:
    """Epoch's analysis of ``points`` (n_params, tokens, loss, flops): the summed-Huber refit, the averaged
    fit from Hoffmann's unrounded values, the likelihood-ratio test (df 5) and ``n_boot`` resamples (0: none)."""
    n, d, loss = points.n_params.to_numpy(), points.tokens.to_numpy(), points.loss.to_numpy()
    summed = fits.fit_parametric(n, d, loss)
    averaged = fits.fit_parametric(n, d, loss, init=fits.HOFFMANN_UNROUNDED.theta, reduction="mean")
    boot = fits.bootstrap_parametric(n, d, loss, n_boot=n_boot, fit=summed) if n_boot else None
    statistic, p_value = likelihood_ratio_test(fits.HOFFMANN_UNROUNDED, summed.params, n, d, loss, df=5)
    return PublishedRefit(points, summed.params, averaged.params, averaged.n_iter, statistic, p_value, boot)
