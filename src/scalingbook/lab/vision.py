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
everything after that (thresholds, subset sizes, bootstrap intervals, B) is computed from the tables by
:mod:`scalingbook.chapters.mirage`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal

import numpy as np
import pandas as pd
import torch

from scalingbook.lab.cpu import torch_threads
from scalingbook.lab.profiles import from_settings, load_profile
from scalingbook.lab.store import Result, ResultStore

VisionTask = Literal["autoencoder", "classifier"]
VISION_TASKS: tuple[VisionTask, ...] = ("autoencoder", "classifier")
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

    task: VisionTask
    widths: tuple[int, ...]
    seeds: int
    steps: int
    batch_size: int = 128
    learning_rate: float = 1e-2
    test_fraction: float = 0.3
    split_seed: int = 0

    def __post_init__(self) -> None:
        if self.task not in VISION_TASKS:
            raise ValueError(f"task: expected one of {VISION_TASKS}, got {self.task!r}")
        if not self.widths or min(self.widths) < 1 or len(set(self.widths)) != len(self.widths):
            raise ValueError(f"widths: expected distinct positive hidden widths, got {self.widths}")
        if min(self.seeds, self.steps, self.batch_size) < 1:
            raise ValueError(
                f"seeds, steps and batch_size must be positive, got {self.seeds}, {self.steps}, {self.batch_size}"
            )

    def params(self) -> dict[str, object]:
        """The store key: every field, widths as a sorted list."""
        return {**asdict(self), "widths": sorted(self.widths)}


@dataclass(frozen=True)
class Budget:
    """What a profile spends on each population: seeds per width and full-batch Adam steps."""

    seeds: int
    autoencoder_steps: int
    classifier_steps: int


SETTINGS = "mirage-vision"
"""Each profile's :class:`Budget`: ``profiles/mirage-vision.yaml`` (quick and full; no paper profile)."""


def budget(profile: str) -> Budget:
    """The budget of ``profile``, from the chapter's settings file (see :mod:`scalingbook.lab.profiles`)."""
    return from_settings(Budget, load_profile(SETTINGS, profile), SETTINGS, profile)


def profile_config(
    task: VisionTask, profile: str, widths: list[int] | tuple[int, ...], seeds: int = 0
) -> PopulationConfig:
    """The population a chapter trains for ``profile``; ``seeds=0`` takes the profile's seed count."""
    spend = budget(profile)
    steps = spend.autoencoder_steps if task == "autoencoder" else spend.classifier_steps
    return PopulationConfig(task, tuple(sorted(widths)), seeds or spend.seeds, steps)


def _member_generator(task: VisionTask, width: int, seed: int, stream: int = 0) -> torch.Generator:
    """A generator that depends only on (task, width, seed, stream), never on the rest of the population.

    Stream 0 draws the initial weights, stream 1 the minibatches.
    """
    state = np.random.SeedSequence([VISION_TASKS.index(task), width, seed, stream]).generate_state(1)[0]
    return torch.Generator().manual_seed(int(state))


def _init_population(
    config: PopulationConfig, n_out: int
) -> tuple[list[torch.Tensor], torch.Tensor, list[tuple[int, int]]]:
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


def _per_image_loss(task: VisionTask, logits: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
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
        batches = torch.stack(
            [torch.randint(0, len(x_train), (_BATCH_CHUNK, config.batch_size), generator=g) for g in generators], dim=1
        ).to(device)
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
            values = {
                "sq_error": _per_image_loss("autoencoder", logits, x_test, y_test).cpu().numpy().astype(np.float32)
            }
        else:
            predicted = logits.argmax(dim=-1).cpu().numpy()
            labels = np.broadcast_to(split.y_test, predicted.shape)
            values = {
                "label": labels.astype(np.int8),
                "predicted": predicted.astype(np.int8),
                "correct": predicted == labels,
            }
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


def population_result(
    config: PopulationConfig, profile: str, device: str = "cpu", store: ResultStore | None = None
) -> Result:
    """The stored per-image table of ``config``, training and storing it first if it is missing."""
    store = store or ResultStore.for_profile(profile)
    return store.cached(
        RESULT_NAMES[config.task],
        config.params(),
        lambda: train_population(config, device),
        profile=profile,
        device=device,
    )
