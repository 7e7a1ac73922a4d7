"""Sweeps: config validation, one stored result per run, kill and resume, submitit execution."""

from __future__ import annotations

import json
import time
from dataclasses import replace
from datetime import UTC, datetime

import pandas as pd
import pytest
import yaml

from scalingbook.lab import sweeps
from scalingbook.lab.sweeps import Sweep, SweepError, run_sweep

PINNED_KEY = "63ad12c0217c9ab2"  # Sweep.from_dict(CONFIG).runs[0].key before the field checks existed

CONFIG = {
    "name": "tiny",
    "task": {"name": "count", "train_length": 4, "test_length": 5},
    "model": {"n_layers": 1, "n_heads": 2, "positional": "rotary"},
    "grid": [{"d_model": 16}, {"d_model": 32}],
    "members": {"seeds": 2, "lr": 3e-3},
    "train": {"steps": 12, "batch_size": 8, "warmup_steps": 2, "log_every": 4, "progress": False},
    "eval": {"n_examples": 16},
    "profiles": {"quick": {}, "full": {"train": {"steps": 400}, "members": {"seeds": 200}}},
}


@pytest.fixture
def checkpoints(tmp_path, monkeypatch):
    monkeypatch.setattr(sweeps, "REPO_ROOT", tmp_path)
    monkeypatch.setenv("SCALINGBOOK_ROOT", str(tmp_path))  # for worker processes
    return tmp_path / ".cache" / "checkpoints"


def test_config_expands_to_one_run_per_grid_point_with_profile_overrides():
    quick = Sweep.from_dict(CONFIG, "quick")
    full = Sweep.from_dict(CONFIG, "full")
    assert [r.model["d_model"] for r in quick.runs] == [16, 32]
    assert len(quick.runs[0].members) == 2 and len(full.runs[0].members) == 200
    assert full.runs[0].train["steps"] == 400 and quick.runs[0].train["steps"] == 12
    assert quick.runs[0].key != quick.runs[1].key != full.runs[0].key
    assert Sweep.from_dict(CONFIG, "paper").runs[0].train["steps"] == 12  # the top level


def test_a_profile_the_config_does_not_define_is_refused():
    with pytest.raises(SweepError, match=r"no 'full' profile \(it defines quick, paper\)"):
        Sweep.from_dict({**CONFIG, "profiles": {"quick": {}}}, "full")


def test_runtime_settings_do_not_change_a_runs_identity():
    a = Sweep.from_dict(CONFIG).runs[0]
    b = Sweep.from_dict({**CONFIG, "train": {**CONFIG["train"], "progress": True, "checkpoint_every": 3}}).runs[0]
    assert a.key == b.key


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"grid": []}, "grid must be a non-empty list"),
        ({"grid": [{"d_modle": 16}]}, "grid[0]: unknown key(s) ['d_modle']"),
        ({"grid": [{"d_model": 15}]}, "grid[0]: d_model=15 must split"),
        ({"task": {"name": "sorting"}}, "task.name must be one of"),
        ({"task": {"name": "count", "train_length": 4, "test_length": 500}}, "test_length must be in"),
        ({"members": {"seeds": 0}}, "members.seeds must be a positive count"),
        ({"train": {"steps": 0}}, "train.steps must be >= 1, got 0"),
        ({"trian": {}}, "unknown key(s) ['trian']"),
    ],
)
def test_bad_configs_name_the_problem(change, message):
    with pytest.raises(SweepError) as err:
        Sweep.from_dict({**CONFIG, **change}, source="tiny.yaml")
    assert message in str(err.value) and str(err.value).startswith("tiny.yaml")


@pytest.mark.parametrize(
    ("yaml_text", "message"),
    [
        ("members: {seeds: 2, lr: -1}", "members.lr must be > 0, got -1"),
        ("members: {seeds: 2, lr: abc}", "members.lr must be a number, got 'abc'"),
        ("members: {seeds: 2, lr: .nan}", "members.lr must be a finite number"),
        ("members: {seeds: 2.5, lr: 1.0e-3}", "members.seeds must be a positive count or a list"),
        ("members: {seeds: [0, -1]}", "members.seeds must be a positive count or a list"),
        ("members: {seeds: 2, steps: 0}", "members.steps must be >= 1, got 0"),
        ("members: {seeds: 2, steps: 2.5}", "members.steps must be a whole number, got 2.5"),
        ("members: {seeds: 2, steps: [10, 0]}", "members.steps must be >= 1, got 0"),
        ("members: {seeds: 2, steps: [10]}", "members.steps as a list needs one positive integer per seed (2)"),
        ("train: {steps: 0, batch_size: 8}", "train.steps must be >= 1, got 0"),
        ("train: {steps: ten, batch_size: 8}", "train.steps must be a number, got 'ten'"),
        ("train: {steps: 10, batch_size: 8, beta2: 1.5}", "train.beta2 must be >= 0 and <= 1, got 1.5"),
        ("train: {steps: 10, batch_size: 8, progress: maybe}", "train.progress must be true or false, got 'maybe'"),
        ("eval: {n_examples: 0}", "eval.n_examples must be >= 1, got 0"),
        ("eval: {n_examples: 16, seed: many}", "eval.seed must be a number, got 'many'"),
    ],
)
def test_member_train_and_eval_fields_are_checked_when_the_yaml_is_loaded(tmp_path, yaml_text, message, capsys):
    """Issue 18, item 5: these gave a 20-line traceback after training started; now one line, exit 2."""
    from scalingbook.site import cli

    config = tmp_path / "bad.yaml"
    config.write_text(yaml.safe_dump(CONFIG) + yaml_text + "\n")  # the last mapping of a key wins in PyYAML
    with pytest.raises(SweepError) as err:
        Sweep.load(config)
    assert message in str(err.value) and str(err.value).startswith(str(config)) and "\n" not in str(err.value)
    assert cli.main(["sweep", str(config), "--device", "cpu"]) == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_yaml_number_forms_are_accepted_and_stored_keys_kept(tmp_path):
    """``lr: 1e-3`` is a string to PyYAML (no dot); it is read as the number, like ``1.0e-3``."""
    config = tmp_path / "forms.yaml"
    config.write_text(
        yaml.safe_dump(CONFIG) + "members: {seeds: 2, lr: 1e-3, steps: 1e1}\ntrain: {steps: 12, "
        "batch_size: 8, warmup_steps: 2, log_every: 4, progress: false, min_lr_ratio: 1e-1}\n"
    )
    run = Sweep.load(config).runs[0]
    assert run.members[0] == {"seed": 0, "lr": 0.001, "steps": 10}
    assert run.train["min_lr_ratio"] == 0.1 and isinstance(run.train["steps"], int)
    assert (
        run.key
        == Sweep.from_dict(
            {
                **CONFIG,
                "members": {"seeds": 2, "lr": 1.0e-3, "steps": 10},
                "train": {**CONFIG["train"], "min_lr_ratio": 0.1},
            }
        )
        .runs[0]
        .key
    )
    # A config that was already valid keeps the key it was stored under (pinned before this check existed).
    assert Sweep.from_dict(CONFIG).runs[0].key == PINNED_KEY


def test_a_distinct_test_set_is_stored_and_checked_before_training(tmp_path, checkpoints):
    """eval.distinct: the run is scored on n_examples distinct problems; a task with fewer is refused
    when the config is loaded, and leaving the switch off keeps every stored key."""
    assert Sweep.from_dict({**CONFIG, "eval": {"n_examples": 16, "distinct": False}}).runs[0].key == PINNED_KEY
    distinct = {
        **CONFIG,
        "task": {**CONFIG["task"], "test_max_length": 7},
        "grid": CONFIG["grid"][:1],
        "eval": {"n_examples": 150, "distinct": True},
    }
    (result,) = run_sweep(Sweep.from_dict(distinct), "quick", store_root=tmp_path / "store", log=lambda _: None)
    one_seed = result.table[result.table["seed"] == 0]
    assert len(one_seed) == 150 and one_seed["target"].map(lambda t: bytes(t)).nunique() == 150
    assert set(one_seed["length"]) == {5, 6, 7}
    with pytest.raises(SweepError, match=r"eval\.distinct: .*96 distinct test problems.*fewer than the 150"):
        Sweep.from_dict({**distinct, "task": CONFIG["task"]})


def test_load_reports_missing_and_malformed_files(tmp_path):
    with pytest.raises(SweepError, match="does not exist"):
        Sweep.load(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [unclosed\n")
    with pytest.raises(SweepError, match="not valid YAML"):
        Sweep.load(bad)
    good = tmp_path / "good.yaml"
    good.write_text(yaml.safe_dump(CONFIG))
    assert len(Sweep.load(good).runs) == 2


def test_a_killed_sweep_resumes_without_repeating_finished_runs(tmp_path, checkpoints, monkeypatch):
    sweep = Sweep.from_dict(CONFIG)
    real_run_chunk = sweeps.run_chunk
    calls = []

    def dies_on_second(spec, *args):
        calls.append(spec.key)
        if len(calls) == 2:
            raise KeyboardInterrupt("killed")
        return real_run_chunk(spec, *args)

    monkeypatch.setattr(sweeps, "run_chunk", dies_on_second)
    with pytest.raises(KeyboardInterrupt):
        run_sweep(sweep, "quick", store_root=tmp_path / "store", log=lambda _: None)
    monkeypatch.setattr(sweeps, "run_chunk", real_run_chunk)
    first = sweeps.ResultStore(tmp_path / "store").read("tiny/records", sweep.runs[0].params())

    messages = []
    results = run_sweep(sweep, "quick", store_root=tmp_path / "store", log=messages.append)
    assert messages[0] == "tiny: 1 of 2 runs stored, 1 to run"
    assert results[0].manifest["finished"] == first.manifest["finished"], "finished run was repeated"
    records = results[1].table
    assert set(records["seed"]) == {0, 1} and len(records) == 2 * 16
    assert {"exact_match", "sum_logprob", "prediction", "target"} <= set(records.columns)
    training = sweeps.ResultStore(tmp_path / "store").read("tiny/training", sweep.runs[1].params())
    assert len(training.manifest["members_summary"]) == 2 and training.table["step"].max() == 12
    assert training.manifest["cpu_seconds"] > 0
    assert not list(checkpoints.rglob("*.pt")), "checkpoints of finished runs are removed"
    assert run_sweep(sweep, "quick", store_root=tmp_path / "store", log=messages.append)
    assert messages[-2] == "tiny: 2 of 2 runs stored, 0 to run"


# Five members in groups of two: three groups per run, the last one short.
GROUPED = {
    **CONFIG,
    "members": {"seeds": 5, "lr": 3e-3},
    "train": {**CONFIG["train"], "steps": 40, "member_chunk": 2, "checkpoint_every": 1000},
}


def _tables(store, sweep):
    return {
        (s.key, name): store.read(f"tiny/{name}", s.params()).table
        for s in sweep.runs
        for name in ("records", "training")
    }


def test_time_boxed_sittings_and_workers_give_the_same_results_as_one_run(tmp_path, checkpoints, monkeypatch):
    """A sweep stopped by its time limit over and over, then continued with two worker processes,
    stores exactly what one uninterrupted single-process run stores."""
    sweep = Sweep.from_dict(GROUPED)
    sweeps.run_sweeps([sweep], "quick", store_root=tmp_path / "one", log=lambda _: None)
    reference = _tables(sweeps.ResultStore(tmp_path / "one"), sweep)

    monkeypatch.setattr(sweeps, "MIN_TIME_LIMIT_S", 0.0)
    sittings, stopped = 0, True
    clock, real_time = iter(range(10**6)), time.time
    monkeypatch.setattr(time, "time", lambda: next(clock) * 0.5)  # each look at the clock is 0.5 s later
    while stopped and sittings < 3:
        stopped = sweeps.run_sweeps(
            [sweep], "quick", time_limit=20.0, store_root=tmp_path / "boxed", log=lambda _: None
        ).stopped
        sittings += 1
    assert stopped and sittings == 3, "the time limit must have stopped every sitting"
    assert list(checkpoints.rglob("chunk-*.pt")), "a stopped group keeps its checkpoint"
    monkeypatch.setattr(time, "time", real_time)
    last = sweeps.run_sweeps([sweep], "quick", workers=2, store_root=tmp_path / "boxed", log=lambda _: None)
    assert not last.stopped and last.runs_stored == 2
    boxed = _tables(sweeps.ResultStore(tmp_path / "boxed"), sweep)
    for name, table in reference.items():
        pd.testing.assert_frame_equal(boxed[name], table, check_exact=True)
    assert sorted(reference[(sweep.runs[0].key, "records")]["member"].unique()) == [0, 1, 2, 3, 4]


def test_a_run_resumed_across_sittings_records_the_cpu_time_and_commit_of_every_sitting(
    tmp_path, checkpoints, monkeypatch
):
    spec = Sweep.from_dict(CONFIG).runs[0]
    clock = iter(range(0, 10**6, 100))
    monkeypatch.setattr(time, "process_time", lambda: float(next(clock)))  # every sitting measures 100 s
    monkeypatch.setattr(sweeps, "git_state", lambda: ("a" * 40, False))
    first = sweeps.run_chunk(spec, "quick", "cpu", 0, deadline=time.time() - 1)  # stops after a step
    assert first == {"status": "stopped", "cpu_seconds": 100.0}
    monkeypatch.setattr(sweeps, "git_state", lambda: ("b" * 40, True))
    second = sweeps.run_chunk(spec, "quick", "cpu", 0)
    assert second["status"] == "done" and second["cpu_seconds"] == 200.0
    assert second["commits"] == ["a" * 40, "b" * 40 + "+dirty"]
    store = sweeps.ResultStore(tmp_path / "store")
    stored = sweeps.store_run(spec, "quick", "cpu", store)
    assert stored.manifest["cpu_seconds"] == 200.0
    assert stored.manifest["trained_at_commits"] == ["a" * 40, "b" * 40 + "+dirty"]
    assert "(trained at aaaaaaaaaa, bbbbbbbbbb+dirty)" in stored.describe()
    assert not list(checkpoints.rglob("chunk-*")), "the work folder, spent-time note included, is cleared"

    spent_file = sweeps.work_dir(spec, "quick") / "chunk-000-spent.json"
    spent_file.parent.mkdir(parents=True)
    spent_file.write_text(json.dumps({"cpu_seconds": 50.0}))  # a note from before notes named commits
    assert sweeps.run_chunk(spec, "quick", "cpu", 0)["commits"] == ["unknown", "b" * 40 + "+dirty"]


def test_a_recheck_retrains_the_first_group_and_finds_a_changed_stored_value(tmp_path, checkpoints):
    spec = Sweep.from_dict(CONFIG).runs[0]
    store = sweeps.ResultStore(tmp_path / "store")
    run_sweep(
        Sweep.from_dict({**CONFIG, "grid": CONFIG["grid"][:1]}), "quick", store_root=store.root, log=lambda _: None
    )
    gaps = sweeps.recheck_first_group(spec, "quick", store).set_index("column")["max_abs_diff"]
    assert {"exact_match", "sum_logprob", "seed"} <= set(gaps.index)
    assert (gaps == 0).all(), "the same code on the same machine retrains bit for bit"
    assert not sweeps.work_dir(spec, "quick").exists()

    stored = store.read(f"{spec.sweep}/records", spec.params())
    changed = stored.table.assign(sum_logprob=stored.table["sum_logprob"] - 0.25)
    store.write(
        stored.manifest["name"], spec.params(), changed, profile="quick", device="cpu", started=datetime.now(UTC)
    )
    gaps = sweeps.recheck_first_group(spec, "quick", store).set_index("column")["max_abs_diff"]
    assert gaps["sum_logprob"] == pytest.approx(0.25) and gaps["exact_match"] == 0

    sweeps.work_dir(spec, "quick").mkdir(parents=True)
    with pytest.raises(SweepError, match="sitting in progress"):
        sweeps.recheck_first_group(spec, "quick", store)


def test_a_time_limit_too_short_for_a_checkpoint_is_refused(tmp_path, checkpoints):
    with pytest.raises(SweepError, match="shorter than the 60 s"):
        sweeps.run_sweeps([Sweep.from_dict(CONFIG)], "quick", time_limit=5, store_root=tmp_path)


def test_a_second_sweep_on_the_same_results_is_refused_naming_the_holder(tmp_path, checkpoints):
    sweep = Sweep.from_dict(CONFIG)
    with sweeps.sweep_lock(sweep, "quick"):
        with pytest.raises(SweepError, match=r"being run by another process \(pid \d+ on"):
            sweeps.run_sweeps([sweep], "quick", store_root=tmp_path / "store", log=lambda _: None)


def test_status_lists_every_profile_of_every_sweep(tmp_path, checkpoints, monkeypatch):
    monkeypatch.setenv("SCALINGBOOK_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("SCALINGBOOK_DATA", str(tmp_path / "data"))
    folder = tmp_path / "sweeps"
    folder.mkdir()
    (folder / "tiny.yaml").write_text(yaml.safe_dump(CONFIG))
    sweep = Sweep.from_dict(CONFIG, "quick")
    stored = run_sweep(Sweep.from_dict({**CONFIG, "grid": CONFIG["grid"][:1]}), "quick", log=lambda _: None)
    rows = {r["profile"]: r for r in sweeps.sweep_status(folder)}
    assert rows["quick"]["cpu_hours"] * 3600 == pytest.approx(stored[0].manifest["cpu_seconds"])
    assert rows["quick"]["cpu_hours"] > 0 and rows["full"]["cpu_hours"] == 0
    assert list(rows) == ["quick", "full", "paper"]
    assert (rows["quick"]["stored"], rows["quick"]["remaining"]) == (1, 1)
    assert (rows["full"]["stored"], rows["paper"]["stored"]) == (0, 0)
    assert len(sweep.runs) == rows["quick"]["runs"]


def test_runs_through_submitit(tmp_path, checkpoints):
    sweep = Sweep.from_dict({**CONFIG, "grid": [{"d_model": 16}]})
    executor = sweeps.slurm_executor(tmp_path / "jobs", cluster="local", timeout_min=5)
    results = run_sweep(sweep, "quick", executor=executor, store_root=tmp_path / "store", log=lambda _: None)
    assert len(results) == 1 and len(results[0].table) == 2 * 16


def test_sweep_command_runs_a_config_and_rejects_a_bad_one(tmp_path, checkpoints, monkeypatch, capsys):
    from scalingbook.site import cli

    monkeypatch.setenv("SCALINGBOOK_CACHE", str(tmp_path / "cache"))
    config = tmp_path / "tiny.yaml"
    config.write_text(yaml.safe_dump({**CONFIG, "grid": [{"d_model": 16}]}))
    assert cli.main(["sweep", str(config), "--device", "cpu"]) == 0
    assert "finished: 1 of 1 runs stored" in capsys.readouterr().out
    config.write_text(yaml.safe_dump({**CONFIG, "grid": [{"width": 16}]}))
    assert cli.main(["sweep", str(config), "--device", "cpu"]) == 2
    assert "grid[0]: unknown key(s) ['width']" in capsys.readouterr().err


def test_a_finished_sweep_is_read_without_its_lock(tmp_path, checkpoints, monkeypatch):
    """A grader's sandbox reads stored results from a read-only checkout, where no lock file can be made."""
    sweep = Sweep.from_dict({**CONFIG, "grid": CONFIG["grid"][:1]})
    first = run_sweep(sweep, "quick", store_root=tmp_path / "store", log=lambda _: None)

    def no_lock(*_):
        raise AssertionError("took a lock to read finished results")

    monkeypatch.setattr(sweeps, "sweep_lock", no_lock)
    again = run_sweep(sweep, "quick", store_root=tmp_path / "store", log=lambda _: None)
    assert again[0].manifest["finished"] == first[0].manifest["finished"]


def test_a_chapter_reads_the_stored_full_runs_only_and_falls_back_to_quick(tmp_path, checkpoints, monkeypatch):
    monkeypatch.setenv("SCALINGBOOK_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("SCALINGBOOK_DATA", str(tmp_path / "data"))
    path = tmp_path / "tiny.yaml"
    full = {"grid": [{"d_model": 16}, {"d_model": 32}], "train": {"steps": 6}}
    path.write_text(yaml.safe_dump({**CONFIG, "profiles": {"quick": {}, "full": full}}))

    assert sweeps.read_stored(path, "full") is None
    nothing_stored = sweeps.read_or_train(path, "full", log=lambda _: None)
    assert nothing_stored.profile == "quick" and len(nothing_stored.results) == 2 and not nothing_stored.pending

    one = Sweep.load(path, "full")
    run_sweep(replace(one, runs=one.runs[:1]), "full", log=lambda _: None)
    shown = sweeps.read_or_train(path, "full", log=lambda _: None)
    assert shown.profile == "full" and [s.model["d_model"] for s in shown.sweep.runs] == [16]
    assert [s.key for s in shown.pending] == [one.runs[1].key], "the missing run is listed, not trained"
    assert not sweeps.work_dir(one.runs[1], "full").exists()

    again = sweeps.read_stored(path, "full")
    assert again is not None and (again.sweep, again.pending) == (shown.sweep, shown.pending)
    assert [r.manifest for r in again.results] == [r.manifest for r in shown.results]

    path.write_text(yaml.safe_dump({**CONFIG, "profiles": {"quick": {}}}))
    assert sweeps.read_stored(path, "full") is None
    assert sweeps.read_or_train(path, "full", log=lambda _: None).profile == "quick"


def test_the_paper_profile_on_a_cpu_asks_first_and_a_script_is_refused(tmp_path, checkpoints, monkeypatch, capsys):
    """Issue 18, item 8: GPU-scale training started on a CPU without a word."""
    import io

    from scalingbook.site import cli

    monkeypatch.setenv("SCALINGBOOK_DATA", str(tmp_path / "data"))
    config = tmp_path / "tiny.yaml"
    config.write_text(yaml.safe_dump({**CONFIG, "grid": [{"d_model": 16}]}))
    monkeypatch.setattr("sys.stdin", io.StringIO(""))  # not a terminal, as in CI or a script
    assert cli.main(["sweep", str(config), "--profile", "paper", "--device", "cpu"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "sized for a GPU" in err and "hours on this CPU" in err and "--yes" in err
    assert not (tmp_path / "data").exists(), "nothing trained or written"

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    monkeypatch.setattr("sys.stdin", Terminal("n\n"))
    assert cli.main(["sweep", str(config), "--profile", "paper", "--device", "cpu"]) == 2
    assert "not confirmed" in capsys.readouterr().err and not (tmp_path / "data").exists()

    assert cli.main(["sweep", str(config), "--profile", "paper", "--device", "cpu", "--yes"]) == 0
    assert "finished: 1 of 1 runs stored" in capsys.readouterr().out
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    assert cli.main(["sweep", str(config), "--profile", "paper", "--device", "cpu"]) == 0, "nothing left: no question"
    assert cli.main(["sweep", str(config), "--profile", "quick", "--device", "cpu"]) == 0, "quick never asks"


def test_two_sweeps_holding_the_same_run_both_store_it(tmp_path, checkpoints):
    """The depth and width sweeps of a chapter can share a grid point (same settings, same key): each
    sweep's copy is trained and stored under its own name, and neither waits on the other's groups."""
    width = Sweep.from_dict({**CONFIG, "name": "tiny/width", "grid": [{"d_model": 16}, {"d_model": 32}]})
    depth = Sweep.from_dict({**CONFIG, "name": "tiny/depth", "grid": [{"d_model": 16}]})
    assert width.runs[0].key == depth.runs[0].key
    done = sweeps.run_sweeps([width, depth], "quick", store_root=tmp_path / "store", log=lambda _: None)
    assert (done.runs_stored, done.runs_total, done.chunks_left) == (3, 3, 0)
    store = sweeps.ResultStore(tmp_path / "store")
    assert store.exists("tiny/depth/records", depth.runs[0].params())


def test_status_as_markdown_is_the_readme_budget_table(capsys):
    from scalingbook.lab.store import REPO_ROOT
    from scalingbook.site import cli

    assert cli.main(["sweep", "--status", "--markdown"]) == 0
    table = capsys.readouterr().out
    assert table.startswith("| sweep | profile |") and "| quick |" not in table
    assert table in (REPO_ROOT / "README.md").read_text(), "README's budget table is out of date: paste this in"
