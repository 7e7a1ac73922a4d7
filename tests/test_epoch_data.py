"""Tests of scalingbook.lab.epoch_data: the shipped copy, locating, downloading and validating the CSV."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import urllib.request
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from scalingbook.lab import epoch_data

SHARED_CSV = Path(__file__).resolve().parents[2] / "shared/reference/chinchilla_epoch/svg_extracted_data.csv"
HEADER = "x,y,color,Model Size,Training FLOP,hex_color,loss\n"
FIRST_ROW = (6795600349.289497, 9.993852799709755e18, 5.005581996196243)  # the original's first data row
DROPPED_LOSSES = [5.006, 4.665, 3.794, 3.766, 3.447]
GOOD_ROWS = [
    "1,2,#000000,6795600349.29,9.99e+18,#000000,5.0056",
    "1,2,#000000,1730543416.12,9.09e+18,#000000,3.3957",
    "1,2,#000000,552481994.03,8.46e+19,#000000,2.5776",
]


@pytest.fixture(autouse=True)
def isolated_env(monkeypatch, tmp_path):
    """No test sees the caller's variables or cache: an empty cache dir, no CSV variable."""
    monkeypatch.delenv(epoch_data.ENV_VAR, raising=False)
    monkeypatch.setenv(epoch_data.CACHE_ENV_VAR, str(tmp_path / "cache"))


def _write(tmp_path: Path, text: str, name: str = "data.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.fixture
def no_shipped(monkeypatch, tmp_path):
    """The loader as installed without the repository's data/: no shipped copy."""
    monkeypatch.setattr(epoch_data, "SHIPPED_CSV", tmp_path / "not-shipped.csv")


@pytest.fixture
def original_csv():
    """Epoch's original 7-column file, beside the checkout; its tests are skipped without it."""
    path = Path(os.environ.get("SCALINGBOOK_TEST_EPOCH_CSV", SHARED_CSV))
    if not path.is_file():
        pytest.skip(f"Epoch's svg_extracted_data.csv not found at {path}")
    return path


def _check_published_runs(table, source: Path) -> None:
    """The 245 runs with the original's values, and Epoch's filter leaving 240."""
    assert table.attrs["source"] == str(source)
    assert len(table) == 245
    assert list(table.columns) == ["n_params", "flops", "tokens", "loss"]
    assert tuple(table[["n_params", "flops", "loss"]].iloc[0]) == FIRST_ROW
    np.testing.assert_allclose(table["tokens"], table["flops"] / (6 * table["n_params"]))
    assert table["n_params"].min() == pytest.approx(5.73e7, rel=1e-3)
    assert table["loss"].max() == pytest.approx(5.006, rel=1e-3)
    kept = epoch_data.drop_highest_losses(table)
    assert len(kept) == 240
    dropped = np.sort(np.setdiff1d(table["loss"], kept["loss"]))[::-1]
    np.testing.assert_allclose(dropped, DROPPED_LOSSES, atol=1e-3)


def test_the_shipped_copy_loads_offline_by_default(monkeypatch):
    def no_network(*args, **kwargs):
        raise AssertionError("the shipped copy must not need a download")

    monkeypatch.setattr(urllib.request, "urlopen", no_network)
    table = epoch_data.load_epoch_data()
    _check_published_runs(table, epoch_data.SHIPPED_CSV)
    assert hashlib.sha256(epoch_data.SHIPPED_CSV.read_bytes()).hexdigest() == epoch_data.SHIPPED_CSV_SHA256
    assert epoch_data.SHIPPED_CSV.read_text().splitlines()[0] == "Model Size,Training FLOP,loss"


def test_the_shipped_copy_is_the_reduction_of_the_original(original_csv, monkeypatch):
    assert hashlib.sha256(original_csv.read_bytes()).hexdigest() == epoch_data.EPOCH_CSV_SHA256
    reduced = epoch_data.reduce_original(original_csv)
    pd.testing.assert_frame_equal(reduced, pd.read_csv(epoch_data.SHIPPED_CSV, dtype=str, keep_default_na=False))
    # the command data/reference/README.md gives to rebuild and check the file, on the code under test
    done = subprocess.run(
        [sys.executable, "-m", "scalingbook.lab.epoch_data", str(original_csv)],
        capture_output=True,
        env=dict(os.environ, PYTHONPATH=str(Path(epoch_data.__file__).parents[1])),
    )
    assert done.returncode == 0, done.stderr.decode()
    assert done.stdout == epoch_data.SHIPPED_CSV.read_bytes()
    # the original itself, through the environment variable, gives the same numbers
    monkeypatch.setenv(epoch_data.ENV_VAR, str(original_csv))
    table = epoch_data.load_epoch_data(download=False)
    _check_published_runs(table, original_csv)
    np.testing.assert_array_equal(table.to_numpy(), epoch_data.read_epoch_csv(epoch_data.SHIPPED_CSV).to_numpy())


def test_only_the_published_original_is_reduced(tmp_path):
    other = _write(tmp_path, HEADER + "\n".join(GOOD_ROWS), "other.csv")
    with pytest.raises(epoch_data.EpochDataError, match=r"other.csv has SHA-256 .* not Epoch's published file"):
        epoch_data.reduce_original(other)


def test_an_altered_shipped_copy_is_refused(tmp_path, monkeypatch):
    copy = tmp_path / "chinchilla-fig4-epoch.csv"
    copy.write_bytes(epoch_data.SHIPPED_CSV.read_bytes())
    monkeypatch.setattr(epoch_data, "SHIPPED_CSV", copy)
    assert epoch_data.load_epoch_data(download=False).attrs["source"] == str(copy)
    text = copy.read_text()
    assert text.count(",5.005581996196243\n") == 1
    copy.write_text(text.replace(",5.005581996196243\n", ",5.005581996196248\n"))  # one digit of one loss
    with pytest.raises(
        epoch_data.EpochDataError, match=r"shipped file .*chinchilla-fig4-epoch.csv has SHA-256 .*altered"
    ):
        epoch_data.load_epoch_data(download=False)


def test_the_environment_variable_wins_over_the_shipped_copy(tmp_path, monkeypatch):
    reduced = _write(tmp_path, "Model Size,Training FLOP,loss\n5e8,1e19,3.0\n6e8,2e19,2.9\n", "mine.csv")
    monkeypatch.setenv(epoch_data.ENV_VAR, str(reduced))
    assert epoch_data.SHIPPED_CSV.is_file()
    table = epoch_data.load_epoch_data(download=False)
    assert table.attrs["source"] == str(reduced)
    np.testing.assert_array_equal(table["loss"], [3.0, 2.9])


def test_the_shipped_copy_wins_over_the_cache():
    cached = epoch_data.cache_dir() / epoch_data.CSV_NAME
    cached.parent.mkdir(parents=True)
    cached.write_text(HEADER + "\n".join(GOOD_ROWS))
    assert epoch_data.locate_epoch_csv(download=False) == epoch_data.SHIPPED_CSV


def test_explicit_path_wins_and_a_missing_one_is_named(tmp_path, monkeypatch):
    good = _write(tmp_path, HEADER + "\n".join(GOOD_ROWS))
    monkeypatch.setenv(epoch_data.ENV_VAR, str(tmp_path / "elsewhere.csv"))
    assert len(epoch_data.load_epoch_data(good, download=False)) == 3
    with pytest.raises(epoch_data.EpochDataUnavailable, match="path argument points to .*nope.csv"):
        epoch_data.load_epoch_data(tmp_path / "nope.csv", download=False)


def test_missing_file_from_the_environment_variable_is_named(tmp_path, monkeypatch):
    monkeypatch.setenv(epoch_data.ENV_VAR, str(tmp_path / "gone.csv"))
    with pytest.raises(epoch_data.EpochDataUnavailable, match=r"\$SCALINGBOOK_EPOCH_CSV points to .*gone.csv"):
        epoch_data.load_epoch_data(download=False)


def test_no_source_says_how_to_get_the_file(no_shipped):
    with pytest.raises(epoch_data.EpochDataUnavailable) as err:
        epoch_data.load_epoch_data(download=False)
    message = str(err.value)
    assert epoch_data.EPOCH_CSV_URL in message and epoch_data.ENV_VAR in message
    assert "epoch-research/analyzing-chinchilla" in message and "Do not commit" in message
    assert str(epoch_data.SHIPPED_CSV) in message


def test_without_the_shipped_copy_the_cached_copy_is_used(no_shipped):
    cached = epoch_data.cache_dir() / epoch_data.CSV_NAME
    cached.parent.mkdir(parents=True)
    cached.write_text(HEADER + "\n".join(GOOD_ROWS))
    assert epoch_data.locate_epoch_csv(download=False) == cached


def test_download_checks_the_hash_and_lands_in_the_cache(tmp_path):
    source = _write(tmp_path, HEADER + "\n".join(GOOD_ROWS), "upstream.csv")
    digest = hashlib.sha256(source.read_bytes()).hexdigest()
    dest = epoch_data.cache_dir() / epoch_data.CSV_NAME
    assert epoch_data.download_epoch_csv(dest, url=source.as_uri(), sha256=digest) == dest
    assert dest.read_bytes() == source.read_bytes()
    with pytest.raises(epoch_data.EpochDataError, match="SHA-256"):
        epoch_data.download_epoch_csv(tmp_path / "other.csv", url=source.as_uri(), sha256="0" * 64)
    assert not (tmp_path / "other.csv").exists()
    with pytest.raises(epoch_data.EpochDataUnavailable, match="could not download"):
        epoch_data.download_epoch_csv(tmp_path / "x.csv", url=(tmp_path / "absent.csv").as_uri())


@pytest.mark.parametrize(
    ("text", "pattern"),
    [
        ("x,y,color,Training FLOP,loss\n1,2,#0,1e19,3.0\n", r"missing column\(s\) \['Model Size'\]"),
        (
            HEADER + GOOD_ROWS[0] + "\n1,2,#0,big,1e19,#0,3.0\n",
            r"'Model Size', data row 2: value 'big' is not a finite number",
        ),
        (HEADER + GOOD_ROWS[0] + "\n1,2,#0,5e8,1e19,#0,-3.0\n", r"'loss', data row 2: value '-3.0' is not positive"),
        (HEADER + "1,2,#0,5e8,-1e19,#0,3.0\n", r"'Training FLOP', data row 1: value '-1e\+19' is not positive"),
        (HEADER + "1,2,#0,5e8,1e19,#0,\n", r"'loss', data row 1: value 'nan' is not a finite number"),
        (HEADER + "1,2,#0,5e8,1e19,#0,300\n", r"'loss', data row 1: value '300' is outside"),
        (HEADER, "no data rows"),
        ("", "not a readable CSV"),
    ],
)
def test_malformed_files_are_named_with_their_problem(tmp_path, text, pattern):
    path = _write(tmp_path, text, "bad.csv")
    with pytest.raises(epoch_data.EpochDataError, match=pattern) as err:
        epoch_data.read_epoch_csv(path)
    assert str(path) in str(err.value)


def test_filter_rejects_a_silly_count(tmp_path):
    table = epoch_data.read_epoch_csv(_write(tmp_path, HEADER + "\n".join(GOOD_ROWS)))
    assert len(epoch_data.drop_highest_losses(table, n=1)) == 2
    with pytest.raises(ValueError, match="n must be between 1 and 2"):
        epoch_data.drop_highest_losses(table, n=3)
