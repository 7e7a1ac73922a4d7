"""Profiles: the one mechanism by which every chapter and sweep sizes itself as quick, full or paper.

* ``quick``: CI and a first look, minutes on a CPU;
* ``full``: what the book shows, hours on 2 CPU cores;
* ``paper``: the papers' own sizes, for a GPU or a cluster.

Settings live in YAML files whose top level is the ``paper`` profile and whose ``profiles`` section
holds, per other profile, overrides deep-merged into it (:func:`merge`)::

    design: {n_layers: 4, context: 128}      # paper
    profiles:
      full: {design: {n_layers: 2}}          # paper with n_layers 2: context stays 128
      quick: {design: {n_layers: 1, context: 32}}

A file whose top level holds nothing but ``profiles`` defines no paper profile, and one with no
``profiles`` section is the same at every profile. Asking a file for a profile it does not define is
an error that names the file, the profile and those it defines, never a silent paper-sized run.

Two kinds of file use this: the sweep configs in ``sweeps/`` (:mod:`scalingbook.lab.sweeps`), and the
chapters' own settings in ``profiles/`` at the project folder's root, read by :func:`load_profile`:
``chinchilla.yaml`` (the sweep design), ``mirage-vision.yaml`` (the vision populations' budgets) and
``performance.yaml`` (what the Performance page times). A chapter that reads one names it among its
inputs in :data:`scalingbook.site.book.CHAPTERS`, so that editing it reruns the chapter.
"""

from __future__ import annotations

import copy
import dataclasses
import typing
from pathlib import Path
from typing import Any

import yaml

from scalingbook.lab.project import find_root

PROFILES = ("quick", "full", "paper")
_ROOT = find_root()
SETTINGS_DIR = _ROOT / "profiles"
"""Where the chapters' settings files are: ``profiles/`` in the project folder, beside ``sweeps/``."""


class ProfileError(ValueError):
    """A settings file that cannot be read, or lacks the profile asked for; the message names the file."""


def merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Deep merge: nested dicts combine, anything else in ``override`` (lists included) replaces."""
    out = copy.deepcopy(base)
    for key, value in override.items():
        out[key] = merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def defined_profiles(config: dict[str, Any]) -> list[str]:
    """The profiles a settings mapping defines: paper when its top level holds settings of its own,
    and each profile of its ``profiles`` section; all of them when it has no such section."""
    if "profiles" not in config:
        return list(PROFILES)
    overrides = config["profiles"] or {}
    has_paper = bool(config.keys() - {"profiles"})
    return [p for p in PROFILES if p in overrides or (p == "paper" and has_paper)]


def select_profile(config: Any, profile: str, source: str) -> dict[str, Any]:
    """The settings of ``profile``: the top level merged with that profile's overrides.

    ``source`` names the file (or other origin) in every error.
    """
    if not isinstance(config, dict):
        raise ProfileError(f"{source}: expected a mapping at the top level")
    overrides = config.get("profiles") or {}
    if not isinstance(overrides, dict) or not all(isinstance(v, dict) for v in overrides.values()):
        raise ProfileError(f"{source}: profiles must map a profile's name to a mapping of overrides")
    overridable = [p for p in PROFILES if p != "paper"]
    unknown = sorted(set(overrides) - set(overridable))
    if unknown:
        raise ProfileError(
            f"{source}: profiles: unknown profile(s) {unknown}; allowed: {', '.join(overridable)} "
            "(the top level is the paper profile)"
        )
    defined = defined_profiles(config)
    if profile not in defined:
        raise ProfileError(f"{source}: no {profile!r} profile (it defines {', '.join(defined)})")
    return merge({k: v for k, v in config.items() if k != "profiles"}, overrides.get(profile, {}))


def read_settings(path: Path) -> Any:
    """The parsed YAML at ``path``; a missing or malformed file is a :class:`ProfileError` naming it."""
    path = Path(path)
    if not path.is_file():
        raise ProfileError(f"{path} does not exist")
    try:
        return yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        raise ProfileError(f"{path} is not valid YAML: {err}") from None


def settings_path(name: str) -> Path:
    """The chapter settings file called ``name``."""
    return SETTINGS_DIR / f"{name}.yaml"


def _shown(path: Path) -> str:
    """``path`` as an error shows it: relative to the project folder when inside it."""
    return str(path.relative_to(_ROOT) if path.is_relative_to(_ROOT) else path)


def load_profile(name: str, profile: str) -> dict[str, Any]:
    """The settings of ``profile`` in ``profiles/NAME.yaml`` (see the module docstring).

    A module names its file in a literal or a module-level constant (``SETTINGS = "chinchilla"``):
    that is how a test finds the files each chapter reads and checks that they are among its inputs.
    """
    path = settings_path(name)
    return select_profile(read_settings(path), profile, _shown(path))


def from_settings(cls: type, settings: dict[str, Any], name: str, profile: str) -> Any:
    """The dataclass ``cls`` made from settings that :func:`load_profile` read from ``name`` for ``profile``;
    an error names the file and the profile.

    Lists become tuples and numbers given to a ``float`` field become floats, so an instance, and
    any results key made from it, is the same however the YAML spelled its numbers (``30``, ``30.0``
    or ``3e1``, which PyYAML reads as text).
    """
    source = f"{_shown(settings_path(name))} ({profile} profile)"
    fields = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(settings) - fields)
    if unknown:
        raise ProfileError(f"{source}: unknown {cls.__name__} field(s) {unknown}; allowed: {sorted(fields)}")
    hints = typing.get_type_hints(cls)
    try:
        return cls(**{field: _as_type(hints[field], value) for field, value in settings.items()})
    except (TypeError, ValueError) as err:
        raise ProfileError(f"{source}: {cls.__name__}: {err}") from None


def _as_type(hint: Any, value: Any) -> Any:
    """``value`` as a field annotated ``hint`` holds it: float for float, a tuple for a tuple."""
    if hint is float and not isinstance(value, bool):
        return float(value)
    if typing.get_origin(hint) is tuple and isinstance(value, list):
        (item, *_) = typing.get_args(hint)
        return tuple(_as_type(item, v) for v in value)
    return value
