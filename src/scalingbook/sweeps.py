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
    profiles: {quick: {train: {steps: 100}, members: {seeds: 4}}}   # optional overrides

A ``mixture`` task lists its components, each a task mapping with a ``label`` and a ``weight``::

    task: {name: mixture, components: [{label: add-2, weight: 1, name: arithmetic, op: "+",
                                        train_length: 2, test_length: 2}, ...]}

Two optional evaluations store more tables beside the records, for the Mirage chapter (Schaeffer
et al. 2023): ``large_*`` a much larger test set of one component for the ``large_smallest``
smallest models only (``SWEEP/large``: exact match resolved at small values, Fig. 4), and
``choice_*`` a multiple-choice variant of one component (``SWEEP/choices``: per-example
log-likelihoods of ``choice_options`` candidates, Fig. 6). Options left off are not part of a
run's identity, so adding one never changes the key of a stored run that does not use it.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, fields, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

import numpy as np
import yaml

from scalingbook.cpu import torch_threads
from scalingbook.model import ModelConfig, param_count
from scalingbook.results import REPO_ROOT, Result, ResultStore, canonical_json, param_hash
from scalingbook.tasks import (
    Count,
    FewShotArithmetic,
    IndexHintAddition,
    Mixture,
    Task,
    WordUnscramble,
    sample,
)
from scalingbook.train import Member, TrainConfig

TASKS: dict[str, type] = {
    "count": Count, "addition": IndexHintAddition, "arithmetic": FewShotArithmetic, "unscramble": WordUnscramble,
    "mixture": Mixture,
}
SECTIONS = ("name", "task", "model", "grid", "members", "train", "eval", "profiles")
EVAL_DEFAULTS = {
    "n_examples": 500, "seed": 1234, "batch_size": 256,
    # a larger test set of component large_component ("" for a plain task) for the smallest runs
    "large_component": "", "large_n_examples": 0, "large_smallest": 0,
    # a multiple-choice variant of component choice_component: choice_options candidates each
    "choice_component": "", "choice_options": 0, "choice_n_examples": 0,
}
_EVAL_OPTIONAL = ("large_component", "large_n_examples", "large_smallest", "choice_component", "choice_options",
                  "choice_n_examples")
_COMPONENT_KEYS = {"label", "weight"}
# Settings that change how a run executes, not what it computes: kept out of its identity.
_RUNTIME_FIELDS = {"device", "compile", "progress", "checkpoint_every"}


class SweepError(ValueError):
    """A sweep config that cannot be run; the message names the file and the key."""


def _field_names(cls: type) -> set[str]:
    return {f.name for f in fields(cls)}


def _check_keys(where: str, given: dict[str, Any], allowed: set[str]) -> None:
    unknown = sorted(set(given) - allowed)
    if unknown:
        raise SweepError(f"{where}: unknown key(s) {unknown}; allowed: {sorted(allowed)}")


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Deep merge: nested dicts combine, anything else in ``override`` replaces."""
    out = copy.deepcopy(base)
    for key, value in override.items():
        out[key] = _merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


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
        train = {k: v for k, v in self.train.items() if k not in _RUNTIME_FIELDS}
        evaluation = {k: v for k, v in self.eval.items() if k not in _EVAL_OPTIONAL or v != EVAL_DEFAULTS[k]}
        return {"task": self.task, "model": self.model, "members": list(self.members), "train": train,
                "eval": evaluation}

    @property
    def key(self) -> str:
        return param_hash(self.params())

    def build_task(self) -> Task:
        return build_task(self.task)

    def model_config(self, task: Task) -> ModelConfig:
        seq_len = max(task.seq_len("train"), task.seq_len("test"))
        return ModelConfig(**{"seq_len": seq_len, **self.model})


def build_task(spec: dict[str, Any]) -> Task:
    """The task of a config mapping; a mixture's components are task mappings with a label and a weight."""
    spec = dict(spec)
    cls = TASKS[spec.pop("name")]
    if cls is not Mixture:
        return cls(**spec)
    components = spec.pop("components")
    return Mixture(
        tasks=tuple(build_task({k: v for k, v in c.items() if k not in _COMPONENT_KEYS}) for c in components),
        labels=tuple(str(c["label"]) for c in components),
        weights=tuple(float(c["weight"]) for c in components),
        **spec,
    )


def _check_task(where: str, task: Any, nested: bool = False) -> None:
    """Names and keys of a task mapping, recursing into a mixture's components."""
    if not isinstance(task, dict) or task.get("name") not in TASKS or (nested and task["name"] == "mixture"):
        names = sorted(n for n in TASKS if not (nested and n == "mixture"))
        got = task.get("name") if isinstance(task, dict) else task
        raise SweepError(f"{where}.name must be one of {names}, got {got!r}")
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
    labels = task.labels if isinstance(task, Mixture) else ("",)
    for kind in ("large", "choice"):
        if evaluation[f"{kind}_n_examples"] and evaluation[f"{kind}_component"] not in labels:
            raise SweepError(
                f"{source}: eval.{kind}_component must be one of {list(labels)} (\"\" for a task that is not a "
                f"mixture), got {evaluation[f'{kind}_component']!r}"
            )
    if evaluation["choice_n_examples"] and evaluation["choice_options"] < 2:
        raise SweepError(f"{source}: eval.choice_options must be >= 2, got {evaluation['choice_options']}")
    out = {**evaluation, "large_smallest": 0}
    if rank >= evaluation["large_smallest"] or not evaluation["large_n_examples"]:
        out |= {"large_component": "", "large_n_examples": 0}
    return out


def component(task: Task, label: str) -> Task:
    """The component of a mixture called ``label``, or the task itself when ``label`` is empty."""
    return task if not label else task.tasks[task.labels.index(label)]


@dataclass(frozen=True)
class Sweep:
    """A parsed, validated sweep config for one profile."""

    name: str
    runs: tuple[RunSpec, ...]

    @classmethod
    def from_dict(cls, config: dict[str, Any], profile: str = "quick", source: str = "sweep config") -> Sweep:
        if not isinstance(config, dict):
            raise SweepError(f"{source}: expected a mapping at the top level")
        _check_keys(source, config, set(SECTIONS))
        overrides = (config.get("profiles") or {}).get(profile, {})
        config = _merge({k: v for k, v in config.items() if k != "profiles"}, overrides)
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
        evaluation = {**EVAL_DEFAULTS, **(config.get("eval") or {})}
        _check_keys(f"{source}: eval", evaluation, set(EVAL_DEFAULTS))
        runs = []
        for i, point in enumerate(grid):
            model = {**shared, **point}
            _check_keys(f"{source}: grid[{i}]", model, model_keys)
            spec = RunSpec(str(config["name"]), task, model, members, train, evaluation)
            try:
                spec.model_config(spec.build_task())
                TrainConfig(**train)
            except (TypeError, ValueError) as err:
                raise SweepError(f"{source}: grid[{i}]: {err}") from None
            runs.append(spec)
        built = runs[0].build_task()
        sizes = [param_count(r.model_config(built)) for r in runs]
        rank = {i: r for r, i in enumerate(sorted(range(len(runs)), key=lambda i: (sizes[i], i)))}
        runs = [replace(r, eval=_resolve_eval(evaluation, built, rank[i], source)) for i, r in enumerate(runs)]
        return cls(str(config["name"]), tuple(runs))

    @classmethod
    def load(cls, path: Path, profile: str = "quick") -> Sweep:
        path = Path(path)
        if not path.is_file():
            raise SweepError(f"sweep config {path} does not exist")
        try:
            config = yaml.safe_load(path.read_text())
        except yaml.YAMLError as err:
            raise SweepError(f"sweep config {path} is not valid YAML: {err}") from None
        return cls.from_dict(config, profile, source=str(path))


def _members(spec: Any, source: str) -> tuple[dict[str, Any], ...]:
    """Members from ``{seeds: n | [s, ...], lr: x, steps: n}``: one per seed."""
    if not isinstance(spec, dict) or "seeds" not in spec:
        raise SweepError(f"{source}: members must be a mapping with 'seeds' (a count or a list)")
    _check_keys(f"{source}: members", spec, {"seeds", "lr", "steps"})
    seeds = spec["seeds"]
    seeds = list(range(seeds)) if isinstance(seeds, int) else list(seeds)
    if not seeds or len(set(seeds)) != len(seeds):
        raise SweepError(f"{source}: members.seeds must be a positive count or a list of distinct seeds")
    extra = {k: spec[k] for k in ("lr", "steps") if k in spec}
    return tuple({"seed": int(s), **extra} for s in seeds)


def checkpoint_path(spec: RunSpec, profile: str) -> Path:
    """Where a run's checkpoint lives while it trains (ignored by git, deleted when it finishes)."""
    return REPO_ROOT / ".cache" / "checkpoints" / profile / spec.sweep / f"{spec.key}.pt"


def run_one(spec: RunSpec, profile: str, device: str = "cpu", store_root: str | None = None) -> Result:
    """Train and evaluate one run, or read it if it is stored already."""
    from scalingbook.evaluate import evaluate
    from scalingbook.train import train

    store = ResultStore(Path(store_root)) if store_root else ResultStore.for_profile(profile)
    records_name = f"{spec.sweep}/records"
    if store.exists(records_name, spec.params()):
        return store.read(records_name, spec.params())
    started = datetime.now(timezone.utc)
    task = spec.build_task()
    config = TrainConfig(**{**spec.train, "device": device})
    checkpoint = checkpoint_path(spec, profile)
    checkpoint.parent.mkdir(parents=True, exist_ok=True)
    with torch_threads(1 if device == "cpu" else None):
        result = train(spec.model_config(task), [Member(**m) for m in spec.members], task, config, checkpoint)
    summary = result.summary()
    store.write(f"{spec.sweep}/training", spec.params(), result.losses(), profile=profile, device=device,
                started=started, extra={"members_summary": summary.to_dict(orient="records")})
    for name, table in _extra_evaluations(spec, task, result.model).items():
        store.write(f"{spec.sweep}/{name}", spec.params(), table, profile=profile, device=device, started=started)
    examples = sample(task, spec.eval["n_examples"], "test", spec.eval["seed"])
    records = evaluate(result.model, examples, batch_size=spec.eval["batch_size"])
    written = store.write(records_name, spec.params(), records, profile=profile, device=device, started=started,
                          extra={"diverged_seeds": summary.loc[summary["diverged"], "seed"].tolist()})
    checkpoint.unlink(missing_ok=True)
    return written


def _extra_evaluations(spec: RunSpec, task: Task, model: Any) -> dict[str, Any]:
    """The optional tables of a run: ``large`` (a big test set) and ``choices`` (multiple choice).

    Each draws from its component's own test stream, seeded ``eval.seed + 1`` and ``+ 2`` so it
    is independent of the main test set; rows carry the component's index like the records do.
    """
    from scalingbook.evaluate import choice_options, evaluate, option_logprobs

    ev, tables = spec.eval, {}
    for kind, offset in (("large", 1), ("choice", 2)):
        if not ev[f"{kind}_n_examples"]:
            continue
        label = ev[f"{kind}_component"]
        examples = sample(component(task, label), ev[f"{kind}_n_examples"], "test", ev["seed"] + offset)
        if label:
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
    return [store.read(f"{s.sweep}/{name}", s.params()) if store.exists(f"{s.sweep}/{name}", s.params()) else None
            for s in sweep.runs]


def run_sweep(
    sweep: Sweep,
    profile: str,
    device: str = "cpu",
    executor: Any | None = None,
    store_root: Path | None = None,
    log: Callable[[str], None] = print,
) -> list[Result]:
    """Run every pending run of ``sweep`` and return all its results, stored ones included.

    ``executor`` is a submitit executor (for Slurm); by default runs go one after another here.
    """
    store = ResultStore(Path(store_root)) if store_root else ResultStore.for_profile(profile)
    root = str(store.root)
    pending = [s for s in sweep.runs if not store.exists(f"{s.sweep}/records", s.params())]
    log(f"{sweep.name}: {len(sweep.runs) - len(pending)} of {len(sweep.runs)} runs stored, {len(pending)} to run")
    if executor is not None and pending:
        jobs = [executor.submit(run_one, spec, profile, device, root) for spec in pending]
        for job in jobs:
            job.result()
    else:
        for i, spec in enumerate(pending, 1):
            log(f"{sweep.name}: run {i}/{len(pending)} {canonical_json(spec.model)}")
            run_one(spec, profile, device, root)
    return [store.read(f"{s.sweep}/records", s.params()) for s in sweep.runs]


def slurm_executor(folder: Path, **slurm: Any) -> Any:
    """A submitit executor for Slurm (``cluster="local"`` runs jobs as local processes, for tests)."""
    import submitit

    cluster = slurm.pop("cluster", None)
    executor = submitit.AutoExecutor(folder=str(folder), cluster=cluster)
    executor.update_parameters(**slurm)
    return executor
