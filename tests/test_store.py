"""Results store: round trip, manifest contents, atomic replacement, profile protection."""

from __future__ import annotations

import json
import os
import subprocess
import time
from datetime import UTC, datetime

import pandas as pd
import pytest
import yaml

from scalingbook.lab import store
from scalingbook.lab.store import REPO_ROOT, ResultError, ResultStore, load_result, param_hash
from scalingbook.lab.sweeps import Sweep, SweepError
from scalingbook.site import cli

PARAMS = {"width": 64, "depth": 2, "seeds": [0, 1, 2]}


def _write(store: ResultStore, table: pd.DataFrame, profile: str = "quick"):
    return store.write("sweep", PARAMS, table, profile=profile, device="cpu", started=datetime.now(UTC))


def test_round_trip_and_manifest(tmp_path):
    store = ResultStore(tmp_path)
    table = pd.DataFrame({"seed": [0, 1, 2], "em": [0.1, 0.5, 0.9]})
    written = _write(store, table)
    assert written.path == tmp_path / "sweep" / param_hash(PARAMS)
    back = store.read("sweep", PARAMS)
    pd.testing.assert_frame_equal(back.table, table)
    manifest = back.manifest
    assert manifest["params"] == PARAMS and manifest["param_hash"] == param_hash(PARAMS)
    assert manifest["profile"] == "quick" and manifest["rows"] == 3
    for key in ("git_commit", "git_dirty", "packages", "device", "wall_time_s", "started", "finished"):
        assert key in manifest
    assert manifest["packages"]["pandas"] == pd.__version__
    assert "quick profile" in back.describe()


def test_a_caption_names_the_commits_that_trained_a_run_when_another_stored_it(tmp_path):
    a, b = "a" * 40, "b" * 40
    base = {"name": "s/records", "profile": "full", "param_hash": "k", "device": "cpu", "finished": "f"}

    def caption(**manifest) -> str:
        return store.Result(pd.DataFrame(), {**base, **manifest}, tmp_path).describe()

    assert caption(git_commit=b, git_dirty=False) == "s/records [full profile, k] on cpu, commit bbbbbbbbbb, finished f"
    assert caption(git_commit=b, git_dirty=False, trained_at_commits=[b]) == caption(git_commit=b, git_dirty=False)
    assert "commit bbbbbbbbbb (trained at aaaaaaaaaa)," in caption(git_commit=b, trained_at_commits=[a])
    assert "commit bbbbbbbbbb+dirty (trained at aaaaaaaaaa, bbbbbbbbbb+dirty)," in caption(
        git_commit=b, git_dirty=True, trained_at_commits=[a, b + "+dirty"]
    )
    assert "commit 9ae81c2+dirty (trained at unknown, 9ae81c2+dirty)," in caption(
        git_commit="9ae81c2", git_dirty=True, trained_at_commits=["unknown", "9ae81c2+dirty"]
    ), "a short commit (SCALINGBOOK_GIT_COMMIT) keeps its +dirty"
    assert "commit unknown, " in caption(git_commit=None)


def test_param_hash_ignores_key_order():
    assert param_hash({"a": 1, "b": [1, 2]}) == param_hash({"b": [1, 2], "a": 1})
    assert param_hash({"a": 1}) != param_hash({"a": 2})


def test_rewrite_replaces_table_and_removes_the_old_file(tmp_path):
    store = ResultStore(tmp_path)
    _write(store, pd.DataFrame({"x": [1]}))
    second = _write(store, pd.DataFrame({"x": [2, 3]}))
    assert list(store.read("sweep", PARAMS).table["x"]) == [2, 3]
    assert [p.name for p in second.path.glob("table-*.parquet")] == [second.manifest["table_file"]]


def test_a_crash_before_the_manifest_swap_leaves_the_old_result(tmp_path, monkeypatch):
    store = ResultStore(tmp_path)
    _write(store, pd.DataFrame({"x": [1]}))
    real_replace = os.replace

    def crash_on_manifest(src, dst):
        if str(dst).endswith("manifest.json"):
            raise KeyboardInterrupt("killed mid-write")
        real_replace(src, dst)

    monkeypatch.setattr("scalingbook.lab.store.os.replace", crash_on_manifest)
    with pytest.raises(KeyboardInterrupt):
        _write(store, pd.DataFrame({"x": [9, 9]}))
    monkeypatch.undo()
    assert list(store.read("sweep", PARAMS).table["x"]) == [1]
    assert not list((tmp_path / "sweep").rglob("*.tmp"))


def test_quick_never_overwrites_full(tmp_path):
    store = ResultStore(tmp_path)
    _write(store, pd.DataFrame({"x": [1]}), profile="full")
    with pytest.raises(ResultError, match="full-profile result"):
        _write(store, pd.DataFrame({"x": [2]}), profile="quick")
    assert list(store.read("sweep", PARAMS).table["x"]) == [1]


def test_missing_and_malformed_results_are_named(tmp_path):
    store = ResultStore(tmp_path)
    with pytest.raises(ResultError, match="no result for 'sweep'"):
        store.read("sweep", PARAMS)
    folder = _write(store, pd.DataFrame({"x": [1]})).path
    (folder / "manifest.json").write_text("{not json")
    with pytest.raises(ResultError, match="not valid JSON"):
        load_result(folder)
    (folder / "manifest.json").write_text(json.dumps({"name": "sweep"}))
    with pytest.raises(ResultError, match="lacks the keys"):
        load_result(folder)


def test_default_roots_by_profile(monkeypatch, tmp_path):
    monkeypatch.setenv("SCALINGBOOK_DATA", str(tmp_path / "d"))
    monkeypatch.setenv("SCALINGBOOK_CACHE", str(tmp_path / "c"))
    assert ResultStore.for_profile("full").root == tmp_path / "d"
    assert ResultStore.for_profile("quick").root == tmp_path / "c"
    with pytest.raises(ValueError, match="profile must be one of"):
        ResultStore.for_profile("medium")


def test_stored_files_are_readable_by_others(tmp_path):
    folder = _write(ResultStore(tmp_path), pd.DataFrame({"x": [1]})).path
    assert {oct(p.stat().st_mode & 0o777) for p in folder.iterdir()} == {"0o644"}


def test_a_flipped_bit_in_a_table_is_an_error_naming_the_file_and_the_fix(tmp_path):
    table = pd.DataFrame({"step": range(4875), "loss": [1.0 / (1 + i) for i in range(4875)]})
    folder = _write(ResultStore(tmp_path), table).path
    path = folder / json.loads((folder / "manifest.json").read_text())["table_file"]
    data = bytearray(path.read_bytes())
    data[200] ^= 0x10  # in a data page: pyarrow used to read back a changed number, no error
    path.write_bytes(bytes(data))
    with pytest.raises(ResultError) as err:
        load_result(folder)
    message = str(err.value)
    assert str(path) in message and "damaged" in message and "\n" not in message
    assert f"delete {folder} and rerun `" in message


@pytest.mark.parametrize(
    ("command", "rerun"),
    [
        (
            "/venv/bin/scalingbook sweep sweeps/seeds-count-width.yaml",
            "/venv/bin/scalingbook sweep sweeps/seeds-count-width.yaml",
        ),
        ("/venv/lib/site-packages/ipykernel_launcher.py -f /tmp/k.json", "scalingbook run sweep"),
    ],
)
def test_the_fix_names_the_command_or_else_the_chapter(tmp_path, command, rerun):
    folder = _write(ResultStore(tmp_path), pd.DataFrame({"x": [1]})).path
    manifest = json.loads((folder / "manifest.json").read_text())
    (folder / "manifest.json").write_text(json.dumps({**manifest, "command": command}))
    (folder / manifest["table_file"]).write_bytes(b"not the table")
    with pytest.raises(ResultError, match=f"rerun `{rerun}` to recompute it"):
        load_result(folder)


def test_old_temporaries_of_killed_writers_are_removed_on_the_next_write(tmp_path):
    folder = _write(ResultStore(tmp_path), pd.DataFrame({"x": [1]})).path
    killed, live = folder / ".manifest.json.k1ll3d.tmp", folder / ".manifest.json.l1v3.tmp"
    killed.write_bytes(b"half")
    live.write_bytes(b"being written")
    two_hours_ago = time.time() - 7200
    os.utime(killed, (two_hours_ago, two_hours_ago))
    _write(ResultStore(tmp_path), pd.DataFrame({"x": [2]}))
    assert not killed.exists() and live.exists()


def test_a_damaged_result_stops_a_sweep_in_one_line(tmp_path, monkeypatch, capsys):
    config = tmp_path / "tiny.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "name": "tiny",
                "task": {"name": "count", "train_length": 4, "test_length": 5},
                "model": {"n_layers": 1, "n_heads": 2},
                "grid": [{"d_model": 16}],
                "members": {"seeds": 1},
                "train": {"steps": 2, "batch_size": 2, "warmup_steps": 1, "log_every": 1, "progress": False},
            }
        )
    )
    monkeypatch.setenv("SCALINGBOOK_CACHE", str(tmp_path / "store"))
    run = Sweep.load(config, "quick").runs[0]
    stored = ResultStore(tmp_path / "store").write(
        "tiny/records",
        run.params(),
        pd.DataFrame({"x": [1]}),
        profile="quick",
        device="cpu",
        started=datetime.now(UTC),
    )
    (stored.path / stored.manifest["table_file"]).write_bytes(b"rotten")
    assert cli.main(["sweep", str(config), "--device", "cpu"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("scalingbook: error: ") and err.count("\n") == 1 and "damaged" in err


def test_a_copy_without_git_names_its_commit_from_the_environment(tmp_path, monkeypatch):
    from scalingbook.lab.store import git_state

    assert git_state(tmp_path) == (None, None)
    monkeypatch.setenv("SCALINGBOOK_GIT_COMMIT", "0123abcd")
    assert git_state(tmp_path) == ("0123abcd", None)


def test_results_under_data_do_not_make_the_code_dirty(tmp_path):
    from scalingbook.lab.store import git_state

    def git(*args: str) -> None:
        subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True)

    (tmp_path / "src").mkdir()
    (tmp_path / "data").mkdir()
    (tmp_path / "src" / "code.py").write_text("x = 1\n")
    (tmp_path / "data" / "result.json").write_text("{}\n")
    git("init", "-q")
    git("add", ".")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "start")
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=tmp_path, capture_output=True, text=True).stdout.strip()
    (tmp_path / "data" / "result.json").write_text('{"rewritten": true}\n')
    assert git_state(tmp_path) == (commit, False), "a run's own results are not a change to the code"
    (tmp_path / "src" / "code.py").write_text("x = 2\n")
    assert git_state(tmp_path) == (commit, True)


def test_manifests_record_the_command_with_paths_relative_to_the_project(tmp_path, monkeypatch):
    monkeypatch.setattr(store, "REPO_ROOT", tmp_path)
    assert store.repo_relative(tmp_path / "data" / "x.csv") == "data/x.csv"
    assert store.repo_relative("/elsewhere/on/this/machine/x.csv") == "x.csv"
    monkeypatch.setenv(store.COMMAND_ENV_VAR, "scalingbook sweep sweeps/a.yaml")
    assert (
        _write(ResultStore(tmp_path), pd.DataFrame({"x": [1]})).manifest["command"] == "scalingbook sweep sweeps/a.yaml"
    )
    monkeypatch.delenv(store.COMMAND_ENV_VAR)
    monkeypatch.setattr("sys.argv", [str(tmp_path / "scripts" / "pilot"), "/tmp/out.csv", "label"])
    assert store.command_line() == "scripts/pilot out.csv label"
    monkeypatch.setattr("sys.argv", ["/venv/lib/python3.11/site-packages/ipykernel_launcher.py", "-f", "/tmp/k.json"])
    assert "/" not in store.command_line()


def test_the_command_line_sets_the_command_for_what_it_runs(tmp_path, monkeypatch):
    seen = []
    monkeypatch.setattr(cli, "_list", lambda args: seen.append(os.environ[store.COMMAND_ENV_VAR]) or 0)
    monkeypatch.delenv(store.COMMAND_ENV_VAR, raising=False)
    assert cli.main(["list"]) == 0
    assert seen == ["scalingbook list"]
    assert store.COMMAND_ENV_VAR not in os.environ, "the process's environment is restored"


def test_committed_results_record_no_path_of_the_machine_that_made_them():
    """Manifests under data/ once recorded the absolute path of the scalingbook binary used."""
    manifests = sorted((REPO_ROOT / "data").rglob("manifest.json"))
    assert manifests, "data/ holds committed results"
    for path in manifests:
        manifest = json.loads(path.read_text())
        assert not manifest["command"].startswith("/"), f"{path}: {manifest['command']}"
        assert "/work/" not in path.read_text() and "/home/" not in path.read_text(), path


def test_cached_computes_once_then_reads_the_stored_table(tmp_path):
    store = ResultStore(tmp_path)
    calls = []

    def compute() -> pd.DataFrame:
        calls.append(1)
        return pd.DataFrame({"x": [1.5, 2.5]})

    first = store.cached("demo/table", {"n": 2}, compute, profile="quick", device="cpu")
    again = store.cached("demo/table", {"n": 2}, compute, profile="quick", device="cpu")
    assert calls == [1], "the second call must read, not recompute"
    assert again.table["x"].tolist() == [1.5, 2.5] and again.manifest["param_hash"] == first.manifest["param_hash"]
    store.cached("demo/table", {"n": 3}, compute, profile="quick", device="cpu")
    assert calls == [1, 1], "other parameters are another result"


def test_every_committed_result_is_found_under_the_key_the_code_makes_today():
    """Issue 16: a refactor that changes no computation must not change a stored run's key, or the
    book would retrain (or silently drop) committed results. Every committed sweep result must be one
    of today's runs of its config, and the committed vision populations those of the chapter's defaults."""
    from scalingbook.chapters.params import read_params
    from scalingbook.lab import vision

    data = REPO_ROOT / "data"
    expected: dict[str, set[str]] = {}
    for path in sorted((REPO_ROOT / "sweeps").glob("*.yaml")):
        for profile in ("full", "paper"):
            try:
                sweep = Sweep.load(path, profile)
            except SweepError:  # a config without this profile
                continue
            for spec in sweep.runs:
                expected.setdefault(spec.sweep, set()).add(param_hash(spec.params()))
    defaults = {name: p.default for name, p in read_params(REPO_ROOT / "notebooks" / "mirage.py").items()}
    for task in vision.VISION_TASKS:
        config = vision.profile_config(task, "full", defaults["vision_widths"], defaults["vision_seeds"])
        expected.setdefault(vision.RESULT_NAMES[task], set()).add(param_hash(config.params()))
    found = 0
    for manifest in sorted(data.rglob("manifest.json")):
        folder = manifest.parent
        result = load_result(folder)
        name = result.manifest["name"]
        sweep_name = (
            name.rsplit("/", 1)[0] if name.rsplit("/", 1)[-1] in ("records", "training", "large", "choices") else name
        )
        assert folder.name in expected.get(sweep_name, set()), f"{folder}: no run of today's code has this key"
        found += 1
    assert found >= 64, f"only {found} committed results found under {data}"
