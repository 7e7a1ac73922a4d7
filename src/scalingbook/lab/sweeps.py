"""Sweeps: grids of population runs, each stored once under the hash of its parameters.

A sweep is a task, a list of architectures and a population of members trained on each. Every
architecture is one :class:`RunSpec`; its results go through the results store under
``SWEEP/records`` (per-example evaluation records, written last) and ``SWEEP/training`` (loss
curves, with the per-member summary in the manifest). A run whose records exist is never repeated,
and a run killed mid-training resumes from its checkpoint, so a sweep can be stopped and started
again at any point, or spread over several GPU sessions. Runs execute in this process or, through
submitit, as Slurm jobs.

Config files are YAML::

    name: count-width
    task: {name: count, train_length: 8, test_length: 10}
    model: {n_layers: 2, n_heads: 2, positional: rotary}   # shared by every grid point
    grid: [{d_model: 32}, {d_model: 64}]                   # one run per entry
    members: {seeds: 8, lr: 1.0e-3}                        # seeds: a count (0..n-1) or a list
    train: {steps: 500, batch_size: 64}
    eval: {n_examples: 500, seed: 1234}
    profiles: {quick: {train: {steps: 100}, members: {seeds: 4}}}   # overrides per profile

The top level is the ``paper`` profile (the paper's sizes, for a GPU or a cluster); ``profiles``
holds the ``quick`` (CI, minutes on a CPU) and ``full`` (what the book shows, hours on a 2-core CPU)
overrides, deep-merged into it by :mod:`scalingbook.lab.profiles`, the mechanism every chapter's
settings share. A profile the config does not define is refused rather than silently run at paper
size; a config without ``profiles`` is the same at every profile.

A ``mixture`` task lists its components, each a task mapping with a ``label`` and a ``weight``::

    task: {name: mixture, components: [{label: add-2, weight: 1, name: arithmetic, op: "+",
                                        train_length: 2, test_length: 2}, ...]}

A ``language`` task is next-token prediction on a training language (the Chinchilla sweeps):
``{name: language, context: 39, source: {kind: zipf-facts, n_facts: 1048576, ...}}``, ``kind`` one of
:data:`SOURCES`; its records are per-example teacher-forced losses (:func:`score_language`), not
greedy decodes. Members may carry one ``steps`` horizon each (``steps: [200, 450, ...]``, a list as
long as ``seeds``), and a grid entry may replace the sweep's ``members`` with its own, so that each
model size trains its own set of horizons (Hoffmann et al.'s IsoFLOP and Approach-1 runs).

Two optional evaluations store more tables beside the records, for the Mirage chapter (Schaeffer
et al. 2023): ``large_*`` a much larger test set of one component for the ``large_smallest``
smallest models only (``SWEEP/large``: exact match resolved at small values, Fig. 4), and
``choice_*`` a multiple-choice variant of one component (``SWEEP/choices``: per-example
log-likelihoods of ``choice_options`` candidates, Fig. 6); a component of ``""`` draws from the whole
mixture, every component alike, as its main test set does. Options left off are not part of a
run's identity, so adding one never changes the key of a stored run that does not use it.
"""

from __future__ import annotations

import fcntl
import json
import multiprocessing
import os
import shutil
import socket
import time
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, fields, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from scalingbook.lab.cpu import torch_threads
from scalingbook.lab.languages import MarkovSource, ZipfFactsSource
from scalingbook.lab.model import ModelConfig, flops_chinchilla, param_count
from scalingbook.lab.profiles import ProfileError, defined_profiles, read_settings, select_profile
from scalingbook.lab.store import (
    REPO_ROOT,
    Result,
    ResultStore,
    canonical_json,
    commit_label,
    git_state,
    param_hash,
    read_manifest,
    write_atomic,
)
from scalingbook.lab.tasks import (
    Count,
    Examples,
    FewShotArithmetic,
    IndexHintAddition,
    LanguageModelling,
    Mixture,
    Task,
    WordUnscramble,
    sample,
    sample_distinct,
)
from scalingbook.lab.train import RUNTIME_FIELDS, Member, TrainConfig, member_chunk

TASKS: dict[str, type] = {
    "count": Count,
    "addition": IndexHintAddition,
    "arithmetic": FewShotArithmetic,
    "unscramble": WordUnscramble,
    "mixture": Mixture,
    "language": LanguageModelling,
}
SOURCES: dict[str, type] = {"zipf-facts": ZipfFactsSource, "markov": MarkovSource}
"""Training languages a ``language`` task can name in ``source.kind``."""
SECTIONS = ("name", "task", "model", "grid", "members", "train", "eval")
EVAL_DEFAULTS = {
    "n_examples": 500,
    "seed": 1234,
    "batch_size": 256,
    # the test set holds n_examples distinct examples (tasks.sample_distinct), not n_examples draws
    "distinct": False,
    # a larger test set of component large_component ("" for a plain task) for the smallest runs
    "large_component": "",
    "large_n_examples": 0,
    "large_smallest": 0,
    # a multiple-choice variant of component choice_component: choice_options candidates each
    "choice_component": "",
    "choice_options": 0,
    "choice_n_examples": 0,
}
_EVAL_OPTIONAL = (
    "distinct",
    "large_component",
    "large_n_examples",
    "large_smallest",
    "choice_component",
    "choice_options",
    "choice_n_examples",
)
_COMPONENT_KEYS = {"label", "weight"}


class SweepError(ValueError):
    """A sweep config that cannot be run; the message names the file and the key."""


def _field_names(cls: type) -> set[str]:
    return {f.name for f in fields(cls)}


def _check_keys(where: str, given: dict[str, Any], allowed: set[str]) -> None:
    unknown = sorted(set(given) - allowed)
    if unknown:
        raise SweepError(f"{where}: unknown key(s) {unknown}; allowed: {sorted(allowed)}")


@dataclass(frozen=True)
class RunSpec:
    """One population run: task, architecture, members, training and evaluation settings."""

    sweep: str
    task: dict[str, Any]
    model: dict[str, Any]
    members: tuple[dict[str, Any], ...]
    train: dict[str, Any]
    eval: dict[str, Any]

    def params(self) -> dict[str, Any]:
        """The run's identity: everything that changes what it computes (optional evaluations only when on)."""
        train = {k: v for k, v in self.train.items() if k not in RUNTIME_FIELDS}
        evaluation = {k: v for k, v in self.eval.items() if k not in _EVAL_OPTIONAL or v != EVAL_DEFAULTS[k]}
        return {
            "task": self.task,
            "model": self.model,
            "members": list(self.members),
            "train": train,
            "eval": evaluation,
        }

    @property
    def key(self) -> str:
        return param_hash(self.params())

    def build_task(self) -> Task:
        return build_task(self.task)

    def model_config(self, task: Task) -> ModelConfig:
        seq_len = max(task.seq_len("train"), task.seq_len("test"))
        vocab = {"vocab_size": task.source.vocab_size} if isinstance(task, LanguageModelling) else {}
        return ModelConfig(**{"seq_len": seq_len, **vocab, **self.model})


def build_task(spec: dict[str, Any]) -> Task:
    """The task of a config mapping; a mixture's components are task mappings with a label and a weight."""
    spec = dict(spec)
    cls = TASKS[spec.pop("name")]
    if cls is LanguageModelling:
        source = dict(spec.pop("source"))
        return LanguageModelling(SOURCES[source.pop("kind")](**source), **spec)
    if cls is not Mixture:
        return cls(**spec)
    components = spec.pop("components")
    return Mixture(
        tasks=tuple(_component_task({k: v for k, v in c.items() if k not in _COMPONENT_KEYS}) for c in components),
        labels=tuple(str(c["label"]) for c in components),
        weights=tuple(float(c["weight"]) for c in components),
        **spec,
    )


def _component_task(spec: dict[str, Any]) -> Count | IndexHintAddition | FewShotArithmetic | WordUnscramble:
    """The task of a mixture component's mapping: any task but a mixture or a language task."""
    task = build_task(spec)
    if isinstance(task, (Mixture, LanguageModelling)):
        raise SweepError(f"a mixture component cannot be a {spec.get('name')!r} task")
    return task


def _check_task(where: str, task: Any, nested: bool = False) -> None:
    """Names and keys of a task mapping, recursing into a mixture's components."""
    if not isinstance(task, dict) or task.get("name") not in TASKS or (nested and task["name"] == "mixture"):
        names = sorted(n for n in TASKS if not (nested and n == "mixture"))
        got = task.get("name") if isinstance(task, dict) else task
        raise SweepError(f"{where}.name must be one of {names}, got {got!r}")
    if task["name"] == "language":
        _check_keys(where, task, {"name", "context", "source"})
        source = task.get("source")
        if not isinstance(source, dict) or source.get("kind") not in SOURCES:
            raise SweepError(f"{where}.source must be a mapping whose kind is one of {sorted(SOURCES)}")
        _check_keys(f"{where}.source", source, _field_names(SOURCES[source["kind"]]) | {"kind"})
        return
    if task["name"] != "mixture":
        _check_keys(where, task, _field_names(TASKS[task["name"]]) | {"name"} | (_COMPONENT_KEYS if nested else set()))
        if nested and not _COMPONENT_KEYS <= task.keys():
            raise SweepError(f"{where}: a mixture component needs a label and a weight")
        return
    _check_keys(where, task, {"name", "components"})
    components = task.get("components")
    if not isinstance(components, list) or not components:
        raise SweepError(f"{where}.components must be a non-empty list of task mappings")
    for i, component in enumerate(components):
        _check_task(f"{where}.components[{i}]", component, nested=True)


def _resolve_eval(evaluation: dict[str, Any], task: Task, rank: int, source: str) -> dict[str, Any]:
    """One run's evaluation settings: the large test set stays on only for the ``large_smallest`` smallest runs.

    ``rank`` is the run's place in the sweep by parameter count (0 the smallest). ``large_smallest``
    itself is a sweep-level setting and is dropped, so a run's identity does not depend on it.
    """
    labels = (*task.labels, "") if isinstance(task, Mixture) else ("",)
    for kind in ("large", "choice"):
        if evaluation[f"{kind}_n_examples"] and evaluation[f"{kind}_component"] not in labels:
            raise SweepError(
                f'{source}: eval.{kind}_component must be one of {list(labels)} ("": the whole task, every '
                f"component of a mixture), got {evaluation[f'{kind}_component']!r}"
            )
    if evaluation["choice_n_examples"] and evaluation["choice_options"] < 2:
        raise SweepError(f"{source}: eval.choice_options must be >= 2, got {evaluation['choice_options']}")
    out = {**evaluation, "large_smallest": 0}
    if rank >= evaluation["large_smallest"] or not evaluation["large_n_examples"]:
        out |= {"large_component": "", "large_n_examples": 0}
    return out


def component(task: Task, label: str) -> Task:
    """The component of a mixture called ``label``, or the task itself when ``label`` is empty."""
    if not label:
        return task
    if not isinstance(task, Mixture):
        raise ValueError(f"component {label!r} of a task that is not a mixture: {task!r}")
    return task.tasks[task.labels.index(label)]


@dataclass(frozen=True)
class Sweep:
    """A parsed, validated sweep config for one profile."""

    name: str
    runs: tuple[RunSpec, ...]

    @classmethod
    def from_dict(cls, config: dict[str, Any], profile: str = "quick", source: str = "sweep config") -> Sweep:
        try:
            config = select_profile(config, profile, source)
        except ProfileError as err:
            raise SweepError(str(err)) from None
        _check_keys(source, config, set(SECTIONS))
        for required in ("name", "task", "grid", "members", "train"):
            if required not in config:
                raise SweepError(f"{source}: missing required key {required!r}")
        task = dict(config["task"])
        _check_task(f"{source}: task", task)
        shared = dict(config.get("model") or {})
        grid = config["grid"]
        if not isinstance(grid, list) or not grid:
            raise SweepError(f"{source}: grid must be a non-empty list of model settings")
        model_keys = _field_names(ModelConfig) - {"seq_len", "vocab_size"}
        members = _members(config["members"], source)
        train = dict(config["train"])
        _check_keys(f"{source}: train", train, _field_names(TrainConfig))
        train = _checked_fields(f"{source}: train", "train", train)
        evaluation = {**EVAL_DEFAULTS, **(config.get("eval") or {})}
        _check_keys(f"{source}: eval", evaluation, set(EVAL_DEFAULTS))
        evaluation = _checked_fields(f"{source}: eval", "eval", evaluation)
        runs = []
        for i, point in enumerate(grid):
            point = dict(point)
            own = _members(point.pop("members"), f"{source}: grid[{i}]") if "members" in point else members
            model = {**shared, **point}
            _check_keys(f"{source}: grid[{i}]", model, model_keys)
            spec = RunSpec(str(config["name"]), task, model, own, train, evaluation)
            try:
                spec.model_config(spec.build_task())
                TrainConfig(**train)
            except (TypeError, ValueError) as err:
                raise SweepError(f"{source}: grid[{i}]: {err}") from None
            runs.append(spec)
        built = runs[0].build_task()
        if evaluation["distinct"]:
            try:  # before any training: a task with too few test problems fails here, not after
                main_test_examples(built, evaluation)
            except ValueError as err:
                raise SweepError(f"{source}: eval.distinct: {err}") from None
        sizes = [param_count(r.model_config(built)) for r in runs]
        rank = {i: r for r, i in enumerate(sorted(range(len(runs)), key=lambda i: (sizes[i], i)))}
        runs = [replace(r, eval=_resolve_eval(evaluation, built, rank[i], source)) for i, r in enumerate(runs)]
        return cls(str(config["name"]), tuple(runs))

    @classmethod
    def load(cls, path: Path, profile: str = "quick") -> Sweep:
        try:
            config = read_settings(path)
        except ProfileError as err:
            raise SweepError(f"sweep config {err}") from None
        return cls.from_dict(config, profile, source=str(path))


# Types and ranges of the members, train and eval fields, checked when a config is loaded so that a
# bad value is a one-line SweepError naming the field, not a traceback once training has started.
# (kind, lower bound, whether the bound is included, upper bound included); kind: int, float, bool, str.
_FIELD_RULES: dict[str, dict[str, tuple[str, float | None, bool, float | None]]] = {
    "members": {"lr": ("float", 0, False, None), "steps": ("int", 1, True, None)},
    "train": {
        "steps": ("int", 1, True, None),
        "batch_size": ("int", 1, True, None),
        "warmup_steps": ("int", 0, True, None),
        "min_lr_ratio": ("float", 0, True, 1),
        "weight_decay": ("float", 0, True, None),
        "beta1": ("float", 0, True, 1),
        "beta2": ("float", 0, True, 1),
        "eps": ("float", 0, False, None),
        "grad_clip": ("float", 0, False, None),
        "log_every": ("int", 1, True, None),
        "checkpoint_every": ("int", 1, True, None),
        "device": ("str", None, True, None),
        "compile": ("bool", None, True, None),
        "compile_mode": ("str", None, True, None),
        "cuda_graph": ("bool", None, True, None),
        "progress": ("bool", None, True, None),
        "member_chunk": ("int", 0, True, None),
    },
    "eval": {
        "n_examples": ("int", 1, True, None),
        "seed": ("int", 0, True, None),
        "batch_size": ("int", 1, True, None),
        "distinct": ("bool", None, True, None),
        "large_component": ("str", None, True, None),
        "large_n_examples": ("int", 0, True, None),
        "large_smallest": ("int", 0, True, None),
        "choice_component": ("str", None, True, None),
        "choice_options": ("int", 0, True, None),
        "choice_n_examples": ("int", 0, True, None),
    },
}


def _checked_fields(where: str, section: str, given: dict[str, Any]) -> dict[str, Any]:
    """``given`` with every field of ``section`` type- and range-checked (see ``_FIELD_RULES``).

    A number YAML reads as a string (PyYAML takes ``1e-3``, with no dot, for text) is accepted and
    converted; a value already of the right type is kept as it is, so a stored run's key never changes.
    """
    out = dict(given)
    for name, (kind, low, low_included, high) in _FIELD_RULES[section].items():
        if name not in given:
            continue
        value, field = given[name], f"{where}.{name}"
        if kind in ("str", "bool"):
            if type(value) is not (str if kind == "str" else bool):
                raise SweepError(f"{field} must be {'a string' if kind == 'str' else 'true or false'}, got {value!r}")
            continue
        number = value
        if isinstance(value, str):
            try:
                number = float(value.strip())
            except ValueError:
                raise SweepError(f"{field} must be a number, got {value!r}") from None
        if isinstance(number, bool) or not isinstance(number, (int, float)) or not np.isfinite(number):
            raise SweepError(f"{field} must be a finite number, got {value!r}")
        if kind == "int" and isinstance(number, float):
            if not number.is_integer():
                raise SweepError(f"{field} must be a whole number, got {value!r}")
            number = int(number)
        out[name] = number
        too_low = low is not None and (number < low if low_included else number <= low)
        if too_low or (high is not None and number > high):
            bound = " and ".join(
                b
                for b in (
                    f"{'>=' if low_included else '>'} {low:g}" if low is not None else "",
                    f"<= {high:g}" if high is not None else "",
                )
                if b
            )
            raise SweepError(f"{field} must be {bound}, got {value!r}")
    return out


def _members(spec: Any, source: str) -> tuple[dict[str, Any], ...]:
    """Members from ``{seeds: n | [s, ...], lr: x, steps: n | [n, ...]}``: one per seed; a list of
    steps gives each member its own horizon, in the order of the seeds."""
    if not isinstance(spec, dict) or "seeds" not in spec:
        raise SweepError(f"{source}: members must be a mapping with 'seeds' (a count or a list)")
    _check_keys(f"{source}: members", spec, {"seeds", "lr", "steps"})
    steps = spec.get("steps")
    per_member = isinstance(steps, list)
    spec = _checked_fields(
        f"{source}: members", "members", {k: v for k, v in spec.items() if not (per_member and k == "steps")}
    )
    seeds = spec["seeds"]
    if not (type(seeds) is int and seeds >= 1) and not (
        isinstance(seeds, list) and all(type(s) is int and s >= 0 for s in seeds)
    ):
        raise SweepError(
            f"{source}: members.seeds must be a positive count or a list of distinct seeds >= 0, got {seeds!r}"
        )
    seeds = list(range(seeds)) if isinstance(seeds, int) else list(seeds)
    if not seeds or len(set(seeds)) != len(seeds):
        raise SweepError(f"{source}: members.seeds must be a positive count or a list of distinct seeds")
    extra = {k: spec[k] for k in ("lr", "steps") if k in spec}
    if isinstance(steps, list):  # per_member
        if len(steps) != len(seeds):
            raise SweepError(
                f"{source}: members.steps as a list needs one positive integer per seed "
                f"({len(seeds)}), got {len(steps)} values"
            )
        steps = [_checked_fields(f"{source}: members", "members", {"steps": n})["steps"] for n in steps]
        return tuple({"seed": int(s), **extra, "steps": n} for s, n in zip(seeds, steps))
    return tuple({"seed": int(s), **extra} for s in seeds)


def work_dir(spec: RunSpec, profile: str) -> Path:
    """Where a run keeps its checkpoints and finished member groups while it trains (ignored by git,
    deleted once the run is stored)."""
    return REPO_ROOT / ".cache" / "checkpoints" / profile / spec.sweep / spec.key


def _train_config(spec: RunSpec, device: str) -> TrainConfig:
    return TrainConfig(**{**spec.train, "device": device, "progress": False})


def chunk_count(spec: RunSpec, device: str) -> int:
    """Member groups the run trains as separate batched models (see :func:`scalingbook.lab.train.member_chunk`)."""
    size = member_chunk(_train_config(spec, device), len(spec.members))
    return -(-len(spec.members) // size)


def chunk_cost(spec: RunSpec, device: str, index: int) -> float:
    """Training FLOPs of one member group (Chinchilla App. F count): the unit of the sweep's time estimates."""
    cfg = _train_config(spec, device)
    size = member_chunk(cfg, len(spec.members))
    group = spec.members[index * size : (index + 1) * size]
    task = spec.build_task()
    seq = task.seq_len("train")
    steps = sum(m.get("steps") or cfg.steps for m in group)
    return float(flops_chinchilla(spec.model_config(task), steps * cfg.batch_size * seq, seq))


def _chunk_files(spec: RunSpec, profile: str, index: int) -> tuple[Path, Path]:
    """A member group's checkpoint and its finished marker (JSON written after its tables)."""
    folder = work_dir(spec, profile)
    return folder / f"chunk-{index:03d}.pt", folder / f"chunk-{index:03d}.json"


def chunk_done(spec: RunSpec, profile: str, index: int) -> bool:
    return _chunk_files(spec, profile, index)[1].is_file()


def run_chunk(spec: RunSpec, profile: str, device: str, index: int, deadline: float | None = None) -> dict[str, Any]:
    """Train and evaluate member group ``index`` of a run and keep its tables in the run's work folder.

    Returns ``{"status": "done" | "stopped", "cpu_seconds": ...}``; "stopped" means ``deadline``
    came first and the group's checkpoint holds its progress. Top-level, so worker processes can run it.
    """
    from scalingbook.lab.evaluate import evaluate
    from scalingbook.lab.train import TimeUp, train

    checkpoint, marker = _chunk_files(spec, profile, index)
    if marker.is_file():
        return {"status": "done", "cpu_seconds": 0.0}
    checkpoint.parent.mkdir(parents=True, exist_ok=True)
    cfg = _train_config(spec, device)
    size = member_chunk(cfg, len(spec.members))
    offset = index * size
    members = [Member(**m) for m in spec.members[offset : offset + size]]
    task = spec.build_task()
    # CPU time and commits of earlier sittings of this group, so a run resumed across sittings records
    # all of its time and every commit whose code trained it.
    spent_file = checkpoint.with_name(f"chunk-{index:03d}-spent.json")
    fresh = {"cpu_seconds": 0.0, "commits": []}
    spent: dict[str, Any] = json.loads(spent_file.read_text()) if spent_file.is_file() else fresh
    # A note written before notes named commits still had an earlier sitting, at a commit not known.
    earlier, commits = spent["cpu_seconds"], _with_this_commit(spent.get("commits", ["unknown"]))
    cpu_start, wall_start = time.process_time(), time.time()
    with torch_threads(1 if device == "cpu" else None):
        try:
            result = train(spec.model_config(task), members, task, cfg, checkpoint, deadline)
        except TimeUp:
            sitting = time.process_time() - cpu_start
            write_atomic(spent_file, json.dumps({"cpu_seconds": earlier + sitting, "commits": commits}).encode())
            return {"status": "stopped", "cpu_seconds": sitting}
        tables = {"training": result.losses(), **_extra_evaluations(spec, task, result.model)}
        examples = main_test_examples(task, spec.eval)
        score = score_language if isinstance(task, LanguageModelling) else evaluate
        tables["records"] = score(result.model, examples, batch_size=spec.eval["batch_size"])
    summary = result.summary()
    for table in (*tables.values(), summary):
        table["member"] = (table["member"] + offset).astype(np.int16)
    for name, table in tables.items():
        write_atomic(checkpoint.with_name(f"chunk-{index:03d}-{name}.parquet"), table.to_parquet(index=False))
    seconds = earlier + time.process_time() - cpu_start
    done = {
        "status": "done",
        "cpu_seconds": seconds,
        "commits": commits,
        "wall_seconds": time.time() - wall_start,
        "tables": sorted(tables),
        "summary": summary.to_dict(orient="records"),
    }
    write_atomic(marker, json.dumps(done, default=float).encode())
    checkpoint.unlink(missing_ok=True)
    spent_file.unlink(missing_ok=True)
    return done


def _with_this_commit(earlier: list[str]) -> list[str]:
    """``earlier`` sittings' commits and this one's (:func:`commit_label`), each once."""
    return list(dict.fromkeys([*earlier, commit_label(*git_state())]))


def recheck_first_group(spec: RunSpec, profile: str, store: ResultStore, device: str = "cpu") -> pd.DataFrame:
    """Retrain member group 0 of the stored run ``spec`` with the code checked out here and compare its
    records with the stored ones: per numeric column, the largest absolute difference over the group's
    (member, example) rows; 0 everywhere means bit for bit. How a rerun on another machine or at another
    commit is checked against committed results without retraining the whole run. Refused while the
    run has a work folder (a sitting in progress), which this would overwrite; the folder it makes is removed."""
    stored = store.read(f"{spec.sweep}/records", spec.params())
    folder = work_dir(spec, profile)
    if folder.exists():
        raise SweepError(f"{folder} holds a sitting in progress of this run; finish or remove it first")
    try:
        run_chunk(spec, profile, device, 0)
        fresh = pd.read_parquet(folder / "chunk-000-records.parquet")
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    rows = ["member", "example"]
    both = fresh.merge(stored.table, on=rows, suffixes=("", "_stored"), validate="one_to_one")
    if len(both) != len(fresh):
        raise SweepError(f"{len(fresh) - len(both)} rows of the rerun have no stored counterpart: not the same test")
    columns = [c for c in fresh.columns if c not in rows and pd.api.types.is_numeric_dtype(fresh[c])]
    gaps = [(both[c].astype(float) - both[f"{c}_stored"].astype(float)).abs().max() for c in columns]
    return pd.DataFrame({"column": columns, "max_abs_diff": np.asarray(gaps, dtype=float)})


def score_language(model: Any, examples: Any, batch_size: int = 256) -> pd.DataFrame:
    """Teacher-forced test loss of every member on every example of a language task: one row per
    (member, example) with the summed negative log-likelihood of tokens 2..T (``nll``) and their
    number (``tokens``), so a member's test loss is sum(nll) / sum(tokens)."""
    import torch

    from scalingbook.lab.evaluate import target_logprobs

    parts = []
    device = next(model.parameters()).device
    for start in range(0, len(examples), batch_size):
        tokens = torch.from_numpy(examples.tokens[start : start + batch_size].astype(np.int64)).to(device)
        parts.append(-target_logprobs(model, tokens).sum(-1).cpu().numpy())
    nll = np.concatenate(parts, axis=1)  # (M, N)
    m, n = nll.shape
    return pd.DataFrame(
        {
            "member": np.repeat(np.arange(m), n).astype(np.int16),
            "example": np.tile(np.arange(n), m).astype(np.int32),
            "nll": nll.ravel().astype(np.float64),
            "tokens": np.full(m * n, examples.tokens.shape[1] - 1, dtype=np.int16),
        }
    )


def store_run(spec: RunSpec, profile: str, device: str, store: ResultStore) -> Result:
    """Join a run's finished member groups into its stored tables (records last), then clear its work folder."""
    folder = work_dir(spec, profile)
    chunks = [json.loads(_chunk_files(spec, profile, i)[1].read_text()) for i in range(chunk_count(spec, device))]
    summary = pd.DataFrame([row for c in chunks for row in c["summary"]])
    cpu_seconds = round(sum(c["cpu_seconds"] for c in chunks), 3)
    started = datetime.fromtimestamp(
        min(_chunk_files(spec, profile, i)[1].stat().st_mtime - c["wall_seconds"] for i, c in enumerate(chunks)),
        UTC,
    )
    common: dict[str, Any] = {"profile": profile, "device": device, "started": started}
    size = member_chunk(_train_config(spec, device), len(spec.members))
    trained_at = list(dict.fromkeys(commit for c in chunks for commit in c.get("commits", ["unknown"])))
    runtime = {"cpu_seconds": cpu_seconds, "member_chunk": size, "trained_at_commits": trained_at}

    def joined(name: str) -> pd.DataFrame:
        parts = [pd.read_parquet(folder / f"chunk-{i:03d}-{name}.parquet") for i in range(len(chunks))]
        return pd.concat(parts, ignore_index=True)

    store.write(
        f"{spec.sweep}/training",
        spec.params(),
        joined("training"),
        **common,
        extra={**runtime, "members_summary": summary.to_dict(orient="records")},
    )
    for name in chunks[0]["tables"]:
        if name not in ("training", "records"):
            store.write(f"{spec.sweep}/{name}", spec.params(), joined(name), **common)
    written = store.write(
        f"{spec.sweep}/records",
        spec.params(),
        joined("records"),
        **common,
        extra={**runtime, "diverged_seeds": summary.loc[summary["diverged"], "seed"].tolist()},
    )
    shutil.rmtree(folder, ignore_errors=True)
    return written


def _store(profile: str, store_root: str | Path | None) -> ResultStore:
    return ResultStore(Path(store_root)) if store_root else ResultStore.for_profile(profile)


def run_one(spec: RunSpec, profile: str, device: str = "cpu", store_root: str | None = None) -> Result:
    """Train and evaluate one run here, group by group, or read it if it is stored already."""
    store = _store(profile, store_root)
    if store.exists(f"{spec.sweep}/records", spec.params()):
        return store.read(f"{spec.sweep}/records", spec.params())
    for index in range(chunk_count(spec, device)):
        run_chunk(spec, profile, device, index)
    return store_run(spec, profile, device, store)


def main_test_examples(task: Task, evaluation: dict[str, Any]) -> Examples:
    """A run's main test set: ``n_examples`` draws of the eval seed's test stream, or with ``distinct``
    the first ``n_examples`` distinct problems in it."""
    if evaluation.get("distinct", EVAL_DEFAULTS["distinct"]):  # a spec rebuilt from a manifest omits it when off
        return sample_distinct(task, evaluation["n_examples"], evaluation["seed"])
    return sample(task, evaluation["n_examples"], "test", evaluation["seed"])


def _extra_evaluations(spec: RunSpec, task: Task, model: Any) -> dict[str, Any]:
    """The optional tables of a run: ``large`` (a big test set) and ``choices`` (multiple choice).

    Each draws from its component's own test stream, seeded ``eval.seed + 1`` and ``+ 2`` so it
    is independent of the main test set; rows carry the component's index like the records do.
    """
    from scalingbook.lab.evaluate import choice_options, evaluate, option_logprobs

    ev, tables = spec.eval, {}
    for kind, offset in (("large", 1), ("choice", 2)):
        if not ev[f"{kind}_n_examples"]:
            continue
        label = ev[f"{kind}_component"]
        examples = sample(component(task, label), ev[f"{kind}_n_examples"], "test", ev["seed"] + offset)
        if label and isinstance(task, Mixture):  # component() refused a label of any other task
            examples = replace(examples, component=np.full(len(examples), task.labels.index(label), dtype=np.int8))
        if kind == "large":
            tables["large"] = evaluate(model, examples, batch_size=ev["batch_size"])
        else:
            options, correct = choice_options(examples, ev["choice_options"], ev["seed"] + offset)
            tables["choices"] = option_logprobs(model, examples, options, correct, batch_size=ev["batch_size"])
    return tables


def load_tables(sweep: Sweep, name: str, profile: str, store_root: Path | None = None) -> list[Result | None]:
    """The stored ``name`` table (records, training, large or choices) of every run, None where absent."""
    store = ResultStore(Path(store_root)) if store_root else ResultStore.for_profile(profile)
    return [
        store.read(f"{s.sweep}/{name}", s.params()) if store.exists(f"{s.sweep}/{name}", s.params()) else None
        for s in sweep.runs
    ]


def without_diverged(table: pd.DataFrame, records: Result) -> tuple[pd.DataFrame, int]:
    """``table`` (any per-seed table of a run: records, choices, large) without the seeds that diverged
    in training (:func:`diverged_seeds` of the run's ``records``), and how many those are: every table
    of a run drops the same members."""
    diverged = diverged_seeds(records)
    return table[~table["seed"].isin(diverged)], len(diverged)


def diverged_seeds(records: Result) -> list[int]:
    """Seeds of a stored run that diverged (:func:`scalingbook.lab.train.diverged_from_losses`).

    ``records`` is a run's stored ``records`` table; the rule reads the loss curves stored beside it
    (``training``, same parameter hash). Where those are missing, the seeds the trainer itself
    recorded as non-finite (the manifest's ``diverged_seeds``) are all that is known.
    """
    from scalingbook.lab.store import load_result
    from scalingbook.lab.train import diverged_from_losses

    name = str(records.manifest.get("name", ""))
    parts = len(name.split("/"))
    folder = Path(records.path)
    training = (
        folder.parents[parts] / f"{name[: -len('records')]}training" / folder.name
        if (name.endswith("/records") and len(folder.parents) > parts)
        else None
    )
    if training is None or not (training / "manifest.json").is_file():
        return sorted(int(s) for s in records.manifest.get("diverged_seeds", []))
    params = records.manifest["params"]
    spec = RunSpec(name[: -len("/records")], params["task"], params["model"], (), params["train"], params["eval"])
    vocab = spec.model_config(spec.build_task()).vocab_size
    flags = diverged_from_losses(load_result(training).table, by="seed", vocab_size=vocab)
    return sorted(int(s) for s in flags.index[flags.to_numpy()])


MIN_TIME_LIMIT_S = 60.0
"""The shortest --time-limit accepted: a worker needs about this long to start, train a step of a
member group and write its checkpoint; a shorter limit could stop before anything is saved."""


@dataclass
class Progress:
    """What a sitting of :func:`run_sweeps` did and what is left, for its closing report."""

    runs_stored: int = 0
    runs_total: int = 0
    chunks_left: int = 0
    flops_left: float = 0.0
    flops_done: float = 0.0
    cpu_seconds: float = 0.0
    stopped: bool = False

    def estimate_cpu_hours(self) -> float | None:
        """CPU-hours the remaining groups need at the rate this sitting measured (None before any finished)."""
        if not self.flops_done:
            return None
        return self.flops_left * self.cpu_seconds / self.flops_done / 3600

    def report(self) -> str:
        left = self.estimate_cpu_hours()
        eta = (
            "none"
            if not self.chunks_left
            else "unknown until a group finishes"
            if left is None
            else f"about {left:.2f} CPU-hours at this sitting's rate"
        )
        head = "stopped at the time limit" if self.stopped else "finished"
        return (
            f"{head}: {self.runs_stored} of {self.runs_total} runs stored, {self.chunks_left} member groups "
            f"left (CPU time left: {eta}); this sitting used {self.cpu_seconds / 3600:.2f} CPU-hours"
        )


@contextmanager
def sweep_lock(sweep: Sweep, profile: str) -> Iterator[None]:
    """Hold the lock of (sweep, profile), or fail naming the process that holds it.

    ``flock`` dies with its holder, so a killed sweep never leaves a stale lock behind.
    """
    path = REPO_ROOT / ".cache" / "locks" / f"{profile}-{sweep.name.replace('/', '-')}.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            raise SweepError(
                f"sweep {sweep.name} ({profile} profile) is being run by another process "
                f"({handle.read().strip() or 'unknown'}); wait for it or stop it"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(
            f"pid {os.getpid()} on {socket.gethostname()} since {datetime.now(UTC).isoformat(timespec='seconds')}"
        )
        handle.flush()
        yield


def run_sweeps(
    sweeps: list[Sweep],
    profile: str,
    device: str = "cpu",
    workers: int = 1,
    time_limit: float | None = None,
    store_root: Path | None = None,
    log: Callable[[str], None] = print,
    progress: bool = False,
) -> Progress:
    """Train every pending member group of ``sweeps``, ``workers`` at a time, until done or ``time_limit`` s.

    Groups run in this process (``workers=1``) or in as many worker processes, each on one thread.
    A group stopped by the limit keeps its checkpoint; a finished one keeps its tables; a run is
    stored as soon as all its groups are done. Calling again continues where this stopped, and
    the stored results are bit-identical whatever ``workers`` and however many sittings.
    """
    if time_limit is not None and time_limit < MIN_TIME_LIMIT_S:
        raise SweepError(
            f"--time-limit {time_limit:g} s is shorter than the {MIN_TIME_LIMIT_S:g} s a worker needs "
            "to start, train and write a checkpoint"
        )
    if workers < 1:
        raise SweepError(f"--workers must be >= 1, got {workers}")
    deadline = None if time_limit is None else time.time() + time_limit
    store = _store(profile, store_root)
    done = Progress()
    with ExitStack() as stack:
        for sweep in sweeps:  # reading a finished sweep takes no lock, so it works from a read-only checkout
            if not all(store.exists(f"{s.sweep}/records", s.params()) for s in sweep.runs):
                stack.enter_context(sweep_lock(sweep, profile))
        jobs, left = [], {}
        for sweep in sweeps:
            pending = [s for s in sweep.runs if not store.exists(f"{s.sweep}/records", s.params())]
            for spec in sweep.runs:  # a damaged stored run stops the sweep here, before any training
                if spec not in pending:
                    store.read(f"{spec.sweep}/records", spec.params())
            done.runs_total += len(sweep.runs)
            done.runs_stored += len(sweep.runs) - len(pending)
            log(
                f"{sweep.name}: {len(sweep.runs) - len(pending)} of {len(sweep.runs)} runs stored, {len(pending)} to run"
            )
            for spec in pending:
                todo = [i for i in range(chunk_count(spec, device)) if not chunk_done(spec, profile, i)]
                left[spec.sweep, spec.key] = len(todo)
                jobs += [(spec, i, chunk_cost(spec, device, i)) for i in todo]
                if not todo:
                    store_run(spec, profile, device, store)
                    done.runs_stored += 1
        done.chunks_left = len(jobs)
        done.flops_left = sum(cost for *_, cost in jobs)
        bar = tqdm(
            total=done.flops_left,
            unit="FLOP",
            unit_scale=True,
            disable=not progress or not jobs,
            desc="sweep",
            smoothing=0.1,
        )
        pool = (
            stack.enter_context(ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")))
            if workers > 1
            else None
        )

        def finished(spec: RunSpec, cost: float, outcome: dict[str, Any]) -> None:
            done.cpu_seconds += outcome["cpu_seconds"]
            if outcome["status"] != "done":
                done.stopped = True
                return
            done.chunks_left -= 1
            done.flops_left -= cost
            done.flops_done += cost
            bar.update(cost)
            left[spec.sweep, spec.key] -= 1
            if not left[spec.sweep, spec.key]:
                store_run(spec, profile, device, store)
                done.runs_stored += 1
                log(f"{spec.sweep}: stored {canonical_json(spec.model)}")

        with bar:
            if pool is None:
                for spec, index, cost in jobs:
                    if deadline is not None and time.time() >= deadline:
                        done.stopped = True
                        break
                    finished(spec, cost, run_chunk(spec, profile, device, index, deadline))
            else:
                queue = list(jobs)
                running: dict[Future[dict[str, Any]], tuple[RunSpec, float]] = {}
                while queue or running:
                    while (
                        queue
                        and len(running) < workers
                        and not done.stopped
                        and (deadline is None or time.time() < deadline)
                    ):
                        spec, index, cost = queue.pop(0)
                        running[pool.submit(run_chunk, spec, profile, device, index, deadline)] = (spec, cost)
                    if not running:
                        done.stopped = bool(queue)
                        break
                    finished_now, _ = wait(running, return_when=FIRST_COMPLETED)
                    for future in finished_now:
                        finished(*running.pop(future), future.result())
    log(done.report())
    return done


def run_sweep(
    sweep: Sweep,
    profile: str,
    device: str = "cpu",
    executor: Any | None = None,
    store_root: Path | None = None,
    log: Callable[[str], None] = print,
    workers: int = 1,
) -> list[Result]:
    """Run every pending run of ``sweep`` to the end and return all its results, stored ones included.

    ``executor`` is a submitit executor (for Slurm): each pending run becomes one job.
    """
    store = _store(profile, store_root)
    if executor is not None:
        pending = [s for s in sweep.runs if not store.exists(f"{s.sweep}/records", s.params())]
        jobs = [executor.submit(run_one, spec, profile, device, str(store.root)) for spec in pending]
        for job in jobs:
            job.result()
    else:
        run_sweeps([sweep], profile, device, workers=workers, store_root=store_root, log=log)
    return [store.read(f"{s.sweep}/records", s.params()) for s in sweep.runs]


@dataclass(frozen=True)
class Shown:
    """A sweep as a chapter shows it: the profile it comes from, its stored runs and those still to train."""

    sweep: Sweep
    profile: str
    results: list[Result]
    pending: tuple[RunSpec, ...]

    def source_line(self) -> str:
        """The caption line for its runs (:func:`runs_line`)."""
        return runs_line(self.results, len(self.pending))


def runs_line(results: list[Result], pending: int = 0) -> str:
    """A chart's source line for stored runs of one sweep: the largest named, the smaller ones counted, and
    those not stored yet (a full sweep trained over several sittings)."""
    return f"{results[-1].describe()}, with {len(results) - 1} smaller runs" + (
        f"; {pending} not stored yet" if pending else ""
    )


def read_stored(path: Path, profile: str) -> Shown | None:
    """The runs of the sweep config at ``path`` already stored at ``profile`` (the rest listed as pending),
    or None where the config defines no such profile or none of its runs is stored."""
    if profile not in defined_profiles(read_settings(path)):
        return None
    sweep = Sweep.load(path, profile)
    tables = load_tables(sweep, "records", profile)
    stored = [(s, t) for s, t in zip(sweep.runs, tables) if t is not None]
    if not stored:
        return None
    pending = tuple(s for s, t in zip(sweep.runs, tables) if t is None)
    return Shown(replace(sweep, runs=tuple(s for s, _ in stored)), profile, [t for _, t in stored], pending)


def read_or_train(path: Path, profile: str, device: str = "cpu", log: Callable[[str], None] = print) -> Shown:
    """The sweep config at ``path`` for a chapter: at ``full`` or ``paper``, only the runs already stored
    (a book build never trains for hours; the rest are listed as pending), falling back to ``quick``,
    trained here when needed, where the config defines no such profile or none of its runs is stored."""
    shown = read_stored(path, profile) if profile != "quick" else None
    if shown is not None:
        return shown
    sweep = Sweep.load(path, "quick")
    return Shown(sweep, "quick", run_sweep(sweep, "quick", device, log=log), ())


def sweep_status(folder: Path, device: str = "cpu") -> list[dict[str, Any]]:
    """For every sweep config in ``folder`` and each profile it defines: runs stored, runs partly
    trained (some member groups finished), runs not started, and the CPU-hours the stored ones took
    (as their manifests record them: the README's budget table)."""
    rows = []
    for path in sorted(Path(folder).glob("*.yaml")):
        config = read_settings(path)
        for profile in defined_profiles(config):
            sweep = Sweep.from_dict(config, profile, source=str(path))
            store = ResultStore.for_profile(profile)
            stored = [store.exists(f"{s.sweep}/records", s.params()) for s in sweep.runs]
            started = [not ok and work_dir(s, profile).is_dir() for s, ok in zip(sweep.runs, stored)]
            spent = sum(
                read_manifest(store.path_for(f"{s.sweep}/records", s.params())).get("cpu_seconds", 0.0)
                for s, ok in zip(sweep.runs, stored)
                if ok
            )
            rows.append(
                {
                    "sweep": path.name,
                    "profile": profile,
                    "runs": len(sweep.runs),
                    "stored": sum(stored),
                    "partial": sum(started),
                    "remaining": len(sweep.runs) - sum(stored),
                    "cpu_hours": spent / 3600,
                }
            )
    return rows


def slurm_executor(folder: Path, **slurm: Any) -> Any:
    """A submitit executor for Slurm (``cluster="local"`` runs jobs as local processes, for tests)."""
    import submitit

    cluster = slurm.pop("cluster", None)
    executor = submitit.AutoExecutor(folder=str(folder), cluster=cluster)
    executor.update_parameters(**slurm)
    return executor
