"""The Random seeds chapter's statistics (Zhao et al. 2025): success, modes, bimodality across scales, on
hand-built populations of seeds."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from scalingbook.analysis import stats
from scalingbook.chapters import seeds
from scalingbook.lab.model import param_count
from scalingbook.lab.store import Result
from scalingbook.lab.sweeps import Shown, Sweep
from scalingbook.lab.tasks import EOS, SYMBOL0


def population(scale_to_success: dict[int, float], n_seeds: int = 200, seed: int = 0) -> pd.DataFrame:
    """Seed-level EM per scale: failures near 0, a share of successes near 0.9 (a bimodal mixture)."""
    rng = np.random.default_rng(seed)
    rows = []
    for scale, share in scale_to_success.items():
        n_success = round(share * n_seeds)
        em = np.r_[rng.beta(1, 60, n_seeds - n_success), rng.beta(40, 5, n_success)]
        rows.append(pd.DataFrame({"scale": scale, "seed": np.arange(n_seeds), "em": em}))
    return pd.concat(rows, ignore_index=True)


SHARES = {1: 0.0, 2: 0.0, 3: 0.3, 4: 0.45, 5: 0.7, 6: 0.97}


def seed_curves() -> pd.DataFrame:
    """Four seeds over five scales (rows listed in shuffled scale order): linear, step, noisy jump, flat."""
    curves = {
        0: [0.0, 0.2, 0.4, 0.6, 0.8],
        1: [0.0, 0.0, 0.0, 0.9, 0.9],
        2: [0.0, 0.01, 0.0, 0.5, 0.6],
        3: [0.0] * 5,
    }
    scales = [1000, 2000, 3000, 4000, 5000]
    shuffled = [3, 0, 1, 2, 4]
    rows = [{"seed": s, "scale": scales[j], "em": curve[j]} for s, curve in curves.items() for j in shuffled]
    return pd.DataFrame(rows)


def test_bootstrap_skips_resamples_where_the_statistic_is_undefined() -> None:
    em = np.r_[np.zeros(19), 0.9]
    assert stats.bootstrap_ci(em, seeds.mean_of_successful) == pytest.approx((0.9, 0.9, 0.9))
    assert np.isnan(stats.bootstrap_ci(np.zeros(5), seeds.mean_of_successful).low)


def test_success_is_strictly_above_the_threshold() -> None:
    em = np.array([[0.0, 0.2, 0.21, 0.8], [0.0, 0.0, 0.1, 0.2]])
    np.testing.assert_allclose(seeds.success_probability(em), [0.5, 0.0])
    np.testing.assert_allclose(seeds.mean_of_successful(em), [0.505, np.nan])
    np.testing.assert_allclose(seeds.success_probability(em, axis=0, threshold=0.05), [0, 0.5, 1, 1])


def test_histogram_mode_reports_atoms_at_zero_and_one() -> None:
    assert seeds.histogram_mode(np.r_[np.zeros(6), np.ones(5)]) == 0.0
    assert seeds.histogram_mode(np.r_[np.zeros(5), np.full(6, 0.99)]) == 1.0
    assert seeds.histogram_mode(np.array([0.31, 0.29, 0.7])) == pytest.approx(0.3)
    assert seeds.histogram_mode(np.array([0.0, 1.0])) == 0.0  # tie: the smaller point
    np.testing.assert_allclose(seeds.histogram_mode(np.array([[0, 0, 1], [1, 1, 0.0]]), axis=1), [0, 1])
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        seeds.histogram_mode(np.array([1.5]))


def test_seed_summary_is_tidy_with_intervals_around_estimates() -> None:
    table = seeds.seed_summary(population({1: 0.0, 2: 0.7}), n_resamples=200)
    assert list(table.columns) == ["scale", "statistic", "estimate", "low", "high", "n_seeds"]
    assert len(table) == 8 and set(table["statistic"]) == {"mean", "mode", "p_success", "mean_successful"}
    row = table.set_index(["scale", "statistic"])
    assert row.loc[(2, "p_success"), "estimate"] == pytest.approx(0.7)
    assert row.loc[(1, "mode"), "estimate"] == 0.0 and row.loc[(2, "mode"), "estimate"] > 0.8
    assert np.isnan(row.loc[(1, "mean_successful"), "estimate"])
    defined = table.dropna()
    assert (defined["low"] <= defined["estimate"] + 1e-12).all()
    assert (defined["estimate"] <= defined["high"] + 1e-12).all()


def test_p_success_gets_an_exact_interval_that_keeps_its_width_at_zero_successes() -> None:
    table = seeds.seed_summary(population({1: 0.0, 2: 0.7}), n_resamples=200).set_index(["scale", "statistic"])
    none = table.loc[(1, "p_success")]
    assert none["estimate"] == 0 and none["low"] == 0
    assert none["high"] == pytest.approx(1 - 0.025 ** (1 / 200)), "Clopper-Pearson: (1 - p)^n = 0.025 at k = 0"
    low, high = stats.clopper_pearson(140, 200, 0.95)
    assert (table.loc[(2, "p_success"), "low"], table.loc[(2, "p_success"), "high"]) == (low, high)


def test_kde_peaks_count_modes_including_a_mode_at_the_edge() -> None:
    rng = np.random.default_rng(3)
    assert seeds.count_kde_peaks(rng.normal(size=200)) == 1
    assert seeds.count_kde_peaks(np.r_[rng.normal(0, 1, 100), rng.normal(6, 1, 100)]) == 2
    assert seeds.count_kde_peaks(np.r_[np.zeros(150), rng.beta(40, 5, 50)]) == 2
    assert seeds.count_kde_peaks(np.zeros(30)) == 1


def test_kde_by_scale_shares_one_grid() -> None:
    table = seeds.kde_by_scale(population({1: 0.1, 2: 0.5}), value="em", n_grid=64)
    assert list(table.columns) == ["scale", "x", "density"] and len(table) == 128
    grids = [part["x"].to_numpy() for _, part in table.groupby("scale")]
    np.testing.assert_array_equal(grids[0], grids[1])


def test_wasserstein_to_reference_is_zero_at_the_largest_scale() -> None:
    table = seeds.wasserstein_to_reference(population({1: 0.0, 2: 0.5, 3: 1.0}))
    assert list(table["scale"]) == [1, 2, 3] and table["distance"].iloc[-1] == 0
    assert table["distance"].is_monotonic_decreasing


def test_bimodality_by_scale_flags_the_mixed_scales() -> None:
    table = seeds.bimodality_by_scale(population(SHARES))
    assert list(table.columns) == ["scale", "n_seeds", "dip", "p_value", "n_peaks", "multimodal"]
    assert list(table["multimodal"]) == [False, False, True, True, True, False]
    with pytest.raises(ValueError, match="rule"):
        seeds.bimodality_by_scale(population(SHARES), rule="most")  # type: ignore[arg-type]


def test_fig5_markers_sit_on_the_last_scale_before_each_event() -> None:
    frame = population(SHARES)
    assert seeds.bimodality_emergence(frame) == 2  # several peaks first at scale 3
    assert seeds.mode_breakthrough(frame) == 4  # P(success) first above 0.5 at scale 5


def test_markers_are_none_without_a_preceding_scale_or_event() -> None:
    assert seeds.mode_breakthrough(population({1: 0.9, 2: 1.0})) is None
    assert seeds.mode_breakthrough(population({1: 0.0, 2: 0.5})) is None  # 0.5 is not more likely
    assert seeds.last_scale_before(np.array([10, 20, 30]), np.array([False, False, True])) == 20
    with pytest.raises(ValueError, match="increasing"):
        seeds.last_scale_before(np.array([3, 2, 1]), np.array([False, True, True]))


def test_seed_shape_scores_and_top_seeds() -> None:
    scores = seeds.seed_shape_scores(seed_curves())
    by_seed = scores.set_index("seed")
    assert by_seed.loc[0, "L"] == pytest.approx(4) and by_seed.loc[0, "B"] == pytest.approx(4)
    assert by_seed.loc[1, "B"] == np.inf and by_seed.loc[1, "L"] == pytest.approx(2)
    assert (by_seed.loc[1, "jump_from"], by_seed.loc[1, "jump_to"]) == (3000, 4000)
    assert by_seed.loc[3, "B"] == 0 and by_seed.loc[3, "L"] == 0
    assert seeds.top_seeds(scores, "B")["seed"].item() == 1
    assert seeds.top_seeds(scores, "L")["seed"].item() == 0
    assert list(seeds.top_seeds(scores, "B", k=3)["seed"]) == [1, 2, 0]
    assert seeds.seed_shape_scores(seed_curves(), clip=10)["B"].max() == 10


def test_seed_shape_scores_need_complete_curves() -> None:
    with pytest.raises(ValueError, match="seeds"):
        seeds.seed_shape_scores(seed_curves().iloc[1:])


# ---------------------------------------------------------------------------------------------
# The chapter's tables and sentences, on hand-built populations

SWEEP_CONFIG = {
    "name": "seeds/count-width",
    "task": {"name": "count", "train_length": 4, "test_length": 6, "n_values": 10},
    "model": {"n_layers": 1, "n_heads": 2, "positional": "none"},
    "grid": [{"d_model": 8}, {"d_model": 16}, {"d_model": 32}],
    "members": {"seeds": 2, "lr": 0.01},
    "train": {"steps": 10, "batch_size": 4},
    "eval": {"n_examples": 2},
}


def stored_run(tmp_path: Path, name: str, key: str, exact: list[list[int]]) -> Result:
    """A stored records table: per seed, the exact-match flags of its test examples (log-prob -1 per token)."""
    records = pd.DataFrame(
        [
            {
                "seed": seed,
                "example": example,
                "exact_match": flag,
                "sum_logprob": -2.0 * (1 + flag),
                "target_len": 2,
                "target": np.array([SYMBOL0 + example // 2, EOS]),
            }
            for seed, flags in enumerate(exact)
            for example, flag in enumerate(flags)
        ]
    )
    manifest = {
        "name": f"{name}/records",
        "profile": "full",
        "param_hash": key,
        "device": "cpu",
        "finished": "2026-01-01",
        "git_commit": None,
        "diverged_seeds": [],
    }
    return Result(records, manifest, tmp_path / key)


def shown_populations(tmp_path: Path) -> dict[tuple[str, str], Shown]:
    """count · width stores its two narrower runs (the widest is pending); count · depth stores one run,
    tested over two lengths."""
    width = Sweep.from_dict(SWEEP_CONFIG, "quick")
    depth = Sweep.from_dict(
        {
            **SWEEP_CONFIG,
            "name": "seeds/count-depth",
            "task": {**SWEEP_CONFIG["task"], "test_max_length": 7},
            "model": {"d_model": 8, "n_heads": 2},
            "grid": [{"n_layers": 2}],
        },
        "quick",
    )
    return {
        ("count", "width"): Shown(
            replace(width, runs=width.runs[:2]),
            "full",
            [
                stored_run(tmp_path, "seeds/count-width", "w8", [[0, 0], [1, 0]]),
                stored_run(tmp_path, "seeds/count-width", "w16", [[1, 1], [1, 0]]),
            ],
            width.runs[2:],
        ),
        ("count", "depth"): Shown(
            depth, "quick", [stored_run(tmp_path, "seeds/count-depth", "d2", [[0, 1], [1, 1]])], ()
        ),
    }


def test_per_seed_table_gives_every_run_its_scale_size_and_panel(tmp_path: Path) -> None:
    shown = shown_populations(tmp_path)
    table = seeds.per_seed_table(shown)
    assert list(table.columns) == ["seed", "em", "loss", "n_diverged", "task", "axis", "scale", "n_params", "panel"]
    assert list(table["panel"]) == ["count · width (d_model)"] * 4 + ["count · depth (n_layers)"] * 2
    assert list(table["scale"]) == [8, 8, 16, 16, 2, 2]
    assert list(table["em"]) == [0.0, 0.5, 1.0, 0.5, 0.5, 1.0]
    assert list(table["loss"]) == [1.0, 1.5, 2.0, 1.5, 1.5, 2.0]
    width_spec = shown[("count", "width")].sweep.runs[1]
    assert table["n_params"].iloc[2] == param_count(width_spec.model_config(width_spec.build_task()))
    assert table["n_params"].iloc[0] < table["n_params"].iloc[2]
    panels = seeds.panels_of(table)
    assert list(panels) == [("count", "width"), ("count", "depth")]
    assert [len(frame) for frame in panels.values()] == [4, 2]


def test_the_populations_tested_on_repeated_problems_are_named(tmp_path: Path) -> None:
    shown = shown_populations(tmp_path)
    assert seeds.repeated_tests_sentence(shown) == (
        "Tested on repeated problems: count · width (d_model), 2 draws of length 6 holding 1 problem; "
        "count · depth (n_layers), 2 draws of length 6-7 holding 1 problem. Exact match there counts a repeated "
        "problem as often as it was drawn; the analyses of single answers below count each problem once."
    )
    for population in shown.values():
        for result in population.results:
            result.table["target"] = [np.array([SYMBOL0 + e, EOS]) for e in result.table["example"]]
    assert seeds.repeated_tests_sentence(shown) == "Every population shown was tested on distinct problems."


def test_at_full_only_stored_populations_are_read_and_none_is_trained(tmp_path: Path, monkeypatch) -> None:
    """Issue 13: the book renders the chapter from committed results without training; a sweep with
    nothing stored at full is left out and named, not trained at the quick profile beside 200 seeds."""
    stored = shown_populations(tmp_path)
    read: list[str] = []

    def read_stored(path: Path, profile: str) -> Shown | None:
        read.append(f"{path.name}@{profile}")
        return stored.get(tuple(path.stem.split("-")[1:]))  # seeds-count-width -> (count, width)

    def never_train(*_: object, **__: object) -> Shown:
        raise AssertionError("a population was trained at the full profile")

    monkeypatch.setattr(seeds, "read_stored", read_stored)
    monkeypatch.setattr(seeds, "read_or_train", never_train)
    shown = seeds.read_populations("count", "full", "cpu") | seeds.read_populations("addition", "full", "cpu")
    assert shown == stored
    assert read == [f"seeds-{task}-{axis}.yaml@full" for task in seeds.TASKS for axis in seeds.AXES]
    missing = seeds.populations_left_out(shown, "full")
    assert missing == [("addition", "width"), ("addition", "depth")]
    assert seeds.left_out_sentence(missing, "full") == (
        "Not shown: addition · width (d_model); addition · depth (n_layers). No run of them is stored at the "
        "full profile, and a book build does not train populations."
    )
    assert seeds.left_out_sentence(missing[:1], "full").startswith(
        "Not shown: addition · width (d_model). No run of it "
    )
    assert seeds.left_out_sentence([], "quick") == "Every population of this chapter is shown at the quick profile."
    with pytest.raises(ValueError, match="no Random seeds population is stored at the 'full' profile.*--profile full"):
        seeds.populations_left_out({}, "full")


def test_the_committed_full_populations_are_read_without_training(monkeypatch) -> None:
    """What the book shows at full on a fresh clone: both count axes at 200 seeds and 6 scales, from data/."""

    def never_train(*_: object, **__: object) -> Shown:
        raise AssertionError("a population was trained at the full profile")

    monkeypatch.setattr(seeds, "read_or_train", never_train)
    shown = seeds.read_populations("count", "full", "cpu") | seeds.read_populations("addition", "full", "cpu")
    assert list(shown) == [("count", "width"), ("count", "depth")]
    per_seed = seeds.per_seed_table(shown)
    assert all(not population.pending for population in shown.values())
    assert per_seed.groupby(["axis", "scale"])["seed"].nunique().eq(200).all()
    assert per_seed.groupby("axis")["scale"].nunique().to_dict() == {"depth": 6, "width": 6}


def test_population_table_and_sources_say_where_each_population_comes_from(tmp_path: Path) -> None:
    shown = shown_populations(tmp_path)
    table = seeds.population_table(seeds.per_seed_table(shown), shown)
    rows = table.drop(columns=["params_min", "params_max"]).to_dict("records")
    assert rows == [
        {
            "task": "count",
            "axis": "width",
            "scales": "8, 16",
            "seeds_per_scale": 2,
            "fixed": "n_layers = 1, n_heads = 2, positional = none",
            "train -> test length": "4 -> 6",
            "test problems (distinct answers)": "2 (1 distinct)",
            "profile": "full",
            "scales not trained yet": "32",
            "training steps": 10,
        },
        {
            "task": "count",
            "axis": "depth",
            "scales": "2",
            "seeds_per_scale": 2,
            "fixed": "d_model = 8, n_heads = 2",
            "train -> test length": "4 -> 6-7",
            "test problems (distinct answers)": "2 (1 distinct)",
            "profile": "quick",
            "scales not trained yet": "none",
            "training steps": 10,
        },
    ]
    assert seeds.source_lines(shown) == [
        "seeds/count-width/records [full profile, w16] on cpu, commit unknown, finished 2026-01-01, with 1 smaller runs; "
        "1 not stored yet",
        "seeds/count-depth/records [full profile, d2] on cpu, commit unknown, finished 2026-01-01, with 0 smaller runs",
    ]
    assert [r.manifest["param_hash"] for r in seeds.stored_results(shown)] == ["w8", "w16", "d2"]
    assert seeds.profiles_of(shown) == {("count", "width"): "full", ("count", "depth"): "quick"}


def test_pilots_are_read_per_task_and_summed_into_one_sentence(tmp_path: Path) -> None:
    columns = "label,model,seeds,p_success,mean_em,hist,dip_p,mean_loss,cpu_seconds,key\n"
    (tmp_path / "seeds-count.csv").write_text(columns + 'c-1,"{d_model: 16}",40,0.25,0.165,10 20,0.9,0.8,107.2,k1\n')
    (tmp_path / "seeds-addition.csv").write_text(
        columns + 'a-1,"{d_model: 16}",20,0.05,0.012,19 1,1.0,1.6,183.9,k2\n'
        'a-2,"{d_model: 32}",20,0.1,0.0041,18 2,1.0,1.4,258.5,k3\n'
    )
    (tmp_path / "seeds-count-long.csv").write_text(columns + 'c-2,"{d_model: 16}",40,0.5,0.3,0 40,0.01,0.2,300.0,k4\n')
    pilots = seeds.read_pilots(tmp_path)
    assert list(pilots["task"]) == ["count", "count", "addition", "addition"]
    listed = seeds.pilot_table(pilots).data
    assert list(listed.columns) == [
        "task",
        "pilot",
        "model",
        "seeds",
        "P(success)",
        "mean EM",
        "EM histogram (10 bins, 0-1)",
        "dip p",
        "CPU seconds",
    ]
    assert list(listed["pilot"]) == ["c-1", "c-2", "a-1", "a-2"], "each task's first round, then its later ones"
    assert seeds.pilot_sentence(pilots, "addition") == (
        "In the addition pilots tested on longer problems than they trained on, 3 of 40 pilot members (seeds x "
        "settings) succeeded (EM > 0.2); the highest mean EM of any of these pilots was 0.012."
    )
    assert seeds.pilot_sentence(pilots, "addition", ("a-2",)).endswith(
        "1 of 20 pilot members (seeds x settings) succeeded (EM > 0.2); the highest mean EM of any of these "
        "pilots was 0.012."
    ), "the in-distribution pilot a-2 is left out"
    assert seeds.pilot_sentence(pilots, "count").startswith(
        "In the count pilots tested on longer problems than they trained on, 30 of 80 pilot members"
    )
    assert seeds.learning_finding(pilots, ["a-2"]) == (
        "In distribution (tested on held-out problems of the longest training length): `a-2` at width 32: P(success) "
        "0.100, mean EM 0.004, mean test loss 1.40 nats per token. 2 of 20 of these pilot members succeeded."
    )
    with pytest.raises(ValueError, match="none of the pilots"):
        seeds.learning_finding(pilots, ["a-9"])
    assert seeds.population_cost_sentence(pilots, "a-2", seeds_per_scale=200, scales=12) == (
        "`a-2` took 13 CPU-seconds a seed, so 200 seeds at each of 12 scales at that cost would take about 9 CPU-hours."
    )
    with pytest.raises(ValueError, match="none of the pilots"):
        seeds.population_cost_sentence(pilots, "a-9", seeds_per_scale=200, scales=12)


def test_longer_training_is_compared_width_by_width_with_the_dip_test_verdict() -> None:
    pilots = pd.DataFrame(
        {
            "label": ["s", "s", "l", "l", "other"],
            "model": ["{d_model: 16}", "{d_model: 32}"] * 2 + ["{d_model: 8}"],
            "mean_loss": [0.84, 0.24, 0.3, 0.1, 1.0],
            "p_success": [0.25, 1.0, 0.5, 1.0, 0.0],
            "dip_p": [0.9, 0.7, 0.01, 0.6, 1.0],
        }
    )
    assert seeds.longer_training_finding(pilots, "s", "l") == (
        "Trained longer (`l` against `s`): at width 16, mean test loss 0.84 -> 0.30, P(success) 0.250 -> 0.500, "
        "dip p 0.90 -> 0.01; at width 32, mean test loss 0.24 -> 0.10, P(success) 1.000 -> 1.000, dip p 0.70 -> 0.60. "
        "So the dip test rejects a single mode at width 16 (p < 0.05)."
    )
    assert seeds.longer_training_finding(pilots.assign(dip_p=0.5), "s", "l").endswith(
        "rejects a single mode at no width (every p >= 0.05): longer training did not split the seeds."
    )
    with pytest.raises(ValueError, match="no width was piloted as both 's' and 'other'"):
        seeds.longer_training_finding(pilots[pilots["label"] != "s"].assign(label="other"), "s", "other")


def test_a_longer_test_is_judged_on_split_seeds_not_on_a_pile_at_zero() -> None:
    pilots = pd.DataFrame(
        {
            "label": ["t14", "t14", "t16", "t16"],
            "model": ["{d_model: 16}", "{d_model: 32}"] * 2,
            "p_success": [0.0, 0.15, 0.0, 0.4],
            "mean_em": [0.041, 0.115, 0.007, 0.3],
            "dip_p": [0.01, 0.97, 0.4, 0.2],
        }
    )
    assert seeds.split_finding(pilots, ["t14", "t16"], "a longer test, same training") == (
        "A longer test, same training: `t14` (width 16: P(success) 0.000, mean EM 0.041, dip p 0.01; width 32: "
        "P(success) 0.150, mean EM 0.115, dip p 0.97); `t16` (width 16: P(success) 0.000, mean EM 0.007, dip p 0.40; "
        "width 32: P(success) 0.400, mean EM 0.300, dip p 0.20). So in no pilot and width does the dip test "
        "reject a single mode with seeds on both sides of the threshold (p < 0.05): a longer test, same training did "
        "not split the seeds."
    ), "a dip p of 0.01 at P(success) 0 is a pile at zero, not two modes"
    split = pilots.assign(dip_p=[0.5, 0.5, 0.5, 0.02])
    assert seeds.split_finding(split, ["t14", "t16"], "a longer test").endswith(
        "So the dip test rejects a single mode, with seeds on both sides of the threshold, for `t16` at width 32."
    )
    nobody = pilots.assign(p_success=0.0)
    assert seeds.split_finding(nobody, ["t14", "t16"], "a longer test").endswith(
        "So no seed succeeded: a longer test left no successful seeds to split from the failed ones."
    )
    with pytest.raises(ValueError, match="none of the pilots"):
        seeds.split_finding(pilots, ["t20"], "a longer test")


def test_em_histograms_bin_by_twentieths_and_keep_the_panel_order() -> None:
    per_seed = pd.DataFrame(
        {"panel": ["b", "b", "b", "b", "a"], "scale": [1, 1, 1, 2, 1], "em": [0.0, 0.049, 0.05, 1.0, 0.5]}
    )
    table = seeds.em_histograms(per_seed)
    assert list(table.columns) == ["panel", "scale", "bin", "seeds", "em_low", "em_high"]
    assert table[["panel", "scale", "bin", "seeds"]].values.tolist() == [
        ["b", 1, 0, 2],
        ["b", 1, 1, 1],
        ["b", 2, 19, 1],
        ["a", 1, 10, 1],
    ]
    np.testing.assert_allclose(table["em_low"], [0.0, 0.05, 0.95, 0.5])
    np.testing.assert_allclose(table["em_high"], [0.05, 0.1, 1.0, 0.55])


def summary_rows(
    panel: str,
    statistic: str,
    scales: list[int],
    estimates: list[float],
    lows: list[float] | None = None,
    highs: list[float] | None = None,
) -> pd.DataFrame:
    """Rows of a hand-built seed summary (the estimate is its own interval unless one is given)."""
    return pd.DataFrame(
        {
            "scale": scales,
            "statistic": statistic,
            "estimate": estimates,
            "low": lows or estimates,
            "high": highs or estimates,
            "n_seeds": 10,
            "panel": panel,
        }
    )


def test_grid_sentence_lists_each_panel_and_the_largest_steps() -> None:
    summary = pd.concat(
        [
            summary_rows("wide", "mode", [16, 8], [0.9, 0.0]),  # listed out of order: the sentence sorts by scale
            summary_rows("wide", "mean", [16, 8], [0.55, 0.3]),
            summary_rows("wide", "p_success", [16, 8], [0.6, 0.3]),
            summary_rows("one", "mode", [4], [0.0]),
            summary_rows("one", "mean", [4], [np.nan]),
            summary_rows("one", "p_success", [4], [0.0]),
        ]
    )
    assert seeds.grid_sentence(summary) == (
        "**What the grid shows.**\n\n"
        "- **wide** (scales 8, 16): mode 0.00, 0.90; mean 0.30, 0.55; P(success) 0.30, 0.60. The mode's largest "
        "step between neighbouring scales is 0.90, the mean's 0.25.\n"
        "- **one** (scales 4): mode 0.00; mean -; P(success) 0.00."
    )


def test_inverse_scaling_tests_each_change_on_seeds_paired_across_the_two_scales() -> None:
    rng = np.random.default_rng(1)

    def scale(panel: str, value: int, n_success: int, good: float) -> pd.DataFrame:
        em = np.r_[np.clip(good + rng.normal(0, 0.02, n_success), 0.21, 1), np.zeros(200 - n_success)]
        return pd.DataFrame({"panel": panel, "scale": value, "seed": rng.permutation(200), "em": em})

    a = pd.concat([scale("A", 1, 160, 0.5), scale("A", 2, 100, 0.9), scale("A", 3, 96, 0.91), scale("A", 4, 150, 0.9)])
    b = pd.concat([scale("B", 1, 2, 0.4), scale("B", 2, 0, 0.0)])  # no successful run at 2: no mean to rise
    pairs = seeds.inverse_scaling({("t", "a"): a, ("t", "b"): b}, n_resamples=400)
    assert pairs[["panel", "scale_from", "scale_to", "clear"]].values.tolist() == [
        ["A", 1, 2, True],
        ["A", 2, 3, False],
    ]
    first, second = pairs.iloc[0], pairs.iloc[1]
    assert (first["p_from"], first["p_to"]) == (0.8, 0.5)
    assert first["fall_low"] < -0.3 + 0.1 and first["fall_high"] < 0 < first["rise_low"]
    assert second["fall_low"] < 0 < second["fall_high"], "a fall of 4 seeds in 200 is within the seeds' noise"
    text = seeds.inverse_scaling_text(pairs)
    assert text.startswith("**In this grid** (paired 95% bootstrap intervals of each change):")
    assert "- **A**, scale 1 -> 2: P(success) 0.80 -> 0.50 (change [" in text
    assert text.count("clear, both intervals exclude zero") == 1
    assert text.count("not clear, an interval includes zero") == 1
    none = seeds.inverse_scaling({("t", "b"): b})
    assert none.empty and seeds.inverse_scaling_text(none).startswith("**In this grid** no pair of neighbouring")


def test_every_fall_of_p_success_is_listed_and_judged_on_the_paired_change() -> None:
    seed = np.arange(200)

    def scale(panel: str, value: int, n_success: int, order: np.ndarray = seed) -> pd.DataFrame:
        """``n_success`` seeds succeed, the first ones in ``order``."""
        return pd.DataFrame({"panel": panel, "scale": value, "seed": order, "em": np.where(seed < n_success, 0.4, 0.1)})

    reshuffled = np.random.default_rng(3).permutation(200)
    falling = pd.concat(
        [scale("A", 1, 170), scale("A", 2, 110), scale("A", 3, 106, reshuffled), scale("A", 4, 160, reshuffled)]
    )
    rising = pd.concat([scale("B", 1, 10), scale("B", 2, 90)])
    falls = seeds.success_falls({("t", "a"): falling, ("t", "b"): rising}, n_resamples=1000)
    assert falls[["panel", "scale_from", "scale_to", "clear"]].values.tolist() == [
        ["A", 1, 2, True],
        ["A", 2, 3, False],
    ], "every fall is listed, with or without a rise of the successful runs (here they stay at 0.4)"
    first, second = falls.iloc[0], falls.iloc[1]
    assert (first["p_from"], first["p_to"]) == (0.85, 0.55)
    assert first["high"] < 0 and second["low"] < 0 <= second["high"], (
        "scale 3's successes are a fresh draw of seeds, so its fall of 4 in 200 is within what resampling gives"
    )
    nested = seeds.success_falls({("t", "a"): pd.concat([scale("A", 2, 110), scale("A", 3, 106)])}, n_resamples=1000)
    assert nested["clear"].tolist() == [True], "the same 4 seeds stopping, and no seed starting, is a clear fall"
    text = seeds.success_falls_text(falls)
    assert text.startswith("**Where P(success) falls** as the scale grows (paired 95% bootstrap interval")
    assert "- **A**, scale 1 -> 2: P(success) 0.85 -> 0.55 (change [" in text
    assert text.count("a clear fall, the interval lies below zero") == 1
    assert text.count("not clear, the interval includes zero") == 1
    none = seeds.success_falls({("t", "b"): rising})
    assert none.empty and seeds.success_falls_text(none) == (
        "**P(success) never falls** from one scale to the next larger one in this grid."
    )


def test_inverse_scaling_pairs_each_seed_across_the_two_scales_and_skips_a_missing_one() -> None:
    seed = np.arange(200)
    before = pd.DataFrame({"panel": "A", "scale": 1, "seed": seed, "em": np.where(seed < 100, 0.5, 0.0)})
    after = pd.DataFrame({"panel": "A", "scale": 2, "seed": seed, "em": np.where(seed < 90, 0.9, 0.0)})
    after = after[after["seed"] != 199]  # a seed left out at one scale takes part only where it was kept
    pairs = seeds.inverse_scaling({("t", "a"): pd.concat([before, after])}, n_resamples=1000)
    row = pairs.iloc[0]
    assert (row["p_from"], row["p_to"]) == (0.5, pytest.approx(90 / 199))
    assert row["fall_high"] < 0 and row["clear"], (
        "the 10 seeds that stopped succeeding are a clear fall when each seed is compared with itself; "
        "two independent intervals of 0.50 and 0.45 from 200 seeds would overlap"
    )


def limits_inputs(
    seed_counts: dict[str, int], best_p: dict[str, float], multimodal: list[bool], p_values: list[float]
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """A per-seed table (two scales per panel), a summary whose P(success) intervals are 0.1 wide, and a
    bimodality table, for :func:`seeds.limits_text`."""
    per_seed = pd.concat(
        [
            pd.DataFrame({"panel": panel, "scale": scale, "seed": np.arange(n)})
            for panel, n in seed_counts.items()
            for scale in (1, 2)
        ]
    )
    summary = pd.concat(
        [summary_rows(panel, "p_success", [1, 2], [0.0, p], [0.0, p - 0.1], [0.1, p]) for panel, p in best_p.items()]
    )
    bimodality = pd.DataFrame({"multimodal": multimodal, "p_value": p_values})
    return per_seed, summary, bimodality


def test_limits_text_when_a_panel_never_succeeds_and_some_cells_are_multimodal() -> None:
    per_seed, summary, bimodality = limits_inputs(
        {"big": 200, "small": 8}, {"big": 0.9, "small": 0.0}, [True, False, True], [0.001, 0.5, 0.02]
    )
    profiles = {("count", "width"): "full", ("addition", "width"): "quick"}
    assert seeds.limits_text(per_seed, summary, bimodality, profiles, 0.95, "both") == (
        "Profiles shown: count · width: **full**; addition · width: **quick**. Seeds per scale: big: 200; small: 8. "
        "P(success) is measured in steps of 1/n, and its 95% intervals are on average 0.10 wide. "
        "In 1 of 2 panels (small) no seed succeeded at any scale, so the transition from failing to succeeding "
        "lies outside that grid. 2 of 3 (panel, metric, scale) cells pass the 'both' bimodality rule, the smallest "
        "dip-test p-value being 0.001. In small, with under 50 seeds, a second mode holds only a handful of runs, "
        "and whether the dip test rejects depends on those few draws (exercise 3 measures how often), so a failure "
        "to reject there says little about full-size populations. With 200 seeds per scale the dip test can tell "
        "a mixture of two modes from one spread-out mode when both modes hold a fair share of the seeds."
    )


def test_limits_text_when_every_panel_succeeds_and_no_cell_is_multimodal() -> None:
    profiles = {("count", "depth"): "quick"}
    text = seeds.limits_text(
        *limits_inputs({"big": 60}, {"big": 0.5}, [False, False], [0.2, 0.0456]), profiles, 0.9, "dip"
    )
    assert text.endswith(
        "Every panel has successful seeds at some scale. No (panel, metric, scale) cell passes the 'dip' bimodality "
        "rule (smallest dip-test p-value 0.0456). With 60 seeds per scale the dip test can tell a mixture of two "
        "modes from one spread-out mode when both modes hold a fair share of the seeds."
    )
    text = seeds.limits_text(*limits_inputs({"small": 8}, {"small": 0.5}, [False], [0.2]), profiles, 0.9, "dip")
    assert text.endswith(
        "(smallest dip-test p-value 0.2). In small, with under 50 seeds, a second mode holds only "
        "a handful of runs, and whether the dip test rejects depends on those few draws (exercise 3 "
        "measures how often), so a failure to reject there says little about full-size populations."
    )


def test_fig5_markers_per_panel_with_a_missing_event_left_empty() -> None:
    mixed = population(SHARES).assign(panel="mixed")
    failing = population({1: 0.0, 2: 0.0}).assign(panel="failing")
    markers = seeds.fig5_markers({("t", "mixed"): mixed, ("t", "failing"): failing}, 0.2, 0.05, 0.05, "both")
    assert markers["marker"].tolist() == list(seeds.MARKERS) * 2
    assert markers["panel"].tolist() == ["mixed", "mixed", "failing", "failing"]
    np.testing.assert_array_equal(markers["scale"], [2, 4, np.nan, np.nan])
    distances = seeds.panel_distances({("t", "mixed"): mixed, ("t", "failing"): failing})
    assert distances["panel"].tolist() == ["mixed"] * 6 + ["failing"] * 2
    chart = seeds.wasserstein_chart(distances, markers, ["a source"]).to_dict()
    assert [row["title"] for row in chart["vconcat"]] == ["mixed", "failing"]


def test_panel_bimodality_tests_both_metrics_on_the_seeds_with_a_finite_loss() -> None:
    frame = population({1: 0.0, 2: 0.5}).assign(panel="p")
    frame["loss"] = 1.0 - frame["em"]
    frame.loc[0, "loss"] = np.inf  # scale 1, seed 0: left out of both metrics
    table = seeds.panel_bimodality(frame, 0.05, 0.05, "both")
    assert table[["metric", "scale", "n_seeds", "multimodal"]].values.tolist() == [
        ["em", 1, 199, False],
        ["em", 2, 200, True],
        ["loss", 1, 199, False],
        ["loss", 2, 200, True],
    ]
    assert list(seeds.bimodality_table(table).data.columns) == [
        "panel",
        "metric",
        "scale",
        "n_seeds",
        "dip",
        "p_value",
        "n_peaks",
        "multimodal",
    ]


def test_jump_histograms_pick_the_sizes_on_either_side_of_the_step() -> None:
    panel = pd.DataFrame(
        {"panel": "p", "scale": [8, 8, 16, 32], "n_params": [1000, 1000, 3000, 9000], "seed": [0, 1, 0, 0]}
    )
    histograms = pd.DataFrame(
        {
            "panel": ["p", "p", "p", "p", "q"],
            "scale": [8, 16, 16, 32, 16],
            "bin": [0, 0, 5, 19, 0],
            "seeds": [2, 1, 1, 1, 7],
        }
    )
    around = seeds.jump_histograms(histograms, panel, 1000, 3000)
    assert around[["scale", "bin", "seeds", "when"]].values.tolist() == [
        [8, 0, 2, "just before (1,000 parameters)"],
        [16, 0, 1, "just after (3,000 parameters)"],
        [16, 5, 1, "just after (3,000 parameters)"],
    ]


def test_single_seeds_sentence_names_the_top_seeds_and_counts_steps_and_flat_curves() -> None:
    shapes = seeds.seed_shape_scores(seed_curves())
    assert seeds.single_seeds_sentence(shapes, 5) == (
        "Seed 1 has the highest breakthroughness, B = infinite; its largest step is between 3,000 and 4,000 "
        "parameters. Seed 0 has the highest linearity, L = 4.00. Of the 4 seeds, 1 have an infinite B (more than "
        "half of their steps exactly flat) and 1 do not change at all across the 5 widths."
    )
    undefined = pd.DataFrame(
        {"seed": [7], "B": [np.nan], "L": [2.5], "improvement": [0.1], "jump_from": [10], "jump_to": [20]}
    )
    assert seeds.single_seeds_sentence(undefined, 2).startswith(
        "Seed 7 has the highest breakthroughness, B = undefined; its largest step is between 10 and 20 parameters. "
        "Seed 7 has the highest linearity, L = 2.50. Of the 1 seeds, 0 have an infinite B"
    )


def test_synthetic_mixture_holds_sixty_successes_among_two_hundred_shuffled_seeds() -> None:
    mixture = seeds.synthetic_mixture(3)
    assert sorted(mixture["seed"]) == list(range(200)) and list(mixture["seed"]) != list(range(200))
    assert (mixture["em"] > 0.5).sum() == 60 and (mixture["em"] > 0.5).equals(mixture["seed"] >= 140)
    pd.testing.assert_frame_equal(mixture, seeds.synthetic_mixture(3))


def count_answers(seed: int, answers: list[tuple[int, list[int]]]) -> list[dict]:
    """Per-example count records of one seed: for each prompt, its start and the integers the model wrote
    (EOS appended), scored against start, ..., start + 3 (a test length of 4)."""
    rows = []
    for example, (start, said) in enumerate(answers):
        target = np.array([SYMBOL0 + start + i for i in range(4)] + [EOS])
        prediction = np.array([SYMBOL0 + v for v in said] + [EOS])
        correct = np.zeros(len(target), dtype=bool)
        overlap = min(len(target), len(prediction))
        correct[:overlap] = prediction[:overlap] == target[:overlap]
        rows.append(
            {
                "seed": seed,
                "example": example,
                "length": 4,
                "target_len": len(target),
                "exact_match": bool(correct.all()),
                "sum_logprob": -1.0,
                "prediction": prediction,
                "target": target,
                "correct": correct,
            }
        )
    return rows


def test_count_failures_say_where_the_wrong_answers_go_wrong() -> None:
    records = pd.DataFrame(
        count_answers(0, [(2, [2, 3, 4, 5]), (7, [10, 11, 12, 13]), (1, [1, 2, 4, 5])])
        + count_answers(1, [(2, [2, 3, 4, 5]), (7, [7, 8, 9, 10]), (1, [2, 3, 4, 5])])
    )
    failures = seeds.count_failures(records)
    assert failures["failed"] == pytest.approx(3 / 6)
    assert failures["at_first"] == pytest.approx(2 / 3), "7 -> 10 and 1 -> 2 go wrong at once, 1 2 4 later"
    assert failures["from_end"] == pytest.approx(1 / 3), "only the answer starting at 10 starts from the end"
    perfect = pd.DataFrame(count_answers(0, [(2, [2, 3, 4, 5])]))
    assert seeds.count_failures(perfect)["failed"] == 0 and np.isnan(seeds.count_failures(perfect)["at_first"])


def test_panel_failures_cover_the_count_panels_and_the_sentence_states_their_ranges(tmp_path: Path) -> None:
    split = [(2, [2, 3, 4, 5]), (3, [3, 4, 5, 6]), (2, [2, 3, 4, 5])]  # the first prompt drawn twice
    wrong = [(2, [5, 6, 7, 8]), (3, [4, 5, 6, 7]), (2, [5, 6, 7, 8])]
    first_only = [(2, [2, 3, 4, 5]), (3, [6, 7, 8, 9])]
    second_only = [(2, [5, 6, 7, 8]), (3, [3, 4, 5, 6])]

    def run(key: str, rows: list[dict]) -> Result:
        return Result(pd.DataFrame(rows), {"param_hash": key, "diverged_seeds": []}, tmp_path / key)

    width = Sweep.from_dict(SWEEP_CONFIG, "quick")
    addition = Sweep.from_dict({**SWEEP_CONFIG, "name": "seeds/addition-width"}, "quick")
    shown = {
        ("count", "width"): Shown(
            replace(width, runs=width.runs[:2]),
            "full",
            [
                run("w8", count_answers(0, split) + count_answers(1, wrong)),
                run("w16", count_answers(0, first_only) + count_answers(1, second_only)),
            ],
            (),
        ),
        ("addition", "width"): Shown(replace(addition, runs=addition.runs[:1]), "quick", [run("a", [])], ()),
    }
    failures = seeds.panel_failures(shown)
    assert list(failures["scale"]) == [8, 16], "only count panels, one row per stored run"
    assert list(failures["panel"]) == ["count · width (d_model)"] * 2
    assert list(failures["distinct_prompts"]) == [2, 2]
    np.testing.assert_allclose(
        failures["dispersion"],
        [2.0, 0.0],
        err_msg="2 distinct prompts, the repeat counted once: a split gives 2, seeds that share the answers out evenly 0",
    )
    np.testing.assert_allclose(failures["seed_share"], [1.0, -1.0])
    np.testing.assert_allclose(failures["mean_em"], [0.5, 0.5])
    np.testing.assert_allclose(failures["from_end"], [0.5, 1.0])
    sentence = seeds.failure_sentence(failures)
    assert sentence.startswith("**In these populations**, over their 2 distinct test prompts, ")
    assert "0.0 to 2.0 times" in sentence and "-100% to 100%" in sentence
    assert "50% to 100% begin with the prompt's end number" in sentence
    assert "100% to 100% go wrong at the first answer token" in sentence


def test_bandwidth_sentence_compares_every_cell_under_each_other_rule() -> None:
    per_seed = population({1: 0.0, 2: 0.3, 3: 0.97}).assign(panel="P", loss=lambda f: 1 - f["em"])
    stable = seeds.bandwidth_sentence(per_seed, 0.05, 0.05, "both", "silverman-iqr")
    assert stable.startswith("**Bandwidth check** (this page uses 'silverman-iqr'): with the 'scott' bandwidth, ")
    assert "with the 'silverman' bandwidth" in stable and stable.count("none changes its verdict") == 2
    narrow = seeds.bandwidth_sentence(per_seed, 0.05, 0.05, "peaks", "silverman-iqr", rules=(0.01,))
    base = seeds.panel_bimodality(per_seed, 0.05, 0.05, "peaks", "silverman-iqr")
    wiggly = seeds.panel_bimodality(per_seed, 0.05, 0.05, "peaks", 0.01)
    flipped = base[wiggly["multimodal"] != base["multimodal"]]
    assert len(flipped) > 0, "a kernel a hundredth of the sd finds peaks in every spread-out sample"
    assert f"{len(flipped)} change their verdict (P, " in narrow
