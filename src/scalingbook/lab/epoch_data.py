"""The 245 training runs that Besiroglu et al. (2024) read back from Hoffmann et al.'s Figure 4.

Epoch AI's "Chinchilla Scaling: A replication attempt" (arXiv 2404.10102, Sec. 2) recovered each
point of the left panel of Hoffmann et al. (2022) Fig. 4 from the figure's SVG: its position gives
the model size N and the training compute C, its colour the final loss. Their file is
``data/svg_extracted_data.csv`` in the public repository epoch-research/analyzing-chinchilla. The
book ships a reduced copy, :data:`SHIPPED_CSV` (all rows, only the columns in :data:`COLUMNS`, each
value's text unchanged; provenance in ``data/reference/README.md``), so the Chinchilla chapter builds
offline. :func:`locate_epoch_csv` picks the file to read, in this order:

1. an explicit ``path`` argument;
2. the environment variable ``SCALINGBOOK_EPOCH_CSV`` (the original file or a reduced one);
3. the shipped copy, checked against :data:`SHIPPED_CSV_SHA256`;
4. a cached copy ``svg_extracted_data.csv`` in :func:`cache_dir` (``$SCALINGBOOK_CACHE_DIR``, else
   ``$XDG_CACHE_HOME/scalingbook``, else ``~/.cache/scalingbook``);
5. a download of the original into that cache, checked against :data:`EPOCH_CSV_SHA256`.

Steps 4 and 5 only matter where the shipped copy is missing (an install without the repository's
``data/``). When none works it raises :class:`EpochDataUnavailable`, whose message says how to get
the file, so a chapter can print it and go on. Tokens are not in the file: D = C / (6N), as Epoch
and Hoffmann's frontier assume.

``python -m scalingbook.lab.epoch_data ORIGINAL_CSV`` prints the reduced copy made from the original
(:func:`reduce_original`), which is how the shipped file was written and how to check it.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pandas as pd

from scalingbook.lab.store import REPO_ROOT

EPOCH_CSV_URL = "https://raw.githubusercontent.com/epoch-research/analyzing-chinchilla/main/data/svg_extracted_data.csv"
EPOCH_CSV_SHA256 = "193478df4e90f040016431996c45682659306840ecdadf83cfb9cd5ca0aa1b30"
"""SHA-256 of the original file at commit 9225883 (23,224 bytes, 245 rows)."""

SHIPPED_CSV = REPO_ROOT / "data" / "reference" / "chinchilla-fig4-epoch.csv"
SHIPPED_CSV_SHA256 = "fbc8686ae5ccd78c26eb5806d29b8bf463f20d353f7a8563ecb16ef83bb50083"
"""SHA-256 of :data:`SHIPPED_CSV` as :func:`reduce_original` writes it; an edited copy is refused."""

ENV_VAR = "SCALINGBOOK_EPOCH_CSV"
CACHE_ENV_VAR = "SCALINGBOOK_CACHE_DIR"
CSV_NAME = "svg_extracted_data.csv"

COLUMNS = {"Model Size": "n_params", "Training FLOP": "flops", "loss": "loss"}
"""The file's columns that are used, and their names in :func:`load_epoch_data`'s table."""

PLAUSIBLE = {"Model Size": (1e6, 1e13), "Training FLOP": (1e15, 1e28), "loss": (0.5, 20.0)}
"""Bounds no Chinchilla run can leave: parameters, FLOPs, nats per token. The file spans
5.73e7-1.62e10 parameters, 1.4e18-1.3e22 FLOPs and losses 2.077-5.006."""

HOW_TO_GET = (
    "The book ships a reduced copy as {shipped}; restore it from git, or download the original from "
    "{url} (public; the file is data/svg_extracted_data.csv in the GitHub repository "
    "epoch-research/analyzing-chinchilla) and either set the environment variable "
    "{env}=/path/to/svg_extracted_data.csv or save it as {cache}. Do not commit the original to this "
    "repository: the reduced copy is what ships."
)


class EpochDataError(ValueError):
    """The CSV exists but is not Epoch's data: the message names the file and the problem."""


class EpochDataUnavailable(FileNotFoundError):
    """No copy of the CSV could be found or downloaded; the message says how to get one."""


def cache_dir() -> Path:
    """Where a downloaded copy is kept: ``$SCALINGBOOK_CACHE_DIR``, else the XDG user cache."""
    explicit = os.environ.get(CACHE_ENV_VAR)
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "scalingbook"


def _check_sha256(payload: bytes, expected: str, what: str, advice: str = "") -> None:
    """Refuse bytes that are not the recorded file: a changed file must be looked at before use."""
    digest = hashlib.sha256(payload).hexdigest()
    if digest != expected:
        raise EpochDataError(f"{what} has SHA-256 {digest}, expected {expected}{advice}")


def download_epoch_csv(
    dest: Path, *, url: str = EPOCH_CSV_URL, sha256: str = EPOCH_CSV_SHA256, timeout: float = 10.0
) -> Path:
    """Fetch the public CSV to ``dest``, atomically, only if its SHA-256 is ``sha256``.

    Raises :class:`EpochDataUnavailable` when the network fails and :class:`EpochDataError` when the
    bytes are not the published file (a changed upstream file must be checked before it is used).
    """
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            payload = response.read()
    except (urllib.error.URLError, OSError, ValueError) as err:
        raise EpochDataUnavailable(f"could not download {url}: {err}") from err
    _check_sha256(payload, sha256, f"{url}: downloaded file")
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=dest.parent, prefix=".part-", delete=False) as tmp:
        tmp.write(payload)
    os.replace(tmp.name, dest)
    return dest


def _existing(path: Path, origin: str) -> Path:
    """``path`` if it is a file; else an error naming where the path came from."""
    if not path.is_file():
        raise EpochDataUnavailable(f"{origin} points to {path}, which is not a file. " + _how_to_get())
    return path


def _how_to_get() -> str:
    return HOW_TO_GET.format(shipped=SHIPPED_CSV, url=EPOCH_CSV_URL, env=ENV_VAR, cache=cache_dir() / CSV_NAME)


def locate_epoch_csv(path: str | Path | None = None, *, download: bool = True, timeout: float = 10.0) -> Path:
    """The CSV to read: explicit path, ``$SCALINGBOOK_EPOCH_CSV``, shipped copy, cache, download.

    An explicit path or a set environment variable that does not point to a file is an error, not
    a reason to look elsewhere: the caller asked for that file. So is a shipped copy whose SHA-256
    is not :data:`SHIPPED_CSV_SHA256`: an edited copy would silently change every fit.
    """
    if path is not None:
        return _existing(Path(path).expanduser(), "the path argument")
    if os.environ.get(ENV_VAR):
        return _existing(Path(os.environ[ENV_VAR]).expanduser(), f"${ENV_VAR}")
    if SHIPPED_CSV.is_file():
        _check_sha256(
            SHIPPED_CSV.read_bytes(),
            SHIPPED_CSV_SHA256,
            f"shipped file {SHIPPED_CSV}",
            "; it has been altered: restore it from git or rebuild it as data/reference/README.md says",
        )
        return SHIPPED_CSV
    cached = cache_dir() / CSV_NAME
    if cached.is_file():
        return cached
    if not download:
        raise EpochDataUnavailable(f"Epoch's Chinchilla data ({CSV_NAME}) was not found. " + _how_to_get())
    try:
        return download_epoch_csv(cached, timeout=timeout)
    except EpochDataUnavailable as err:
        raise EpochDataUnavailable(f"{err}. " + _how_to_get()) from err


def read_epoch_csv(path: str | Path) -> pd.DataFrame:
    """Read and validate the CSV; columns n_params, flops, tokens (= C/(6N)) and loss.

    Every check names the file and what is wrong: unreadable CSV, a missing column, a non-numeric,
    missing, non-finite or non-positive value (with its row), or a value outside :data:`PLAUSIBLE`.
    """
    path = Path(path)
    try:
        raw = pd.read_csv(path)
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise EpochDataError(f"{path}: not a readable CSV file ({err})") from err
    missing = [c for c in COLUMNS if c not in raw.columns]
    if missing:
        raise EpochDataError(f"{path}: missing column(s) {missing}; found {list(raw.columns)}")
    if raw.empty:
        raise EpochDataError(f"{path}: no data rows")
    table = pd.DataFrame({new: _checked_column(raw, old, path) for old, new in COLUMNS.items()})
    table.insert(2, "tokens", table["flops"] / (6.0 * table["n_params"]))
    table.attrs["source"] = str(path)
    return table


def _checked_column(raw: pd.DataFrame, name: str, path: Path) -> np.ndarray:
    """Column ``name`` as floats, or :class:`EpochDataError` naming the first bad row (1 = first data row)."""
    values = pd.to_numeric(raw[name], errors="coerce").to_numpy(dtype=float)
    checks = (
        (~np.isfinite(values), "is not a finite number"),
        (values <= 0, "is not positive"),
        ((values < PLAUSIBLE[name][0]) | (values > PLAUSIBLE[name][1]), f"is outside {PLAUSIBLE[name]}"),
    )
    for bad, problem in checks:
        if bad.any():
            row = int(np.argmax(bad))
            raise EpochDataError(
                f"{path}: column {name!r}, data row {row + 1}: value {str(raw[name].iloc[row])!r} {problem}"
                f" ({int(bad.sum())} such row(s))"
            )
    return values


def load_epoch_data(path: str | Path | None = None, *, download: bool = True) -> pd.DataFrame:
    """Locate (:func:`locate_epoch_csv`) and read (:func:`read_epoch_csv`) the 245 extracted runs."""
    return read_epoch_csv(locate_epoch_csv(path, download=download))


def reduce_original(path: str | Path) -> pd.DataFrame:
    """Epoch's original file cut to the columns in :data:`COLUMNS`, every value kept as its text.

    Strings, not floats, so that writing the table back (``python -m scalingbook.lab.epoch_data``)
    reproduces :data:`SHIPPED_CSV` byte for byte. Only the published file (:data:`EPOCH_CSV_SHA256`)
    is accepted, since the shipped copy's provenance names it.
    """
    path = Path(path)
    _check_sha256(path.read_bytes(), EPOCH_CSV_SHA256, str(path), "; it is not Epoch's published file")
    return pd.read_csv(path, dtype=str, keep_default_na=False)[list(COLUMNS)]


def drop_highest_losses(table: pd.DataFrame, n: int = 5) -> pd.DataFrame:
    """Epoch's filter: keep the runs whose loss is strictly below the n-th highest loss.

    Besiroglu et al. drop the 5 worst runs (all near 1e19 FLOPs with D/N < 0.41), leaving 240; with
    ties at the threshold more than n rows go.
    """
    if not 0 < n < len(table):
        raise ValueError(f"n must be between 1 and {len(table) - 1}, got {n}")
    threshold = np.sort(table["loss"].to_numpy())[-n]
    return table[table["loss"] < threshold].reset_index(drop=True)


if __name__ == "__main__":
    import sys

    if len(sys.argv) != 2:
        sys.exit("usage: python -m scalingbook.lab.epoch_data ORIGINAL_CSV > data/reference/chinchilla-fig4-epoch.csv")
    try:
        reduce_original(sys.argv[1]).to_csv(sys.stdout, index=False, lineterminator="\n")
    except (OSError, EpochDataError) as err:
        sys.exit(f"scalingbook.lab.epoch_data: {err}")
