"""Results store: one run's table as Parquet beside a ``manifest.json`` that says how it was made.

Layout: ``ROOT/NAME/HASH/manifest.json`` and ``ROOT/NAME/HASH/table-<sha>.parquet``, where HASH is
:func:`param_hash` of the run's parameters. The manifest names its table file, so a write is atomic:
the new table lands under a new name, then the manifest is swapped in with one ``os.replace``. A kill
at any moment leaves either the old manifest with its old table or the new manifest with its new one.
The ``<sha>`` in a table's name is the start of its SHA-256, checked on every read, so a damaged
table is an error naming the file, never silently different numbers.

Full-profile results live in ``data/`` (committed); quick-profile results in an ignored cache.
A quick result never replaces a full one.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import platform
import re
import shlex
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import pandas as pd

from scalingbook.lab.profiles import PROFILES
from scalingbook.lab.project import find_root

# The project folder the book is built in (see scalingbook.lab.project); tests point it at a scratch copy.
REPO_ROOT = find_root()
COMMAND_ENV_VAR = "SCALINGBOOK_COMMAND"
"""Set by the ``scalingbook`` command (and, per chapter, by its runner) for itself and the notebook
kernels it starts, so that a manifest records the command that made a result."""
_TRACKED_PACKAGES = ("scalingbook", "torch", "numpy", "pandas", "scipy", "pyarrow", "altair")
_TABLE_NAME = re.compile(r"table-([0-9a-f]{12})\.parquet")
# A temporary file of write_atomic untouched this long belongs to a writer that was killed.
_STALE_TEMPORARY_S = 3600


class ResultError(RuntimeError):
    """A result is missing, malformed, or a write would destroy a better one."""


def canonical_json(value: Any) -> str:
    """JSON with sorted keys and no whitespace, so equal parameters give equal text."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def param_hash(params: dict[str, Any]) -> str:
    """Short, stable key of a parameter dict (first 16 hex digits of its SHA-256)."""
    return hashlib.sha256(canonical_json(params).encode()).hexdigest()[:16]


def commit_label(commit: str | None, dirty: bool | None, width: int = 40) -> str:
    """A commit as manifests and captions name it: its first ``width`` characters, ``+dirty`` when
    tracked code differed from it, ``unknown`` when there was none to read."""
    return (commit or "unknown")[:width] + ("+dirty" if dirty else "")


def _short(label: str) -> str:
    """A :func:`commit_label` cut to the 10 characters a caption shows, its ``+dirty`` kept."""
    commit, dirty, _ = label.partition("+dirty")
    return commit_label(commit, bool(dirty), width=10)


def git_state(repo: Path = REPO_ROOT) -> tuple[str | None, bool | None]:
    """The commit checked out at ``repo`` and whether tracked files outside ``data/`` differ from it
    (results written there by the run itself, or by the run before it in the same checkout, are not a
    change to the code that made them). A copy without git metadata (the working tree sent to a lent
    GPU) names its commit in ``SCALINGBOOK_GIT_COMMIT``."""
    if not (repo / ".git").exists() and os.environ.get("SCALINGBOOK_GIT_COMMIT"):
        return os.environ["SCALINGBOOK_GIT_COMMIT"], None
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True, check=True
        ).stdout.strip()
        status = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no", "--", ".", ":(exclude)data"],
            cwd=repo,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return None, None
    return commit, bool(status.strip())


def repo_relative(path: str | Path) -> str:
    """``path`` relative to the project folder when it lies inside it, else just its file name.

    For manifests and benchmark files, which must not record where a machine keeps its files.
    """
    path = Path(path)
    if not path.is_absolute():
        return path.as_posix()
    try:
        return path.resolve().relative_to(Path(REPO_ROOT).resolve()).as_posix()
    except ValueError:
        return path.name


def command_line() -> str:
    """The command that is making a result, as a manifest records it: the ``scalingbook`` command
    when one is running (``$SCALINGBOOK_COMMAND``), else this process's arguments with paths made
    relative (see :func:`repo_relative`)."""
    recorded = os.environ.get(COMMAND_ENV_VAR)
    if recorded:
        return recorded
    if "ipykernel" in (sys.argv[0] if sys.argv else ""):
        return "a notebook kernel started outside the scalingbook command"
    return shlex.join(repo_relative(arg) if os.path.isabs(arg) else arg for arg in sys.argv)


def package_versions() -> dict[str, str]:
    """Versions of the packages that shape a result, plus Python itself."""
    versions = {"python": platform.python_version()}
    for name in _TRACKED_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def device_name(device: str = "cpu") -> str:
    """A readable name of the device a run used (the GPU model, or the CPU)."""
    if device.startswith("cuda"):
        import torch

        return torch.cuda.get_device_name(torch.device(device))
    return f"cpu ({platform.processor() or platform.machine()}, {os.cpu_count()} cores)"


def default_root(profile: str) -> Path:
    """Where results of a profile live: ``data/`` for full and paper (committed), the ignored cache for quick.

    ``SCALINGBOOK_DATA`` and ``SCALINGBOOK_CACHE`` override the two locations.
    """
    if profile not in PROFILES:
        raise ValueError(f"profile must be one of {PROFILES}, got {profile!r}")
    if profile in ("full", "paper"):
        return Path(os.environ.get("SCALINGBOOK_DATA", REPO_ROOT / "data"))
    return Path(os.environ.get("SCALINGBOOK_CACHE", REPO_ROOT / ".cache" / "results"))


@dataclass(frozen=True)
class Result:
    """A stored run: its table and its manifest, and the folder they came from."""

    table: pd.DataFrame
    manifest: dict[str, Any]
    path: Path

    def describe(self) -> str:
        """One line for a chart or page caption saying where these numbers came from."""
        m = self.manifest
        stored_at = commit_label(m.get("git_commit"), m.get("git_dirty"))
        commit = _short(stored_at)
        trained_at = m.get("trained_at_commits") or [stored_at]
        if trained_at != [stored_at]:  # trained in sittings at other commits than the one that stored it
            commit += " (trained at " + ", ".join(_short(c) for c in trained_at) + ")"
        return (
            f"{m['name']} [{m['profile']} profile, {m['param_hash']}] on {m['device']}, "
            f"commit {commit}, finished {m['finished']}"
        )


def write_atomic(path: Path, data: bytes, mode: int = 0o644) -> None:
    """Write ``data`` to ``path`` so a reader sees the old file or the new one, never half of one.

    ``mode`` defaults to 0644 because results are shared and committed (mkstemp would make 0600).
    """
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@dataclass(frozen=True)
class ResultStore:
    """A folder of results keyed by (name, parameter hash)."""

    root: Path

    @classmethod
    def for_profile(cls, profile: str) -> ResultStore:
        return cls(default_root(profile))

    def path_for(self, name: str, params: dict[str, Any]) -> Path:
        return self.root / name / param_hash(params)

    def exists(self, name: str, params: dict[str, Any]) -> bool:
        return (self.path_for(name, params) / "manifest.json").is_file()

    def write(
        self,
        name: str,
        params: dict[str, Any],
        table: pd.DataFrame,
        *,
        profile: str,
        device: str,
        started: datetime,
        extra: dict[str, Any] | None = None,
    ) -> Result:
        """Store ``table`` for ``(name, params)`` atomically and return it as a :class:`Result`.

        ``device`` is the torch device string used; ``started`` is when the run began (UTC).
        Refuses to replace a full-profile result with a quick one.
        """
        if profile not in PROFILES:
            raise ValueError(f"profile must be one of {PROFILES}, got {profile!r}")
        folder = self.path_for(name, params)
        old = read_manifest(folder) if (folder / "manifest.json").is_file() else None
        if old is not None and old.get("profile") in ("full", "paper") and profile == "quick":
            raise ResultError(f"{folder} holds a full-profile result; a {profile} run may not overwrite it")
        folder.mkdir(parents=True, exist_ok=True)
        _remove_stale_temporaries(folder)
        payload = table.to_parquet(index=False, compression="zstd")
        table_file = f"table-{_sha(payload)}.parquet"
        write_atomic(folder / table_file, payload)
        finished = datetime.now(UTC)
        commit, dirty = git_state()
        manifest = {
            "name": name,
            "profile": profile,
            "params": params,
            "param_hash": param_hash(params),
            "table_file": table_file,
            "rows": len(table),
            "git_commit": commit,
            "git_dirty": dirty,
            "packages": package_versions(),
            "device": device_name(device),
            "started": started.isoformat(timespec="seconds"),
            "finished": finished.isoformat(timespec="seconds"),
            "wall_time_s": round((finished - started).total_seconds(), 3),
            "command": command_line(),
            **(extra or {}),
        }
        write_atomic(folder / "manifest.json", (json.dumps(manifest, indent=2) + "\n").encode())
        for stale in folder.glob("table-*.parquet"):
            if stale.name != table_file:
                stale.unlink()
        return Result(table, manifest, folder)

    def cached(
        self, name: str, params: dict[str, Any], compute: Callable[[], pd.DataFrame], *, profile: str, device: str
    ) -> Result:
        """The stored result of ``(name, params)``, computing and storing it first when there is none.

        The one read-or-compute path for results of a single table (sweeps, trained in resumable
        member groups, store theirs through :func:`scalingbook.lab.sweeps.run_one`).
        """
        if self.exists(name, params):
            return self.read(name, params)
        started = datetime.now(UTC)
        return self.write(name, params, compute(), profile=profile, device=device, started=started)

    def read(self, name: str, params: dict[str, Any]) -> Result:
        folder = self.path_for(name, params)
        if not (folder / "manifest.json").is_file():
            raise ResultError(f"no result for {name!r} with parameters {params} in {self.root}")
        return load_result(folder)


def _sha(payload: bytes) -> str:
    """The part of a table's SHA-256 its file name carries."""
    return hashlib.sha256(payload).hexdigest()[:12]


def _remove_stale_temporaries(folder: Path, max_age_s: float = _STALE_TEMPORARY_S) -> None:
    """Delete ``.NAME.*.tmp`` files of :func:`write_atomic` left in ``folder`` by killed writers.

    Only files unmodified for ``max_age_s`` go: a live writer's file is younger, since it is written
    in one go right after it is made.
    """
    cutoff = time.time() - max_age_s
    for tmp in folder.glob(".*.tmp"):
        try:
            if tmp.stat().st_mtime < cutoff:
                tmp.unlink()
        except FileNotFoundError:  # another writer cleaned it first
            continue


def _remake_hint(folder: Path, manifest: dict[str, Any]) -> str:
    """How to recompute a stored result: the command that made it, else its chapter's run command."""
    command = manifest.get("command") or ""
    if not command or "kernel" in command:  # written from a chapter's notebook
        command = f"scalingbook run {manifest['name'].split('/')[0]}"
    return f"delete {folder} and rerun `{command}` to recompute it"


def read_manifest(folder: Path) -> dict[str, Any]:
    path = Path(folder) / "manifest.json"
    try:
        manifest = json.loads(path.read_text())
    except FileNotFoundError:
        raise ResultError(f"{path} does not exist") from None
    except json.JSONDecodeError as err:
        raise ResultError(f"{path} is not valid JSON: {err}") from None
    missing = {"name", "profile", "params", "param_hash", "table_file"} - manifest.keys()
    if missing:
        raise ResultError(f"{path} lacks the keys {sorted(missing)}")
    return manifest


def load_result(folder: Path) -> Result:
    """Read a result folder written by :meth:`ResultStore.write`, checking the table against its name."""
    folder = Path(folder)
    manifest = read_manifest(folder)
    table_path = folder / manifest["table_file"]
    if not table_path.is_file():
        raise ResultError(f"{folder / 'manifest.json'} names {manifest['table_file']}, which is missing")
    named = _TABLE_NAME.fullmatch(table_path.name)
    payload = table_path.read_bytes()
    if named is None or _sha(payload) != named.group(1):
        raise ResultError(
            f"{table_path} is damaged: its content does not match the SHA-256 in its name; "
            + _remake_hint(folder, manifest)
        )
    return Result(pd.read_parquet(io.BytesIO(payload)), manifest, folder)
