"""The population benchmark: its three methods compute the same thing, run, and report sane numbers."""

from __future__ import annotations

import itertools
import json
import math
from types import SimpleNamespace

import pytest
import torch

from scalingbook.chapters import performance
from scalingbook.chapters.performance import (
    SingleTransformer,
    StackedModels,
    TrainerVariant,
    bf16_peak_flops,
    fit_benchmark,
    load_benchmarks,
    losses_by_method,
    op_category,
    op_time_shares,
    population_benchmark,
    population_rows,
    population_table,
    single_loss,
    trainer_variants,
    write_benchmark_json,
)
from scalingbook.lab.cpu import torch_threads
from scalingbook.lab.model import ModelConfig, Population
from scalingbook.lab.train import TrainConfig, member_losses
from scalingbook.site import cli

# torch has no vmap rule for the CPU attention kernel and loops over members instead: slower, same values
pytestmark = pytest.mark.filterwarnings("ignore:There is a performance drop:UserWarning")

TINY = ModelConfig(d_model=32, n_layers=1, n_heads=2, seq_len=16)


TICK = 0.25
"""Seconds between two looks at the fake clock: every timed interval below is exactly one tick."""


@pytest.fixture
def fake_clock(monkeypatch):
    """The benchmarks' clock advances one tick per look, so each timing, and each rate, is known exactly."""
    ticks = itertools.count()
    monkeypatch.setattr(performance, "time", SimpleNamespace(perf_counter=lambda: next(ticks) * TICK))


def batch(members: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Random tokens with a ragged answer mask, so the masking has to agree too."""
    gen = torch.Generator().manual_seed(seed)
    tokens = torch.randint(0, TINY.vocab_size, (members, 4, 17), generator=gen)
    answer = torch.rand(members, 4, 17, generator=gen) < 0.6
    return tokens, answer


@pytest.mark.parametrize("positional", ["learned", "rotary"])
def test_three_methods_give_the_same_losses_and_gradients(positional):
    cfg = ModelConfig(d_model=32, n_layers=2, n_heads=2, positional=positional, seq_len=16)
    population = Population(cfg, [3, 5, 8])
    tokens, answer = batch(3)
    losses = losses_by_method(population, tokens, answer)
    for name in ("naive", "vmap"):
        torch.testing.assert_close(losses[name], losses["population"], atol=1e-5, rtol=0, msg=name)

    params = list(population.parameters())
    reference = torch.autograd.grad(member_losses(population, tokens, answer).sum(), params)
    stacked = StackedModels(population)
    from_vmap = torch.autograd.grad(stacked.losses(tokens, answer).sum(), list(stacked.params.values()))
    single = SingleTransformer.from_population(population, 1)
    alone = torch.autograd.grad(single_loss(single, tokens[1], answer[1]), list(single.parameters()))
    names = [name for name, _ in population.named_parameters()]
    assert names == list(stacked.params) == [name for name, _ in single.named_parameters()]
    for name, ref, vm, one in zip(names, reference, from_vmap, alone):
        torch.testing.assert_close(vm, ref, atol=1e-6, rtol=1e-4, msg=name)
        torch.testing.assert_close(one, ref[1], atol=1e-6, rtol=1e-4, msg=name)


def test_benchmark_runs_all_methods_and_round_trips_through_json(tmp_path, monkeypatch, fake_clock):
    monkeypatch.setenv("SCALINGBOOK_COMMAND", "scalingbook bench population --members 3")
    result = population_benchmark(
        d_model=32,
        n_layers=1,
        n_heads=2,
        members=3,
        seq_len=12,
        batch_size=4,
        steps=2,
        warmup=1,
        repeats=2,
        naive_members=2,
        variants=(TrainerVariant(),),
    )
    assert result["device_type"] == "cpu" and result["peak_flops"] is None
    assert result["config"]["members"] == 3 and result["config"]["naive_members"] == 2
    assert result["equivalence"]["max_abs_diff_naive"] < 1e-5
    assert result["equivalence"]["max_abs_diff_vmap"] < 1e-5
    assert set(result["methods"]) == {"naive", "vmap", "population"}
    tokens_per_member_step = 4 * 12
    for name, rates in result["methods"].items():
        assert "error" not in rates, rates
        members = 2 if name == "naive" else 3  # the loop times a sample of naive_members
        assert rates["repeat_seconds"] == [TICK, TICK], name
        assert rates["member_steps_per_s"] == pytest.approx(members * 2 / TICK), name
        assert rates["tokens_per_s"] == pytest.approx(rates["member_steps_per_s"] * tokens_per_member_step)
        assert rates["model_flops_per_s"] == pytest.approx(
            rates["member_steps_per_s"] * result["config"]["flops_per_member_step"]
        )
        assert rates["mfu"] is None and rates["peak_memory_bytes"] is None
    assert result["speedup"]["population"]["over_naive"] == pytest.approx(1.5)  # 3 members per tick against 2
    assert result["matmul_flops_per_s"] == {str(torch.get_num_threads()): pytest.approx(2 * 1024**3 / TICK)}
    assert "population" in population_table([result])
    assert result["command"] == "scalingbook bench population --members 3", "what made it, not this machine's paths"
    shares = result["op_time_shares"]
    assert set(shares) == {"threads", "naive", "population_group_3"}
    for method in ("naive", "population_group_3"):
        assert sum(shares[method]["shares"].values()) == pytest.approx(1.0)
        assert shares[method]["shares"]["matrix products"] > 0 and shares[method]["shares"]["attention"] > 0

    path = write_benchmark_json(result, tmp_path / "bench" / "population.json")
    assert json.loads(path.read_text()) == json.loads(json.dumps(result))
    assert not list(path.parent.glob(".*.tmp"))


def test_the_grouped_trainer_splits_members_among_workers_and_is_read_against_the_matmul_rate(fake_clock):
    result = population_benchmark(
        d_model=16,
        n_layers=1,
        n_heads=2,
        members=25,
        seq_len=8,
        batch_size=2,
        steps=1,
        warmup=1,
        repeats=1,
        naive_members=1,
        variants=(TrainerVariant(workers=2),),
    )
    grouped = result["methods"]["population_groups_2workers"]
    assert "error" not in grouped, grouped
    assert (grouped["workers"], grouped["member_group"], grouped["threads"]) == (2, 10, 2)
    assert len(grouped["worker_seconds"]) == 2 and grouped["seconds"] == max(grouped["worker_seconds"])
    assert grouped["member_steps_per_s"] == pytest.approx(25 / grouped["seconds"])
    rates = {int(t): r for t, r in result["matmul_flops_per_s"].items()}
    assert 2 in rates and torch.get_num_threads() in rates
    assert grouped["matmul_fraction"] == pytest.approx(grouped["model_flops_per_s"] / rates[2])
    shapes = result["matmul_model_shapes_flops_per_s"]
    group, rows, width = 10, 2 * 8, 16  # a member group of 10 and batch 2 x 8 tokens at d_model 16
    assert shapes == {
        "threads": 1,
        "square_1024": pytest.approx(2 * 1024**3 / TICK),
        "mlp_in": pytest.approx(2 * group * rows * width * 4 * width / TICK),
        "mlp_out": pytest.approx(2 * group * rows * 4 * width * width / TICK),
    }
    naive = result["methods"]["naive"]
    assert naive["matmul_fraction"] == pytest.approx(naive["model_flops_per_s"] / rates[naive["threads"]])
    spread = result["methods"]["naive_2workers"]
    assert "error" not in spread, spread
    assert (spread["workers"], spread["members_timed"], spread["threads"]) == (2, 2, 2), "one member each, at least"
    assert spread["seconds"] == max(spread["worker_seconds"])
    assert spread["member_steps_per_s"] == pytest.approx(2 / spread["seconds"])
    assert result["speedup"]["population_groups_2workers"]["over_naive_same_workers"] == pytest.approx(
        grouped["member_steps_per_s"] / spread["member_steps_per_s"]
    )


def test_a_failing_method_is_recorded_not_raised(fake_clock):
    # cuda_graph on a CPU is refused by TrainConfig; the benchmark records that and goes on
    result = population_benchmark(
        d_model=32,
        n_layers=1,
        n_heads=2,
        members=2,
        seq_len=8,
        batch_size=2,
        steps=1,
        warmup=3,
        repeats=1,
        naive_members=1,
        variants=(TrainerVariant(cuda_graph=True),),
    )
    assert "needs a CUDA device" in result["methods"]["population_graphed"]["error"]
    assert result["speedup"]["population_graphed"]["over_naive"] is None
    assert result["methods"]["naive"]["member_steps_per_s"] == pytest.approx(1 / TICK), "the others still ran"


def test_peaks_by_device_name():
    assert bf16_peak_flops("NVIDIA H100 80GB HBM3") == 989e12
    assert bf16_peak_flops("NVIDIA H100 PCIe") == 756e12
    assert bf16_peak_flops("NVIDIA H200") == 989e12
    assert bf16_peak_flops("cpu (x86_64, 2 cores)") is None
    assert TrainerVariant(compile=True, cuda_graph=True).name == "population_compiled_graphed"
    assert (
        TrainerVariant(compile=True, compile_mode="max-autotune-no-cudagraphs").name
        == "population_compiled_max_autotune_no_cudagraphs"
    )


def test_the_bench_times_compiled_groups_only_when_asked_for_both_compile_and_workers():
    names = [v.name for v in trainer_variants(compile=True, workers=2)]
    assert names == [
        "population",
        "population_compiled",
        "population_groups_2workers",
        "population_compiled_groups_2workers",
    ]
    assert [v.name for v in trainer_variants(workers=2)] == ["population", "population_groups_2workers"]
    assert [v.name for v in trainer_variants(cuda_graph=True)] == ["population", "population_graphed"]


def test_operators_fall_in_the_categories_that_explain_a_step():
    assert op_category("aten::bmm") == op_category("aten::addmm") == "matrix products"
    assert op_category("aten::_scaled_dot_product_flash_attention_for_cpu_backward") == "attention"
    assert op_category("aten::gelu_backward") == op_category("aten::native_layer_norm") == "layer norm and GELU"
    assert op_category("aten::_log_softmax_backward_data") == "softmax and loss"
    assert op_category("aten::mul") == op_category("aten::_foreach_addcdiv_") == "element-wise and other"


def test_op_time_shares_split_a_step_by_category_per_member():
    a, b = torch.randn(256, 256), torch.randn(256, 256)
    small = torch.randn(8)

    def run_steps(n: int) -> None:
        for _ in range(n):
            a @ b
            small + 1

    with torch_threads(1):
        measured = op_time_shares(run_steps, steps=4, members=2)
    shares, ms = measured["shares"], measured["ms_per_member_step"]
    assert set(shares) == {"matrix products", "element-wise and other"}
    assert sum(shares.values()) == pytest.approx(1.0)
    assert shares["matrix products"] > shares["element-wise and other"], "a 256^3 product outweighs adding to 8 numbers"
    total_ms = sum(ms.values())
    assert ms["matrix products"] == pytest.approx(shares["matrix products"] * total_ms)


def test_bench_command_writes_json_and_rejects_bad_sizes(tmp_path, capsys):
    out = tmp_path / "population.json"
    args = [
        "bench",
        "population",
        "--d-model",
        "16",
        "--layers",
        "1",
        "--heads",
        "2",
        "--members",
        "2",
        "--seq-len",
        "8",
        "--batch-size",
        "2",
        "--steps",
        "1",
        "--naive-members",
        "1",
        "--device",
        "cpu",
    ]
    assert cli.main([*args, "--out", str(out)]) == 0
    assert "population" in capsys.readouterr().out
    assert load_benchmarks(tmp_path)[0]["config"]["members"] == 2
    assert cli.main(["bench", "fits", "--starts", "6", "--out", str(tmp_path / "fits.json")]) == 0
    assert "Approach 3 on" in capsys.readouterr().out
    assert [r["benchmark"] for r in load_benchmarks(tmp_path)] == ["chinchilla_approach3_fit", "population_training"]
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["bench", "population", "--members", "0"])
    assert exit_info.value.code == 2
    assert "--members: expected a positive integer, got 0" in capsys.readouterr().err


def test_population_rows_keep_failed_methods(tmp_path):
    result = population_benchmark(
        d_model=16,
        n_layers=1,
        n_heads=2,
        members=2,
        seq_len=8,
        batch_size=2,
        steps=1,
        warmup=1,
        repeats=1,
        naive_members=1,
        variants=(TrainerVariant(), TrainerVariant(cuda_graph=True)),
    )
    rows = population_rows([result]).set_index("method")
    assert list(rows.index) == ["naive", "vmap", "population", "population_graphed"]
    assert "needs a CUDA device" in rows.loc["population_graphed", "error"]
    assert rows.loc["population", "over_naive"] == pytest.approx(result["speedup"]["population"]["over_naive"])
    assert "needs a CUDA device" in population_table([result])


def test_a_damaged_benchmark_file_is_named(tmp_path):
    (tmp_path / "a.json").write_text('{"benchmark": "population_training"')
    with pytest.raises(ValueError, match="a.json is not readable JSON"):
        load_benchmarks(tmp_path)
    (tmp_path / "a.json").write_text('{"benchmark": "something else"}')
    with pytest.raises(ValueError, match="a.json: 'benchmark' must be one of"):
        load_benchmarks(tmp_path)


def test_a_named_csv_that_is_missing_is_an_error_not_synthetic_data(tmp_path, capsys, monkeypatch):
    missing, out = tmp_path / "missing.csv", tmp_path / "fits.json"
    assert cli.main(["bench", "fits", "--csv", str(missing), "--starts", "6", "--out", str(out)]) == 2
    assert capsys.readouterr().err == f"scalingbook: error: --csv: {missing} does not exist\n"
    assert not out.exists()
    monkeypatch.setenv("SCALINGBOOK_EPOCH_CSV", str(missing))
    with pytest.raises(FileNotFoundError, match=f"SCALINGBOOK_EPOCH_CSV points to {missing}"):
        fit_benchmark(n_starts=6)


def test_the_fit_benchmark_records_its_data_relative_to_the_project(tmp_path, monkeypatch):
    """It recorded the absolute path of the CSV on the machine that ran it."""
    from scalingbook.lab import epoch_data

    monkeypatch.delenv("SCALINGBOOK_EPOCH_CSV", raising=False)
    if not epoch_data.SHIPPED_CSV.is_file():
        pytest.skip("the shipped Epoch copy is not in this project folder")
    assert fit_benchmark(n_starts=3)["data"] == "data/reference/chinchilla-fig4-epoch.csv"
    elsewhere = tmp_path / "epoch.csv"
    elsewhere.write_bytes(epoch_data.SHIPPED_CSV.read_bytes())
    assert fit_benchmark(csv_path=elsewhere, n_starts=3)["data"] == "epoch.csv"


# ----------------------------------------------------------------------------- the Performance page


def _fit(file: str, speedup: float, difference: float) -> dict:
    """A stored fit benchmark as load_benchmarks returns it."""
    return {
        "benchmark": "chinchilla_approach3_fit",
        "file": file,
        "git_commit": "0123456789abcdef",
        "data": "data/reference/epoch.csv",
        "n_starts": 4500,
        "batched_seconds": 2.0,
        "scipy_seconds": 2.0 * speedup,
        "speedup": speedup,
        "batched_objective": 1e-3 + difference,
        "scipy_objective": 1e-3,
        "objective_difference": difference,
        "machine": {"cpu": "x86_64", "cpu_count": 2},
    }


def _population(file: str | None, device_type: str = "cpu", device: str = "cpu (x86_64, 2 cores)") -> dict:
    """A population benchmark: two methods that ran and one that failed."""
    result = {
        "benchmark": "population_training",
        "device": device,
        "device_type": device_type,
        "git_commit": None,
        "config": {"d_model": 16, "n_layers": 2, "members": 200},
        "methods": {
            "naive": {"member_steps_per_s": 10.0, "tokens_per_s": 500.0},
            "population": {"member_steps_per_s": 30.0, "tokens_per_s": 1500.0, "peak_memory_bytes": 2**30},
            "population_graphed": {"error": "needs a CUDA device"},
        },
        "speedup": {"population": {"over_naive": 3.0, "over_vmap": 1.5}},
        "equivalence": {"members_checked": 4, "max_abs_diff_naive": 1e-7, "max_abs_diff_vmap": 3e-7},
    }
    return result if file is None else {**result, "file": file}


def test_the_page_reads_the_stored_files_and_names_them_from_the_project(tmp_path):
    from scalingbook.lab.store import REPO_ROOT

    committed = performance.read_measurements(REPO_ROOT / "data" / "bench")
    assert committed.shown == "data/bench"
    assert [r["file"] for r in committed.stored] == sorted(
        p.name for p in (REPO_ROOT / "data" / "bench").glob("*.json")
    )
    empty = performance.read_measurements(tmp_path / "none")
    assert empty == performance.Measurements(str(tmp_path / "none"), [])
    assert performance.page_sources(empty) == [f"no benchmark files in {tmp_path / 'none'}/"]
    measured = performance.Measurements("data/bench", [_fit("fits.json", 5.0, 0.0)], live_population=_population(None))
    assert performance.page_sources(measured) == [
        "data/bench/fits.json (commit 0123456789)",
        "timings made while running this page (measure is on)",
    ]


def test_measuring_times_the_sizes_profiles_performance_yaml_sets_for_the_profile(monkeypatch):
    asked = {}
    monkeypatch.setattr(performance, "fit_benchmark", lambda **kw: asked.setdefault("fit", kw))
    monkeypatch.setattr(performance, "population_benchmark", lambda **kw: asked.setdefault("population", kw))
    measured = performance.measure_now(performance.Measurements("data/bench", []), "quick", "cpu")
    assert asked == {
        "fit": {"n_starts": 150},
        "population": {
            "d_model": 32,
            "n_layers": 1,
            "n_heads": 2,
            "members": 16,
            "seq_len": 32,
            "batch_size": 8,
            "steps": 5,
            "repeats": 3,
            "naive_members": 2,
            "device": "cpu",
        },
    }
    assert measured.live_fit == {"n_starts": 150}
    asked.clear()
    performance.measure_now(performance.Measurements("data/bench", []), "full", "cpu")
    assert asked["fit"] == {"n_starts": None} and asked["population"]["members"] == 200
    with pytest.raises(ValueError, match=r"profiles/performance\.yaml: no 'paper' profile \(it defines quick, full\)"):
        performance.measure_now(performance.Measurements("data/bench", []), "paper", "cpu")


def test_fit_verdicts_state_the_speedup_against_the_target_and_the_objectives_side():
    measurements = performance.Measurements(
        "data/bench", [_fit("a.json", 25.0, -2e-9), _fit("b.json", 5.2, 1e-9)], live_fit=_fit("ignored", 19.96, 3e-9)
    )
    rows = performance.fit_rows(measurements)
    assert rows["measured"].tolist() == ["stored: a.json", "stored: b.json", "while running this page"]
    assert rows.loc[0, "data"] == "epoch.csv" and rows.loc[0, "machine"] == "x86_64, 2 cores"
    assert performance.fit_verdicts(rows).split("\n") == [
        "- stored: a.json: 25.0 times faster on 4,500 starts (meets the 20x target); the batched best objective is "
        "below scipy's (difference -2.0e-09).",
        "- stored: b.json: 5.2 times faster on 4,500 starts (misses the 20x target); the batched best objective is "
        "equal, within 1e-9, to scipy's (difference 1.0e-09).",
        "- while running this page: 20.0 times faster on 4,500 starts (misses the 20x target); the batched best "
        "objective is above scipy's (difference 3.0e-09).",
        "",
        "A negative difference means the batched fit found a lower objective. Timings on a shared machine vary from "
        "run to run; the ratio, taken within one run, varies much less.",
    ]
    assert ">25.0x<" in performance.fit_display(measurements).to_html()
    nothing = performance.Measurements("data/bench", [_population("p.json")])
    assert performance.fit_verdicts(performance.fit_rows(nothing)) == ""
    assert performance.fit_display(nothing).data.startswith("**No fit benchmark is stored in `data/bench/`.**")


def test_population_tables_and_chart_say_where_each_method_was_measured():
    measurements = performance.Measurements("data/bench", [_population("p.json")], live_population=_population(None))
    rows = performance.population_frame(measurements)
    assert rows["measured"].tolist() == ["stored: p.json"] * 3 + ["while running this page"] * 3
    html = performance.population_display(measurements).to_html()
    assert ">3.0x<" in html and ">1.00<" in html and "needs a CUDA device" in html
    spec = performance.throughput_chart(measurements).to_dict()
    assert spec["title"]["subtitle"] == [
        "Source: data/bench/p.json",
        "Source: measured while running this page on cpu (x86_64, 2 cores)",
    ]
    data = spec["datasets"][spec["data"]["name"]]
    assert [(r["run"], r["method"]) for r in data] == [
        ("stored: p.json · cpu (x86_64, 2 cores) · d16 L2 M200", "naive"),
        ("stored: p.json · cpu (x86_64, 2 cores) · d16 L2 M200", "population"),
        ("while running this page · cpu (x86_64, 2 cores) · d16 L2 M200", "naive"),
        ("while running this page · cpu (x86_64, 2 cores) · d16 L2 M200", "population"),
    ], "failed methods left out"
    nothing = performance.Measurements("data/bench", [])
    assert performance.throughput_chart(nothing) is None
    assert performance.population_display(nothing).data.startswith(
        "**No population benchmark is stored in `data/bench/`"
    )


def test_population_notes_name_the_gpus_or_their_absence_and_each_equivalence_check():
    cpu_only = performance.Measurements("data/bench", [_population("p.json")], live_population=_population(None))
    notes = performance.population_notes(cpu_only).split("\n\n")
    assert notes[0].startswith("**No GPU measurement is stored yet.**") and "`scripts/bench-gpu data/bench`" in notes[0]
    assert notes[1:] == [
        "stored: p.json: before timing, the three methods agreed on the loss of 4 members to 3.0e-07.",
        "while running this page: before timing, the three methods agreed on the loss of 4 members to 3.0e-07.",
    ]
    gpus = performance.Measurements(
        "data/bench",
        [
            _population("a.json", "cuda", "NVIDIA H200"),
            _population("b.json", "cuda", "NVIDIA A100"),
            _population("c.json"),
        ],
    )
    assert performance.population_notes(gpus).split("\n\n")[0] == (
        "Stored GPU measurements: 2 configuration(s) on NVIDIA A100, NVIDIA H200."
    )


def test_cpu_verdicts_judge_the_fastest_variant_against_both_targets_and_split_the_step():
    def cpu_result(d_model: int, alone: float, grouped: float, fraction: float) -> dict:
        result = _population("p.json")
        result["config"] = {**result["config"], "d_model": d_model}
        result["methods"]["population_groups_2workers"] = {"member_steps_per_s": grouped, "matmul_fraction": fraction}
        result["methods"]["population"] = {"member_steps_per_s": alone, "matmul_fraction": 0.1}
        result["methods"]["population_groups_2workers"]["workers"] = 2
        result["speedup"]["population_groups_2workers"] = {"over_naive_same_workers": grouped / 20.0}
        ms = {"matrix products": 6.0, "attention": 2.5, "element-wise and other": 4.0}
        result["op_time_shares"] = {
            "threads": 1,
            "naive": {"ms_per_member_step": ms},
            "population_group_10": {"ms_per_member_step": {**ms, "element-wise and other": 1.5}},
        }
        return result

    lines = performance.cpu_verdicts([cpu_result(16, 30.0, 25.0, 0.2), cpu_result(64, 5.0, 14.0, 0.44)]).split("\n")
    assert lines[2] == (
        "- **Width 16, 200 members**: the fastest trainer variant, `population`, runs 3.00x the naive loop "
        "(meets the 2x target) at 10% of the matrix-product rate on its threads. Per core and member-step, the "
        "naive step spends 6.00 ms in matrix products and 6.50 ms in the rest; the trainer's group of 10, "
        "6.00 ms in matrix products and 4.00 ms in the rest."
    )
    assert (
        "`population_groups_2workers`, runs 1.40x the naive loop (misses the 2x target) at 44% of the matrix-product "
        "rate on its threads (meets the 35% target set for width 64), and 0.70x the naive loop run the same way "
        "(`naive_2workers`, one thread per process). Per core" in lines[3]
    )
    small = cpu_result(64, 5.0, 14.0, 0.44)
    small["config"]["members"] = 16
    assert (
        "1.40x the naive loop (the targets are set for 200 members) at 44% of the matrix-product rate on its "
        "threads, and 0.70x" in performance.cpu_verdicts([small])
    )
    assert performance.cpu_verdicts([_population("gpu.json", "cuda", "NVIDIA H200")]) == ""


def test_repeat_timed_warms_up_then_times_each_repeat_between_syncs(fake_clock):
    calls = []
    runs = performance.repeat_timed(
        lambda n: calls.append(("steps", n)), warmup=2, steps=5, repeats=3, sync=lambda: calls.append(("sync",))
    )
    assert calls == [("steps", 2)] + [("sync",), ("steps", 5), ("sync",)] * 3
    assert runs == [TICK] * 3


def test_time_steps_rates_follow_from_the_timed_runs(fake_clock):
    model = ModelConfig(d_model=16, n_layers=2, n_heads=2, seq_len=12)
    cfg = TrainConfig(steps=10, batch_size=4, warmup_steps=1, progress=False)
    rates = performance.time_steps(model, members=3, cfg=cfg, seq_len=11, steps=2, warmup=1, repeats=3)
    assert rates["repeat_seconds"] == [TICK] * 3 and rates["seconds"] == TICK
    assert rates["member_steps_per_s"] == pytest.approx(3 * 2 / TICK)
    assert rates["tokens_per_s"] == pytest.approx(3 * 4 * 11 * 2 / TICK)
    assert math.isnan(rates["peak_memory_bytes"]), "no GPU memory to report on a CPU"
