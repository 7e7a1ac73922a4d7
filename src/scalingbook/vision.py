"""Induced emergence in vision: smooth models, sharp metrics (Schaeffer, Miranda and Koyejo 2023, Sec. 5).

Schaeffer et al. show that a researcher can *make* a vision model family look emergent by choosing
a thresholded metric, while a continuous metric on the same outputs improves smoothly:

* **Reconstruction** (Sec. 5, Fig. 7): shallow nonlinear autoencoders of growing bottleneck width.
  Mean squared reconstruction error falls smoothly; ``Reconstruction_c`` (Eq. 2), the fraction of
  test images whose squared error is below c, jumps, and how sharply depends on c.
* **Classification** (Sec. 5, Fig. 8; App. B, Fig. 10): per-image accuracy rises smoothly with model
  size, but "all K images of a set correct" (subset accuracy) looks emergent for K > 1.

The papers' data sets (CIFAR-100, Omniglot, MNIST) are replaced by scikit-learn's 8x8 digits, which
ship with the package, and both model families by one-hidden-layer networks whose width is the scale
axis. Every width and seed trains as one batched population: each weight carries a leading member
axis and hidden units beyond a member's width are masked to zero, so a member's gradients never
depend on the others and a (width, seed) pair gives the same model, up to float rounding, whether
trained alone or with any other members. Training writes per-image tables to the results store;
everything after that (thresholds, subset sizes, bootstrap intervals, B) is computed from the tables.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Literal

import numpy as np
import pandas as pd
import torch

from scalingbook import metrics, stats
from scalingbook.cpu import torch_threads
from scalingbook.results import Result, ResultStore

Task = Literal["autoencoder", "classifier"]
TASKS: tuple[Task, ...] = ("autoencoder", "classifier")
RESULT_NAMES: dict[str, str] = {"autoencoder": "mirage/vision-autoencoder", "classifier": "mirage/vision-classifier"}
N_PIXELS = 64
N_CLASSES = 10
_BATCH_CHUNK = 100  # minibatch indices are drawn this many steps at a time; fixed, so streams never shift


@dataclass(frozen=True)
class DigitsSplit:
    """scikit-learn's digits, pixels scaled to [0, 1], split once into train and test images.

    ``test_index`` holds the positions of the test images in ``load_digits()``, so a stored
    per-image table can always be traced back to its image.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    test_index: np.ndarray


def load_digits_split(test_fraction: float = 0.3, split_seed: int = 0) -> DigitsSplit:
    """The 1,797 digits split by a seeded permutation: the same seed always gives the same split."""
    from sklearn.datasets import load_digits

    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction: expected a fraction in (0, 1), got {test_fraction}")
    digits = load_digits()
    x = (digits.data / 16.0).astype(np.float32)
    y = digits.target.astype(np.int64)
    order = np.random.default_rng(split_seed).permutation(len(x))
    n_test = int(round(test_fraction * len(x)))
    test, train = np.sort(order[:n_test]), np.sort(order[n_test:])
    return DigitsSplit(x[train], y[train], x[test], y[test], test)


@dataclass(frozen=True)
class PopulationConfig:
    """One population of one-hidden-layer networks: every width trained from every seed.

    ``task`` picks the output and the loss: an autoencoder reconstructs the 64 pixels through a
    bottleneck of ``width`` units (sigmoid output, squared error); a classifier predicts the digit
    (cross-entropy). Training is Adam on minibatches of ``batch_size`` training images drawn
    with replacement, for ``steps`` steps. All fields form the key under
    which the results store keeps the population's per-image table.
    """

    task: Task
    widths: tuple[int, ...]
    seeds: int
    steps: int
    batch_size: int = 128
    learning_rate: float = 1e-2
    test_fraction: float = 0.3
    split_seed: int = 0

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise ValueError(f"task: expected one of {TASKS}, got {self.task!r}")
        if not self.widths or min(self.widths) < 1 or len(set(self.widths)) != len(self.widths):
            raise ValueError(f"widths: expected distinct positive hidden widths, got {self.widths}")
        if min(self.seeds, self.steps, self.batch_size) < 1:
            raise ValueError(f"seeds, steps and batch_size must be positive, got {self.seeds}, {self.steps}, {self.batch_size}")

    def params(self) -> dict[str, object]:
        """The store key: every field, widths as a sorted list."""
        return {**asdict(self), "widths": sorted(self.widths)}


@dataclass(frozen=True)
class Budget:
    """What a profile spends on each population: seeds per width and full-batch Adam steps."""

    seeds: int
    autoencoder_steps: int
    classifier_steps: int


# Quick: a CPU minute for both populations; full: more seeds and training run to near convergence.
BUDGETS: dict[str, Budget] = {
    "quick": Budget(seeds=3, autoencoder_steps=1500, classifier_steps=400),
    "full": Budget(seeds=10, autoencoder_steps=6000, classifier_steps=1500),
}


def profile_config(task: Task, profile: str, widths: list[int] | tuple[int, ...], seeds: int = 0) -> PopulationConfig:
    """The population a chapter trains for ``profile``; ``seeds=0`` takes the profile's seed count."""
    if profile not in BUDGETS:
        raise ValueError(f"profile: expected one of {tuple(BUDGETS)}, got {profile!r}")
    budget = BUDGETS[profile]
    steps = budget.autoencoder_steps if task == "autoencoder" else budget.classifier_steps
    return PopulationConfig(task, tuple(sorted(widths)), seeds or budget.seeds, steps)


def _member_generator(task: Task, width: int, seed: int, stream: int = 0) -> torch.Generator:
    """A generator that depends only on (task, width, seed, stream), never on the rest of the population.

    Stream 0 draws the initial weights, stream 1 the minibatches.
    """
    state = np.random.SeedSequence([TASKS.index(task), width, seed, stream]).generate_state(1)[0]
    return torch.Generator().manual_seed(int(state))


def _init_population(config: PopulationConfig, n_out: int) -> tuple[list[torch.Tensor], torch.Tensor, list[tuple[int, int]]]:
    """Stacked weights (W1, b1, W2, b2), the hidden-unit mask and the (width, seed) of each member.

    Each member is initialised like ``torch.nn.Linear`` (uniform in +-1/sqrt(fan_in)) at its own
    width, then zero-padded to the widest member.
    """
    max_width = max(config.widths)
    members = [(w, s) for w in sorted(config.widths) for s in range(config.seeds)]
    shapes = {"w1": (N_PIXELS, max_width), "b1": (1, max_width), "w2": (max_width, n_out), "b2": (1, n_out)}
    stacked = {name: torch.zeros((len(members), *shape)) for name, shape in shapes.items()}
    mask = torch.zeros(len(members), 1, max_width)
    def uniform(gen: torch.Generator, *shape: int, fan_in: int) -> torch.Tensor:
        return (torch.rand(*shape, generator=gen) * 2 - 1) / fan_in**0.5

    for m, (width, seed) in enumerate(members):
        gen = _member_generator(config.task, width, seed)
        stacked["w1"][m, :, :width] = uniform(gen, N_PIXELS, width, fan_in=N_PIXELS)
        stacked["b1"][m, :, :width] = uniform(gen, 1, width, fan_in=N_PIXELS)
        stacked["w2"][m, :width, :] = uniform(gen, width, n_out, fan_in=width)
        stacked["b2"][m] = uniform(gen, 1, n_out, fan_in=width)
        mask[m, :, :width] = 1.0
    return [stacked[name] for name in ("w1", "b1", "w2", "b2")], mask, members


def _forward(x: torch.Tensor, weights: list[torch.Tensor], mask: torch.Tensor) -> torch.Tensor:
    """Logits of every member, shape (members, images, outputs); masked units contribute nothing."""
    w1, b1, w2, b2 = weights
    hidden = torch.tanh(torch.matmul(x, w1) + b1) * mask
    return torch.matmul(hidden, w2) + b2


def _per_image_loss(task: Task, logits: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """(members, images): summed squared pixel error, or cross-entropy of the true digit."""
    if task == "autoencoder":
        return ((torch.sigmoid(logits) - x) ** 2).sum(dim=-1)
    return -torch.log_softmax(logits, dim=-1).gather(-1, y.expand(logits.shape[:-1]).unsqueeze(-1)).squeeze(-1)


def train_population(
    config: PopulationConfig, device: str = "cpu", split: DigitsSplit | None = None, threads: int = 1
) -> pd.DataFrame:
    """Train every (width, seed) member and return one row per member and test image.

    Columns: ``width``, ``seed``, ``image`` (index into ``load_digits()``), then for an autoencoder
    ``sq_error`` = ||x - x_hat||^2 over the 64 pixels (the quantity Schaeffer Eq. 2 thresholds), and
    for a classifier ``label``, ``predicted`` and ``correct``. The loss summed over members is the
    sum of independent per-member losses, and Adam is elementwise, so members do not interact.

    The matrices are tiny (64 pixels, at most a few dozen hidden units), so extra CPU threads only
    add synchronisation: on a shared 2-core machine one thread trained about 5x faster than two.
    """
    with torch_threads(threads):
        return _train(config, device, split or load_digits_split(config.test_fraction, config.split_seed))


def _train(config: PopulationConfig, device: str, split: DigitsSplit) -> pd.DataFrame:
    """The body of :func:`train_population`, under its thread setting."""
    n_out = N_PIXELS if config.task == "autoencoder" else N_CLASSES
    weights, mask, members = _init_population(config, n_out)
    weights = [w.to(device).requires_grad_() for w in weights]
    mask = mask.to(device)
    x_train, y_train = torch.from_numpy(split.x_train).to(device), torch.from_numpy(split.y_train).to(device)
    optimiser = torch.optim.Adam(weights, lr=config.learning_rate)
    generators = [_member_generator(config.task, width, seed, stream=1) for width, seed in members]
    for start in range(0, config.steps, _BATCH_CHUNK):
        # Each member draws its own minibatches from its own stream, in chunks of a fixed size.
        batches = torch.stack([torch.randint(0, len(x_train), (_BATCH_CHUNK, config.batch_size), generator=g)
                               for g in generators], dim=1).to(device)
        for batch in batches[: config.steps - start]:
            optimiser.zero_grad(set_to_none=True)
            x, y = x_train[batch], y_train[batch]
            loss = _per_image_loss(config.task, _forward(x, weights, mask), x, y).mean(dim=1).sum()
            loss.backward()
            optimiser.step()
    with torch.no_grad():
        x_test, y_test = torch.from_numpy(split.x_test).to(device), torch.from_numpy(split.y_test).to(device)
        logits = _forward(x_test, weights, mask)
        if config.task == "autoencoder":
            values = {"sq_error": _per_image_loss("autoencoder", logits, x_test, y_test).cpu().numpy().astype(np.float32)}
        else:
            predicted = logits.argmax(dim=-1).cpu().numpy()
            labels = np.broadcast_to(split.y_test, predicted.shape)
            values = {"label": labels.astype(np.int8), "predicted": predicted.astype(np.int8),
                      "correct": predicted == labels}
    n_test = len(split.y_test)
    table = pd.DataFrame(
        {
            "width": np.repeat([w for w, _ in members], n_test).astype(np.int16),
            "seed": np.repeat([s for _, s in members], n_test).astype(np.int16),
            "image": np.tile(split.test_index, len(members)).astype(np.int16),
            **{name: column.reshape(-1) for name, column in values.items()},
        }
    )
    return table


def population_result(config: PopulationConfig, profile: str, device: str = "cpu", store: ResultStore | None = None) -> Result:
    """The stored per-image table of ``config``, training and storing it first if it is missing."""
    store = store or ResultStore.for_profile(profile)
    name = RESULT_NAMES[config.task]
    if store.exists(name, config.params()):
        return store.read(name, config.params())
    started = datetime.now(UTC)
    table = train_population(config, device)
    return store.write(name, config.params(), table, profile=profile, device=device, started=started)


def reconstruction_c(sq_error: np.ndarray, c: float | np.ndarray) -> np.ndarray:
    """Schaeffer et al. 2023, Eq. 2: Reconstruction_c = (1/N) sum_n 1[ ||x_n - x_hat_n||^2 < c ].

    ``sq_error`` holds one squared error per test image along its last axis; ``c`` may be an array
    of thresholds, which adds its shape in front. The inequality is strict, as in the paper.
    """
    errors = np.asarray(sq_error, dtype=np.float64)
    thresholds = np.asarray(c, dtype=np.float64)
    return (errors < thresholds.reshape(thresholds.shape + (1,) * errors.ndim)).mean(axis=-1)


def reconstruction_curves(table: pd.DataFrame, thresholds: list[float] | tuple[float, ...]) -> pd.DataFrame:
    """Per (width, seed): the mean squared error, and Reconstruction_c for each threshold c.

    Long format: one row per width, seed and c, with ``mse`` (the smooth metric of Fig. 7B: the
    mean over test images of ||x - x_hat||^2, in the same units as c) repeated on each c row, and
    ``reconstruction``.
    """
    rows = []
    for (width, seed), group in table.groupby(["width", "seed"], sort=True):
        errors = group["sq_error"].to_numpy()
        rates = reconstruction_c(errors, np.asarray(thresholds))
        for c, rate in zip(thresholds, rates):
            rows.append({"width": int(width), "seed": int(seed), "mse": float(errors.mean()), "c": float(c),
                         "reconstruction": float(rate)})
    return pd.DataFrame(rows)


def expected_subset_accuracy(accuracy: np.ndarray | float, k: int | np.ndarray) -> np.ndarray:
    """P(all K images correct) for K images drawn independently and uniformly: accuracy^K.

    Schaeffer et al. 2023, App. B (Fig. 10C) score a model 1 only if all K of K independent test
    images are classified correctly; with independent draws the expectation is exactly acc^K,
    the same geometric nonlinearity as exact match over L tokens (Sec. 2).
    """
    return np.asarray(accuracy, dtype=np.float64) ** np.asarray(k)


def sample_subsets(n_images: int, k: int, n_sets: int, rng_seed: int = 0) -> np.ndarray:
    """``n_sets`` sets of ``k`` test-image positions, each drawn independently and uniformly (with replacement)."""
    if min(n_images, k, n_sets) < 1:
        raise ValueError(f"n_images, k and n_sets must be positive, got {n_images}, {k}, {n_sets}")
    return np.random.default_rng([rng_seed, k]).integers(0, n_images, size=(n_sets, k))


def subset_accuracy_curves(
    table: pd.DataFrame, sizes: list[int] | tuple[int, ...], n_sets: int, rng_seed: int = 0
) -> pd.DataFrame:
    """Per (width, seed, K): accuracy, subset accuracy expected (acc^K) and measured on sampled K-sets.

    The measured value is the fraction of ``n_sets`` sampled sets in which every image is correct,
    a benchmark of ``n_sets`` items whose resolution is 1/n_sets. Every model is scored on the same
    sets (common random numbers), so differences between models are not differences between sets.
    """
    rows = []
    images = np.sort(table["image"].unique())
    sets = {k: sample_subsets(len(images), k, n_sets, rng_seed) for k in sizes}
    for (width, seed), group in table.groupby(["width", "seed"], sort=True):
        correct = group.set_index("image")["correct"].reindex(images).to_numpy(dtype=bool)
        accuracy = correct.mean()
        for k in sizes:
            rows.append({"width": int(width), "seed": int(seed), "k": int(k), "accuracy": float(accuracy),
                         "expected": float(expected_subset_accuracy(accuracy, k)),
                         "measured": float(correct[sets[k]].all(axis=1).mean())})
    return pd.DataFrame(rows)


def seed_intervals(frame: pd.DataFrame, value: str, by: list[str], confidence: float = 0.95) -> pd.DataFrame:
    """Mean of ``value`` over seeds with a bootstrap interval (seeds resampled), per group of ``by``.

    Uses :func:`scalingbook.stats.bootstrap_ci`, so intervals are reproducible; one row per group.
    """
    rows = []
    for key, group in frame.groupby(by, sort=True):
        interval = stats.bootstrap_ci(group[value].to_numpy(), confidence=confidence)
        rows.append({**dict(zip(by, key if isinstance(key, tuple) else (key,))),
                     "mean": interval.estimate, "low": interval.low, "high": interval.high})
    return pd.DataFrame(rows)


def breakthroughness_by_seed(frame: pd.DataFrame, value: str, by: list[str] | None = None, clip: float = 100.0) -> pd.DataFrame:
    """BIG-bench B (Schaeffer Eq. 1, :func:`scalingbook.metrics.breakthroughness`) of each seed's curve over width.

    One row per seed (and per group of ``by``, such as c or K). Higher-is-better metrics only: pass
    the negated error for an error metric. B is clipped at ``clip`` so flat-then-step curves, whose
    median step is zero (B infinite), stay plottable and orderable.
    """
    rows = []
    for key, group in frame.groupby([*(by or []), "seed"], sort=True):
        curve = group.sort_values("width")
        score = metrics.breakthroughness(curve[value].to_numpy(), curve["width"].to_numpy(), clip=clip)
        rows.append({**dict(zip([*(by or []), "seed"], key if isinstance(key, tuple) else (key,))), "B": float(score)})
    return pd.DataFrame(rows)


def emergence_scores(recon: pd.DataFrame, subsets: pd.DataFrame, clip: float = 100.0) -> pd.DataFrame:
    """How emergent each vision metric looks on the same models: B per seed, and the width growth of the mean.

    ``recon`` comes from :func:`reconstruction_curves` and ``subsets`` from
    :func:`subset_accuracy_curves`. For every metric (and c or K): the median over seeds of B
    (Schaeffer Eq. 1 via :func:`breakthroughness_by_seed`) with a bootstrap interval over seeds, and
    the :func:`transition_growth` of the seed-mean curve. The mean squared error is negated so that,
    like the others, higher is better. Per-image accuracy is the K = 1 row. One row per metric and setting.
    """
    one_c = recon[recon["c"] == recon["c"].iloc[0]].assign(negative_mse=lambda f: -f["mse"])
    curves = [("mean squared error (negated)", "", one_c, "negative_mse")]
    curves += [("Reconstruction_c", f"c = {c:g}", group, "reconstruction") for c, group in recon.groupby("c")]
    for column, label in (("expected", "all K correct, expected acc^K"), ("measured", "all K correct, sampled sets")):
        curves += [(label, f"K = {k}", group, column) for k, group in subsets.groupby("k")]
    rows = []
    for metric, setting, frame, value in curves:
        seeds_b = breakthroughness_by_seed(frame, value, clip=clip)["B"].to_numpy()
        interval = stats.bootstrap_ci(seeds_b, np.median)
        means = frame.groupby("width", as_index=False)[value].mean().rename(columns={value: "mean"})
        rows.append({"metric": metric, "setting": setting, "B": interval.estimate, "B_low": interval.low,
                     "B_high": interval.high, "width_growth": transition_growth(means)["growth"].iloc[0]})
    return pd.DataFrame(rows)


def transition_growth(summary: pd.DataFrame, by: str | None = None, low: float = 0.1, high: float = 0.9) -> pd.DataFrame:
    """How many-fold the width must grow to carry each seed-mean curve from ``low`` to ``high`` of its own range.

    ``summary`` is a :func:`seed_intervals` table (``width`` and ``mean``, plus the column ``by``
    that separates curves). Progress is measured from the curve's worst value to its best, in the
    direction it improves, so error and score curves compare alike, and a metric that saturates below
    1 is not penalised for it. A small factor is a jump, a large one a gradual rise; NaN for a flat curve.
    """
    rows = []
    groups = summary.groupby(by, sort=True) if by else [(None, summary)]
    for key, curve in groups:
        curve = curve.sort_values("width")
        values = curve["mean"].to_numpy()
        if np.argmax(values) < np.argmin(values):
            values = -values
        span = values.max() - values.min()
        progress = (values - values.min()) / span if span > 0 else np.full(len(values), np.nan)
        widths = curve["width"].to_numpy(dtype=np.float64)
        first = [widths[np.argmax(progress >= level)] if np.any(progress >= level) else np.nan for level in (low, high)]
        rows.append({**({by: key} if by else {}), "reaches_low": first[0], "reaches_high": first[1],
                     "growth": first[1] / first[0]})
    return pd.DataFrame(rows)


def largest_step(summary: pd.DataFrame) -> dict[str, float]:
    """Where a seed-mean curve (:func:`seed_intervals`: ``width``, ``mean``) takes its largest step up
    between neighbouring widths: ``before`` and ``after`` (the widths), ``highest_before`` (the
    curve's highest value up to ``before``) and ``at_after``. Read off the data, so a summary never
    assumes where the jump is."""
    curve = summary.sort_values("width")
    values, widths = curve["mean"].to_numpy(), curve["width"].to_numpy()
    j = int(np.argmax(np.diff(values)))
    return {"before": float(widths[j]), "after": float(widths[j + 1]), "highest_before": float(values[: j + 1].max()),
            "at_after": float(values[j + 1])}


def b_difference(a: pd.DataFrame, b: pd.DataFrame, value: str, confidence: float = 0.95, clip: float = 100.0) -> stats.Interval:
    """Median over seeds of B(a) - B(b), each seed's two curves paired, with a bootstrap interval over seeds.

    ``a`` and ``b`` are one setting each of the same models (say subset accuracy at K = 5 and at
    K = 1), with ``seed``, ``width`` and ``value`` columns; the claim "a is sharper than b" holds
    when the interval lies above zero.
    """
    scores = [breakthroughness_by_seed(frame, value, clip=clip).set_index("seed")["B"] for frame in (a, b)]
    differences = (scores[0] - scores[1]).dropna()
    return stats.bootstrap_ci(differences.to_numpy(), np.median, confidence=confidence)
