"""The emergence family: mixture sweeps, the extra test tables for Mirage, emergence scales."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from scalingbook.analysis import metrics
from scalingbook.chapters import emergence
from scalingbook.lab import sweeps
from scalingbook.lab.store import REPO_ROOT
from scalingbook.lab.sweeps import Shown, Sweep, SweepError, load_tables, run_sweep
from scalingbook.lab.tasks import encode

COMPONENTS = [
    {"label": "add-1", "weight": 1, "name": "arithmetic", "op": "+", "train_length": 1, "test_length": 1, "shots": 1},
    {
        "label": "add-2",
        "weight": 2,
        "name": "arithmetic",
        "op": "+",
        "train_length": 2,
        "test_length": 2,
        "shots": 1,
        "scratchpad": True,
    },
    {"label": "unscramble-3", "weight": 1, "name": "unscramble", "train_length": 3, "test_length": 3, "n_words": 20},
]
CONFIG = {
    "name": "tiny-emergence",
    "task": {"name": "mixture", "components": COMPONENTS},
    "model": {"n_layers": 1, "n_heads": 2},
    "grid": [{"d_model": 16}, {"d_model": 8}, {"d_model": 12}],
    "members": {"seeds": 2, "lr": 3e-3},
    "train": {"steps": 6, "batch_size": 8, "warmup_steps": 1, "log_every": 3, "progress": False},
    "eval": {
        "n_examples": 30,
        "large_component": "add-1",
        "large_n_examples": 50,
        "large_smallest": 2,
        "choice_component": "add-1",
        "choice_options": 4,
        "choice_n_examples": 20,
    },
}


@pytest.fixture
def checkpoints(tmp_path, monkeypatch):
    monkeypatch.setattr(sweeps, "REPO_ROOT", tmp_path)


def test_a_tiny_family_stores_records_large_tests_and_choices_that_load_back(tmp_path, checkpoints):
    sweep = Sweep.from_dict(CONFIG)
    assert [r.eval["large_n_examples"] for r in sweep.runs] == [0, 50, 50], "only the two smallest get the large set"
    run_sweep(sweep, "quick", store_root=tmp_path / "store", log=lambda _: None)
    records = load_tables(sweep, "records", "quick", tmp_path / "store")
    assert all(len(r.table) == 2 * 30 for r in records)
    assert set(records[0].table["component"]) <= {0, 1, 2}

    large = load_tables(sweep, "large", "quick", tmp_path / "store")
    assert large[0] is None and all(len(r.table) == 2 * 50 for r in large[1:])
    assert set(large[1].table["component"]) == {0} and (large[1].table["length"] == 1).all()
    assert {"exact_match", "prediction", "target", "correct", "logprob", "sum_logprob"} <= set(large[1].table.columns)

    choices = load_tables(sweep, "choices", "quick", tmp_path / "store")
    table = choices[0].table
    assert len(table) == 2 * 20 and {"seed", "example", "component", "correct", "option_logprob"} <= set(table.columns)
    options = list(table["option_logprob"])
    assert all(len(o) == 4 and np.all(np.asarray(o) < 0) for o in options)
    grade = metrics.multiple_choice_grade(options, table["correct"].to_numpy())
    brier = metrics.brier_score(metrics.option_probabilities(options), table["correct"].to_numpy())
    assert grade.shape == brier.shape == (40,) and np.all((0 <= brier) & (brier <= 2))

    stored = emergence.stored_tables(sweep, "quick", tmp_path / "store")
    assert stored[["table", "runs", "rows"]].values.tolist() == [
        ["tiny-emergence/records", 3, 3 * 60],
        ["tiny-emergence/large", 2, 2 * 100],
        ["tiny-emergence/choices", 3, 3 * 40],
    ]
    assert stored["columns"].tolist() == [", ".join(t.table.columns) for t in (records[0], large[1], choices[0])]

    outcomes = emergence.run_outcomes(sweep, records)
    assert set(outcomes["task"]) <= {"add-1", "add-2", "unscramble-3"}
    assert (outcomes.groupby("d_model")["flops"].nunique() == 1).all()
    assert outcomes.sort_values("n_params")["flops"].is_monotonic_increasing, "fixed tokens: FLOPs follow parameters"


def test_optional_evaluations_leave_other_runs_identities_alone():
    plain = {**CONFIG, "eval": {"n_examples": 30}}
    with_options = Sweep.from_dict(CONFIG).runs[0]  # d_model 16: the largest, no large test set
    without = Sweep.from_dict(plain).runs[0]
    assert "large_n_examples" not in without.params()["eval"] and "choice_options" in with_options.params()["eval"]
    assert without.params()["eval"] == {"n_examples": 30, "seed": 1234, "batch_size": 256}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"large_component": "add-9"}, "eval.large_component must be one of"),
        ({"choice_options": 1}, "eval.choice_options must be >= 2"),
    ],
)
def test_bad_evaluation_options_are_named(change, message):
    with pytest.raises(SweepError, match=message):
        Sweep.from_dict({**CONFIG, "eval": {**CONFIG["eval"], **change}}, source="tiny.yaml")


def test_bad_mixture_configs_are_named():
    bad = {
        **CONFIG,
        "task": {"name": "mixture", "components": [{"name": "arithmetic", "train_length": 1, "test_length": 1}]},
    }
    with pytest.raises(SweepError, match="needs a label and a weight"):
        Sweep.from_dict(bad, source="tiny.yaml")
    nested = {**CONFIG, "task": {"name": "mixture", "components": [{"name": "mixture", "label": "m", "weight": 1}]}}
    with pytest.raises(SweepError, match=r"components\[0\].name must be one of"):
        Sweep.from_dict(nested, source="tiny.yaml")


@pytest.mark.parametrize("profile", ["quick", "paper"])
def test_the_chapters_sweeps_describe_the_family_the_issue_asks_for(profile):
    from scalingbook.lab.model import param_count

    direct, scratchpad = (
        Sweep.load(REPO_ROOT / "sweeps" / f"emergence-{kind}.yaml", profile) for kind in ("direct", "scratchpad")
    )
    task = direct.runs[0].build_task()
    sizes = [param_count(r.model_config(task)) for r in direct.runs]
    assert len(sizes) >= 8 and max(sizes) / min(sizes) >= 100 and len(direct.runs[0].members) >= 5
    widths = [r.model["d_model"] for r in scratchpad.runs]
    assert len(widths) >= 4 and set(widths) <= {r.model["d_model"] for r in direct.runs}, "paired by width"
    for sweep in (direct, scratchpad):
        assert len({r.train["steps"] * r.train["batch_size"] for r in sweep.runs}) == 1, "fixed training tokens"
        assert sweep.runs[0].members == direct.runs[0].members and sweep.runs[0].train == direct.runs[0].train
    assert sum(bool(r.eval["large_n_examples"]) for r in direct.runs) == 2
    assert all(r.eval["choice_options"] == 4 for r in direct.runs)


def test_the_full_family_is_the_one_issue_14_asks_for():
    from scalingbook.lab.model import param_count

    direct, scratchpad = (
        Sweep.load(REPO_ROOT / "sweeps" / f"emergence-{kind}.yaml", "full") for kind in ("direct", "scratchpad")
    )
    task = direct.runs[0].build_task()
    sizes = [param_count(r.model_config(task)) for r in direct.runs]
    assert len(sizes) >= 9 and max(sizes) / min(sizes) >= 10**2.5, "9+ sizes over 2.5+ decades"
    for sweep in (direct, scratchpad):
        assert len({r.train["steps"] * r.train["batch_size"] for r in sweep.runs}) == 1, "fixed training tokens"
        assert len(sweep.runs[0].members) >= 5 and all(m["seed"] < 10_000 for m in sweep.runs[0].members), (
            "not pilot seeds"
        )
        assert min(emergence.distinct_test_items(sweep.runs[0]).values()) >= 200
    # Within the 6 CPU-hours the scratchpad family covers the direct family's smallest widths, to 64.
    widths = [r.model for r in scratchpad.runs]
    assert widths == [r.model for r in direct.runs][: len(widths)] and widths[-1]["d_model"] == 64, "paired by width"
    assert scratchpad.runs[0].members == direct.runs[0].members and scratchpad.runs[0].train == direct.runs[0].train
    assert all(r.eval["large_n_examples"] > 0 for r in direct.runs), "the large test set at every size"
    assert all(r.eval["choice_component"] == "" and r.eval["choice_n_examples"] > 0 for r in direct.runs), "every task"


def test_final_answer_match_reads_past_the_scratchpad():
    records = pd.DataFrame(
        {
            "prediction": [
                encode("5 1 8 0 > 8 5 EOS"),
                encode("5 0 8 0 > 8 5 EOS"),
                encode("8 5 EOS"),
                encode("8 4 EOS"),
            ],
            "target": [encode("5 1 8 0 > 8 5 EOS")] * 2 + [encode("8 5 EOS")] * 2,
        }
    )
    np.testing.assert_array_equal(emergence.final_answer_match(records), [True, True, True, False])


def test_emergence_scale_needs_the_mean_above_chance_from_there_on():
    curve = pd.DataFrame({"n_params": [1, 2, 3, 4, 5], "em": [0.0, 0.2, 0.0, 0.3, 0.5]})
    assert emergence.emergence_scale(curve, chance=0.01, margin=0.05) == 4, "the blip at 2 does not count"
    assert np.isnan(emergence.emergence_scale(curve, chance=0.5, margin=0.05))
    with pytest.raises(ValueError, match="margin"):
        emergence.emergence_scale(curve, chance=0.0, margin=1.5)


def test_record_scores_rescore_the_same_outputs_under_four_metrics():
    records = pd.DataFrame(
        {
            "prediction": [encode("8 5 EOS"), encode("8 4 EOS"), encode("8 EOS")],
            "target": [encode("8 5 EOS")] * 3,
            "logprob": [np.array([-0.5, -0.25, -0.25]), np.array([-1.0, -2.0, 0.0]), np.array([-0.5, -3.0, -1.0])],
            "tf_correct": [np.ones(3, bool), np.array([True, False, True]), np.array([True, False, False])],
        }
    )
    scores = emergence.record_scores(records)
    assert list(scores.columns) == list(emergence.RECORD_METRICS)
    np.testing.assert_array_equal(scores["em"], [1, 0, 0])
    np.testing.assert_array_equal(scores["edit_distance"], [0, 1, 1])  # one substitution; one deletion
    np.testing.assert_allclose(scores["token_accuracy"], [1, 2 / 3, 1 / 3])  # teacher-forced hits, not positions
    np.testing.assert_allclose(scores["log_likelihood"], [-1.0, -3.0, -4.5])
    with pytest.raises(ValueError, match="names: unknown metric"):
        emergence.record_scores(records, ["bleu"])
    with pytest.raises(ValueError, match="no tf_correct column"):
        emergence.record_scores(records.drop(columns="tf_correct"))


def test_mean_curves_keep_extra_columns_apart_and_name_the_value():
    outcomes = pd.DataFrame(
        {
            "metric": ["a"] * 4 + ["b"] * 4,
            "task": "t",
            "d_model": [1, 1, 2, 2] * 2,
            "n_params": [10, 10, 20, 20] * 2,
            "flops": 1.0,
            "seed": [0, 1] * 4,
            "score": [0.0, 1.0, 2.0, 2.0, 5.0, 5.0, 6.0, 8.0],
        }
    )
    curves = emergence.mean_curves(outcomes, 50, 0.9, 0, value="score", by=["metric"])
    assert list(curves.columns[:6]) == ["metric", "task", "d_model", "n_params", "flops", "score"]
    np.testing.assert_allclose(curves["score"], [0.5, 2.0, 5.0, 7.0])
    assert (curves["low"] <= curves["score"]).all() and (curves["score"] <= curves["high"]).all()
    with pytest.raises(KeyError, match="missing column"):
        emergence.mean_curves(outcomes, 50, 0.9, 0)  # no "em" column


def _family(curves_by_task: dict[str, list[list[float]]]) -> pd.DataFrame:
    """Outcomes of tasks over six sizes, one list of per-size exact matches per seed."""
    rows = []
    for task, seeds in curves_by_task.items():
        for seed, ems in enumerate(seeds):
            rows += [
                {"task": task, "d_model": k, "n_params": 10 * (k + 1), "flops": 60.0 * (k + 1), "seed": seed, "em": em}
                for k, em in enumerate(ems)
            ]
    return pd.DataFrame(rows)


def test_emergence_table_gives_scales_intervals_and_wei_verdicts():
    outcomes = _family(
        {
            "jumps": [[0, 0, 0, 0, 0.5, 0.9], [0, 0, 0, 0.1, 0.6, 0.95], [0, 0, 0, 0, 0.4, 0.85]],
            "early": [[0.3, 0.4, 0.5, 0.6, 0.7, 0.8]] * 3,
            "never": [[0, 0, 0, 0, 0, 0], [0, 0, 0.002, 0, 0, 0], [0, 0, 0, 0, 0, 0]],
        }
    )
    curves = emergence.mean_curves(outcomes, 200, 0.9, 0)
    table = emergence.emergence_table(outcomes, curves, {"jumps": 0.0, "early": 0.0, "never": 0.0}, 0.05, 200, 0.9, 0)
    table = table.set_index("task")
    assert table.loc["jumps", "looks_emergent"] and table.loc["jumps", "emergence_params"] == 50
    assert table.loc["jumps", "params_low"] <= 50 <= table.loc["jumps", "params_high"] <= 60
    assert table.loc["jumps", "emergence_flops"] == 300.0 and table.loc["jumps", "rise_low"] > 0.05
    assert not table.loc["early", "looks_emergent"] and table.loc["early", "emergence_params"] == 10, (
        "above chance from the start"
    )
    assert not table.loc["never", "looks_emergent"] and np.isnan(table.loc["never", "emergence_params"])
    assert table.loc["never", "params_high"] == np.inf, "no resample emerges inside the family"
    assert table.loc["never", "flat"] and np.isnan(table.loc["never", "B"]), "a flat curve gets no B (issue 14)"


def test_prompting_gains_pair_seeds_across_the_two_families():
    direct = _family({"add-2": [[0, 0, 0.1, 0.2, 0.3, 0.4], [0, 0, 0.2, 0.3, 0.4, 0.5]]}).assign(prompting="direct")
    scratch = _family(
        {"add-2": [[0, 0, 0.1, 0.6, 0.8, 0.9], [0, 0, 0.2, 0.7, 0.9, 1.0]], "sub-2": [[0] * 6, [0] * 6]}
    ).assign(prompting="scratchpad")
    gains = emergence.prompting_gains(pd.concat([direct, scratch]), 200, 0.9, 0)
    assert set(gains["task"]) == {"add-2"}, "only tasks of both families"
    np.testing.assert_allclose(gains["gain"], [0, 0, 0, 0.4, 0.5, 0.5])
    assert gains["helps"].tolist() == [False, False, False, True, True, True] and (gains["helps_from"] == 3).all()
    assert not gains["hurts"].any()


def test_prompting_gains_pair_seeds_by_id_when_a_seed_is_missing_from_one_family():
    """A seed left out of one family (diverged there) must not shift the pairing of the others."""
    direct = _family({"add-2": [[0.1] * 6, [0.2] * 6, [0.3] * 6]}).assign(prompting="direct")
    scratch = _family({"add-2": [[0.5] * 6, [0.6] * 6, [0.9] * 6]}).assign(prompting="scratchpad")
    scratch = scratch[scratch["seed"] != 1]  # seed 1 left out of the scratchpad family only
    gains = emergence.prompting_gains(pd.concat([direct, scratch]), 200, 0.9, 0)
    np.testing.assert_allclose(gains["gain"], 0.5)  # seeds 0 and 2: 0.4 and 0.6, never 0.6 - 0.2 or 0.9 - 0.2
    np.testing.assert_allclose(gains["direct"], 0.2)  # the direct mean keeps its seed 1


def test_diverged_seeds_are_left_out_of_the_statistics_and_counted(tmp_path, checkpoints):
    """Issue 18, item 8: a member ending at loss 8.2 (healthy: 2.9) was not flagged and entered the analyses."""
    from scalingbook.analysis import stats
    from scalingbook.lab.store import ResultStore

    sweep = Sweep.from_dict(
        {**CONFIG, "grid": [{"d_model": 8}], "members": {"seeds": 3, "lr": 3e-3}, "eval": {"n_examples": 30}}
    )
    store = ResultStore(tmp_path / "store")
    run_sweep(sweep, "quick", store_root=store.root, log=lambda _: None)
    spec = sweep.runs[0]
    records = load_tables(sweep, "records", "quick", store.root)[0]
    assert sweeps.diverged_seeds(records) == []
    assert emergence.run_outcomes(sweep, [records])["n_diverged"].eq(0).all()

    # Seed 1's stored curve now climbs from its early loss to 8.2, as the lr-10 member of the issue did.
    training = store.read(f"{spec.sweep}/training", spec.params())
    curves = training.table.copy()
    last = curves["step"] == curves["step"].max()
    curves.loc[(curves["seed"] == 1) & last, "loss"] = 8.2
    store.write(
        f"{spec.sweep}/training",
        spec.params(),
        curves,
        profile="quick",
        device="cpu",
        started=pd.Timestamp.now(tz="UTC").to_pydatetime(),
    )
    records = load_tables(sweep, "records", "quick", store.root)[0]
    assert records.path == store.path_for(f"{spec.sweep}/records", spec.params()), "no stored key changed"
    assert sweeps.diverged_seeds(records) == [1]

    outcomes = emergence.run_outcomes(sweep, [records])
    assert set(outcomes["seed"]) == {0, 2} and outcomes["n_diverged"].eq(1).all()
    per_seed = stats.seed_outcomes(records)
    assert per_seed["seed"].tolist() == [0, 2] and per_seed["n_diverged"].eq(1).all()
    assert stats.seed_outcomes(records.table)["seed"].tolist() == [0, 1, 2], "a bare table is taken as it is"
    note = stats.divergence_note(per_seed.assign(scale=8), ["scale"])
    assert "8: 1 of 3" in note and "left out" in note
    assert "No seed diverged" in stats.divergence_note(stats.seed_outcomes(records.table).assign(scale=8), ["scale"])


def test_pilot_table_has_a_row_per_pilot_size_and_a_column_per_task(tmp_path):
    path = tmp_path / "pilots.csv"
    pd.DataFrame(
        {
            "label": ["a"] * 4 + ["b"] * 2,
            "n_params": [10, 10, 20, 20, 20, 20],
            "cpu_seconds": [1.0, 1.0, 2.0, 2.0, 3.0, 3.0],
            "task": ["x", "y"] * 3,
            "mean_em": [0.0, 0.1, 0.5, 0.6, 0.7, 0.8],
        }
    ).to_csv(path, index=False)
    table = emergence.pilot_table(path)
    assert list(table.columns) == ["label", "n_params", "cpu_seconds", "x", "y"]
    assert table["label"].tolist() == ["a", "a", "b"] and table["y"].tolist() == [0.1, 0.6, 0.8]


def test_chance_levels_are_uniform_guesses_over_each_tasks_answers():
    chances = emergence.chance_levels(emergence.mixture_of(Sweep.from_dict(CONFIG).runs[0]))
    assert list(chances) == ["add-1", "add-2", "unscramble-3"], "in the mixture's order"
    # Sums of two digits: 0..18; of two 2-digit numbers: 20..198; orders of 3 letters: 3!.
    np.testing.assert_allclose(list(chances.values()), [1 / 19, 1 / 179, 1 / 6])


def test_the_family_is_one_row_per_size_with_its_tokens_per_parameter():
    direct = pd.DataFrame(
        {
            "task": ["a", "b"] * 4,
            "d_model": [8] * 4 + [16] * 4,
            "n_params": [100] * 4 + [400] * 4,
            "flops": [6e5] * 4 + [2.4e6] * 4,
            "seed": [0, 0, 1, 1] * 2,
            "n_examples": [30, 25, 30, 25, 31, 40, 31, 40],
        }
    )
    family = emergence.family_table(direct, tokens=2000)
    assert family.to_dict("list") == {
        "size": [1, 2],
        "d_model": [8, 16],
        "n_params": [100, 400],
        "flops": [6e5, 2.4e6],
        "seeds": [2, 2],
        "test_prompts_per_task": [25, 31],
        "tokens_per_param": [20.0, 5.0],
    }


def test_the_family_sentence_states_its_sizes_budget_and_tasks():
    spec = Sweep.from_dict(CONFIG).runs[0]
    family = pd.DataFrame({"n_params": [1_000, 100_000], "seeds": [3, 2], "tokens_per_param": [1.488, 0.01488]})
    text = emergence.describe_family(
        family, spec, {"add-1": 1 / 19, "unscramble-3": 1 / 6}, {"add-1": 19, "unscramble-3": 6}, "quick"
    )
    assert text == (
        "**This family** (quick profile): 2 sizes from 1,000 to 100,000 parameters (2.0 decades), 2 seeds each, "
        "depth 1, 6 steps of 8 sequences (1,488 tokens per model, 0 per parameter for the largest and 1 for the "
        "smallest). Tasks, with their chance level and the distinct test queries of each: `add-1` (chance 0.053, "
        "19 queries), `unscramble-3` (chance 0.17, 6 queries)."
    )  # 6 steps x 8 sequences x 31 padded tokens
    partial = emergence.describe_family(family, spec, {"add-1": 1 / 19}, {"add-1": 19}, "full", pending=1)
    assert partial.endswith(
        "1 more size is not stored yet (trained in a later sitting), so every verdict below is about the sizes above."
    )


def _scales(**tasks: dict) -> pd.DataFrame:
    """Rows of emergence_table for a family_summary: each task's verdict columns, the rest defaulted."""
    default = {
        "chance": 0.0,
        "emergence_params": np.nan,
        "params_low": np.nan,
        "params_high": np.inf,
        "B": np.nan,
        "flat": False,
        "early_high": 0.0,
        "rise": 0.0,
        "rise_low": 0.0,
        "rise_high": 0.0,
        "looks_emergent": False,
    }
    return pd.DataFrame([{"task": task, **default, **values} for task, values in tasks.items()])


def test_the_family_verdict_names_each_kind_of_task_with_its_numbers():
    scales = _scales(
        jumps={
            "looks_emergent": True,
            "rise": 0.8,
            "rise_low": 0.7,
            "rise_high": 0.9,
            "emergence_params": 5000.0,
            "params_low": 2000.0,
            "params_high": np.inf,
            "B": 12.34,
        },
        zero={"flat": True},
        easy={"early_high": 0.3},
        drifts={"early_high": 0.01, "rise_low": 0.02},
    )
    text = emergence.family_summary(scales, margin=0.05, confidence=0.9, profile="full")
    assert text == (
        "**In this family** (full profile): 1 of 4 tasks look emergent in Wei's sense: near chance over the smaller "
        "half of the sizes (the 90% upper end of their best early exact match stays within 0.05 of chance) and clearly "
        "above it at the largest size (the 90% interval of the rise lies above 0.05): `jumps`, rise 0.80 [0.70, 0.90], "
        "emergence scale 5,000 parameters [2,000, beyond the family], B = 12.3. Flat, never leaving where they start "
        "(no B): `zero`; for them a transition, if there is one, lies beyond the largest model trained here. Already "
        "above chance within the smaller half: `easy`; they improve from small sizes on and are not emergent by the "
        "definition. Moving but without a clear verdict: `drifts` (the rise interval reaches below 0.05)."
    )


def test_without_an_emergent_task_the_verdict_says_so_and_quick_says_it_is_no_finding():
    text = emergence.family_summary(_scales(a={"flat": True}, b={"flat": True}), 0.05, 0.95, "quick")
    assert text.startswith(
        "**In this family** (quick profile): None of the 2 tasks is both near chance over the "
        "smaller half of the sizes and clearly above it at the largest. Flat, never leaving where "
        "they start (no B): `a`, `b`;"
    )
    assert "Already above" not in text and "Moving but" not in text
    assert text.endswith(
        "The quick profile trains for seconds per model; its curves show what the machinery measures, "
        "not how these tasks scale. The full profile is the experiment."
    )


def test_the_scales_table_marks_never_and_flat():
    scales = _scales(
        zero={"flat": True, "emergence_flops": np.nan},
        jumps={"emergence_params": 5000.0, "params_low": 2000.0, "emergence_flops": 3e9, "B": 4.26},
    )
    html = emergence.scales_table(scales, "run X", "quick").to_html()
    assert "Source: run X (quick profile). -: never (scale) or flat (B)" in html
    assert ">5,000<" in html and ">2,000<" in html and ">3.00e+09<" in html and ">4.3<" in html and ">inf<" in html
    assert html.count(">-<") == 4, "the flat task's scale, its interval's low end, its FLOPs and its B"


def test_table1_puts_our_scales_and_their_intervals_under_weis():
    scales = _scales(
        jumps={"emergence_params": 5000.0, "params_low": 2000.0, "params_high": np.inf, "emergence_flops": 3e9},
        zero={"emergence_flops": np.nan},
    )
    table = emergence.table1_beside_ours(scales, "quick", "run X")
    assert len(table) == len(emergence.WEI_TABLE1) + 2
    assert table.iloc[0].tolist() == [
        "Addition/subtraction (3 digit)",
        2.3e22,
        13e9,
        "GPT-3",
        "Wei et al. 2022, Table 1",
    ]
    ours = table.iloc[-2:]
    assert ours["ability"].tolist() == [
        "jumps (this chapter, quick profile; interval over seeds 2,000 to beyond the family parameters)",
        "zero (this chapter, quick profile; interval over seeds never to beyond the family parameters)",
    ]
    assert ours["parameters"].tolist()[0] == 5000.0 and np.isnan(ours["parameters"].tolist()[1])
    assert ours["train FLOPs"].tolist()[0] == 3e9 and (ours["source"] == "run X").all()
    assert (ours["model"] == "this chapter's family").all()
    assert "not within the family" in emergence.table1_styled(table).to_html()


def test_the_scratchpad_is_compared_only_on_the_tasks_that_write_working():
    scratch = Sweep.from_dict(CONFIG)
    plain = {
        **CONFIG,
        "task": {
            "name": "mixture",
            "components": [{k: v for k, v in c.items() if k != "scratchpad"} for c in COMPONENTS],
        },
    }
    direct = Sweep.from_dict(plain)
    mixture = emergence.mixture_of(direct.runs[0])
    assert emergence.scratchpad_tasks(mixture, {"scratchpad": Shown(scratch, "quick", [], ())}) == ["add-2"]
    assert emergence.scratchpad_tasks(mixture, {"scratchpad": Shown(direct, "quick", [], ())}) == []
    assert emergence.scratchpad_tasks(mixture, {}) == [], "no scratchpad family stored: nothing compared"


def test_without_a_stored_scratchpad_family_the_comparison_says_so():
    """A full direct family stored before the scratchpad one (two sittings): nothing is compared, and the
    summary says why, instead of failing or comparing the full direct family with the quick scratchpad one."""
    outcomes = pd.DataFrame(
        {
            "prompting": "direct",
            "task": "add-2",
            "d_model": [8, 8],
            "n_params": 900,
            "flops": 1e9,
            "seed": [0, 1],
            "em": [0.1, 0.2],
        }
    )
    gains = emergence.prompting_gains(outcomes, 50, 0.9, 0)
    assert gains.empty and "low" in gains.columns
    assert emergence.paired_curves(outcomes, [], 50, 0.9, 0).empty
    assert emergence.scratchpad_summary(gains, 0.9, "full") == (
        "**What the two families show** (full profile): nothing yet. The scratchpad family has no run stored at "
        "this profile that shares a width with the direct one; it trains in a later sitting "
        "(`scalingbook sweep sweeps/emergence-scratchpad.yaml --profile full`)."
    )


def test_paired_curves_are_each_familys_mean_curves_of_the_compared_tasks():
    direct = _family(
        {"add-2": [[0, 0, 0.1, 0.2, 0.3, 0.4], [0, 0, 0.2, 0.3, 0.4, 0.5]], "sub-2": [[0.5] * 6] * 2}
    ).assign(prompting="direct")
    scratch = _family({"add-2": [[0, 0, 0.1, 0.6, 0.8, 0.9], [0, 0, 0.2, 0.7, 0.9, 1.0]]}).assign(
        prompting="scratchpad"
    )
    paired = emergence.paired_curves(pd.concat([direct, scratch]), ["add-2"], 100, 0.9, 0)
    assert paired["prompting"].tolist() == ["direct"] * 6 + ["scratchpad"] * 6 and set(paired["task"]) == {"add-2"}
    np.testing.assert_allclose(paired["em"], [0, 0, 0.15, 0.25, 0.35, 0.45, 0, 0, 0.15, 0.65, 0.85, 0.95])


def test_the_charts_draw_seeds_means_bands_and_chance_per_task_in_the_mixtures_order():
    outcomes = _family({"b": [[0, 0.5, 1, 1, 1, 1]] * 2, "a": [[0, 0, 0, 0, 0.5, 1]] * 2})
    curves = emergence.mean_curves(outcomes, 50, 0.9, 0)
    spec = emergence.curves_chart(outcomes, curves, {"b": 0.1, "a": 0.2}, "run X").to_dict()
    assert spec["title"]["subtitle"] == ["Source: run X"]
    top, bottom = spec["vconcat"]
    assert top["facet"]["sort"] == ["b", "a"] and top["spec"]["layer"][0]["encoding"]["x"]["field"] == "flops"
    assert bottom["spec"]["layer"][0]["encoding"]["x"]["field"] == "n_params"
    marks = [(layer["mark"]["type"], layer["transform"][0]["filter"]) for layer in top["spec"]["layer"]]
    assert marks == [
        ("line", "(datum.layer === 'seed')"),
        ("area", "(datum.layer === 'mean')"),
        ("line", "(datum.layer === 'mean')"),
        ("rule", "(datum.layer === 'chance')"),
    ]
    scratch = emergence.scratchpad_chart(
        emergence.paired_curves(
            pd.concat([outcomes.assign(prompting="direct"), outcomes.assign(prompting="scratchpad")]), ["a"], 50, 0.9, 0
        ),
        ["run X", "run Y"],
    ).to_dict()
    assert scratch["title"]["subtitle"] == ["Source: run X", "Source: run Y"]
    assert scratch["spec"]["layer"][1]["encoding"]["color"]["scale"]["domain"] == ["direct", "scratchpad"]


def _gains(task: str, helps: list[bool], hurts: list[bool], helps_from: float) -> pd.DataFrame:
    """prompting_gains rows of one task at widths 8, 16, ...; the largest width's numbers fixed."""
    n = len(helps)
    return pd.DataFrame(
        {
            "task": task,
            "d_model": [8 * (k + 1) for k in range(n)],
            "direct": 0.2,
            "scratchpad": 0.5,
            "gain": 0.3,
            "low": 0.1,
            "high": 0.45,
            "helps": helps,
            "hurts": hurts,
            "helps_from": helps_from,
        }
    )


def test_the_scratchpad_verdict_says_from_which_width_it_helps():
    gains = pd.concat(
        [
            _gains("every", [True] * 3, [False] * 3, 8.0),
            _gains("late", [False, True, True], [True, False, False], 16.0),
            _gains("never", [True, False, False], [False] * 3, np.nan),
            _gains("twice", [True, False, True, True], [False] * 4, 24.0),
        ],
        ignore_index=True,
    )
    assert emergence.scratchpad_summary(gains, 0.95, "quick").split("\n") == [
        "**What the two families show** (quick profile):",
        "",
        "- **`every`**: the gain's 95% interval lies above zero at 3 of 3 widths and below it at 0; at the largest, "
        "0.20 -> 0.50, gain +0.30 [0.10, 0.45]. It helps at every width: no threshold inside this family.",
        "- **`late`**: the gain's 95% interval lies above zero at 2 of 3 widths and below it at 1; at the largest, "
        "0.20 -> 0.50, gain +0.30 [0.10, 0.45]. It helps from width 16 on and at no width below, the shape of Wei's "
        "Fig. 3C.",
        "- **`never`**: the gain's 95% interval lies above zero at 1 of 3 widths and below it at 0; at the largest, "
        "0.20 -> 0.50, gain +0.30 [0.10, 0.45]. There is no width from which it helps at every larger width.",
        "- **`twice`**: the gain's 95% interval lies above zero at 3 of 4 widths and below it at 0; at the largest, "
        "0.20 -> 0.50, gain +0.30 [0.10, 0.45]. It helps from width 24 on, and at some smaller widths too: no clean "
        "threshold.",
    ]


def test_the_scratchpad_helps_where_the_paired_interval_clears_zero_and_hurts_where_it_falls_below():
    direct = _family({"add-2": [[0.5, 0.5, 0.5, 0.1, 0.1, 0.1], [0.5, 0.5, 0.5, 0.2, 0.2, 0.2]]}).assign(
        prompting="direct"
    )
    scratch = _family({"add-2": [[0.5, 0.1, 0.1, 0.1, 0.6, 0.7], [0.5, 0.2, 0.2, 0.2, 0.7, 0.8]]}).assign(
        prompting="scratchpad"
    )
    gains = emergence.prompting_gains(pd.concat([direct, scratch]), 200, 0.9, 0)
    assert gains["helps"].tolist() == [False, False, False, False, True, True]
    assert gains["hurts"].tolist() == [False, True, True, False, False, False]
    assert (gains["helps_from"] == 4).all(), "width 4 on: a gain there and at every larger width"
    html = emergence.gains_table(gains.assign(helps_from=np.nan), ["run X", "run Y"]).to_html()
    assert "Sources: run X; run Y" in html and ">never<" in html and ">+0.500<" in html and ">-0.300<" in html


def test_pilot_findings_state_what_the_pilots_showed():
    table = pd.DataFrame(
        {
            "label": ["fast"] * 3 + ["slow"] * 3 + ["pad"],
            "n_params": [10, 50, 200] * 2 + [52],
            "cpu_seconds": 1.0,
            "x": [0.1, 0.5, 0.2, 0.1, 0.3, 0.9, 0.8],
            "y": [0.0, 0.1, 0.2, 0.0, 0.1, 0.15, 0.12],
        }
    )
    assert emergence.pilot_findings(table, "fast", "slow", "pad") == (
        "In the `fast` pilot the largest size (200 parameters) scored below the next size down (50) on 1 of 2 tasks "
        "(`x`). In the `slow` pilot it was the best of the 3 sizes on 2 of 2 tasks, and every task rose between the two "
        "largest sizes; least `y`, `x` (+0.050, +0.600). The `pad` pilot (52 parameters) beat `slow` at 50 by more "
        "than 0.1 exact match on `x` (0.30 -> 0.80)."
    )
    flat = table.assign(y=[0.0, 0.1, 0.2, 0.0, 0.2, 0.2, 0.1])
    assert emergence.pilot_findings(flat, "slow", "fast", "pad", lift=0.5) == (
        "In the `slow` pilot the largest size (200 parameters) scored below the next size down (50) on 0 of 2 tasks. "
        "In the `fast` pilot it was the best of the 3 sizes on 1 of 2 tasks, and 1 of 2 tasks rose between the two "
        "largest sizes; least `x`, `y` (-0.300, +0.100). The `pad` pilot (52 parameters) beat `fast` at 50 by more "
        "than 0.5 exact match on no task."
    )
    with pytest.raises(KeyError, match="no pilot 'lr'"):
        emergence.pilot_findings(table, "lr", "slow", "pad")


class _Run:
    """A stored run as the page's captions see it."""

    def __init__(self, line: str):
        self.line = line

    def describe(self) -> str:
        return self.line


def test_captions_name_each_familys_largest_run_and_the_header_lists_every_run():
    from scalingbook.lab.sweeps import Shown

    runs = [_Run("small"), _Run("large"), _Run("pad")]
    shown = {"direct": Shown(None, "full", runs[:2], ()), "scratchpad": Shown(None, "full", runs[2:], ())}
    assert emergence.source_lines(shown) == {
        "direct": "large, with 1 smaller runs",
        "scratchpad": "pad, with 0 smaller runs",
    }
    assert emergence.stored_results(shown) == runs
