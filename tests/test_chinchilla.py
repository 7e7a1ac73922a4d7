"""The Chinchilla experiment: the design obeys Hoffmann's constraints; a tiny sweep stores and re-reads."""

from __future__ import annotations

import numpy as np
import pytest

from scalingbook import chinchilla


@pytest.mark.parametrize("profile", ["quick", "full"])
def test_design_obeys_the_papers_constraints(profile):
    design = chinchilla.make_design(profile)
    iso = chinchilla.isoflop_runs(design)
    budgets = np.unique(iso.budget)
    assert len(budgets) >= 5 and np.log10(budgets.max() / budgets.min()) >= 1.5 - 1e-9
    for budget, runs in iso.groupby("budget"):
        assert runs.n_params.nunique() >= 7
        # D = C / (6N) up to rounding the steps to a log interval; the cosine cycle is the run's length
        assert np.allclose(runs.flops, budget, rtol=design.log_every * design.tokens_per_step / runs.tokens.min())
        assert (runs.steps >= design.min_steps).all() and (runs.steps % design.log_every == 0).all()
    env = chinchilla.envelope_runs(design)
    for _, runs in env.groupby("width"):
        assert len(runs) >= 4
        assert runs.tokens.max() / runs.tokens.min() >= 16 * 0.95


def test_budgets_and_source_can_be_overridden():
    design = chinchilla.make_design("quick", budgets=[2e9, 1e9], vocab_size=32, concentration=0.5)
    assert design.budgets == (1e9, 2e9) and design.source().vocab_size == 32
    with pytest.raises(ValueError, match="min_steps"):
        chinchilla.isoflop_runs(chinchilla.make_design("quick", budgets=[1e7, 1e8]))
    with pytest.raises(ValueError, match="profile"):
        chinchilla.make_design("huge")


def test_a_tiny_sweep_trains_stores_and_is_read_back(tmp_path, monkeypatch):
    monkeypatch.setenv("SCALINGBOOK_CACHE", str(tmp_path))
    design = chinchilla.Design(
        budgets=(3e7, 6e7), widths=(8, 12, 16), sizes_per_budget=3, envelope_widths=(8, 12),
        context=8, batch_size=4, min_steps=5, log_every=5, warmup_steps=2, envelope_tokens_per_param=0.5,
        vocab_size=8,
    )
    iso_runs, env_runs = chinchilla.isoflop_runs(design), chinchilla.envelope_runs(design)
    first = chinchilla.train_runs("chinchilla/isoflop", design, iso_runs, "quick")
    finals = chinchilla.final_losses(first.table)
    assert len(finals) == len(iso_runs) and np.isfinite(finals.loss).all()
    assert (finals.step == finals.steps).all(), "each run's last point is at the end of its cosine cycle"
    again = chinchilla.train_runs("chinchilla/isoflop", design, iso_runs, "quick")
    assert again.manifest["finished"] == first.manifest["finished"] and again.table.equals(first.table)
    env = chinchilla.train_runs("chinchilla/envelope", design, env_runs, "quick")
    curves = chinchilla.loss_curves(env.table)
    assert len(curves) == len(env_runs) and all(np.all(np.diff(c.tokens) > 0) for c in curves)
    assert curves[0].tokens[-1] == env_runs.tokens.iloc[0]


# Keys of the stored Markov-source sweeps, pinned before corpora were keyed by content: they must not move.
PINNED_KEYS = {"quick": ("f60b99e9d9b59d08", "b5bc0e7123ec2e0b"), "full": ("92dbc305505a3f6b", "f07a0dc812ec0358")}


@pytest.mark.parametrize("profile", ["quick", "full"])
def test_a_design_without_a_corpus_keeps_its_stored_key(profile):
    from scalingbook.results import param_hash

    design = chinchilla.make_design(profile)
    keys = tuple(
        param_hash({"design": design.key(), "runs": runs[["width", "steps"]].to_dict("list")})
        for runs in (chinchilla.isoflop_runs(design), chinchilla.envelope_runs(design))
    )
    assert keys == PINNED_KEYS[profile]
    assert design.key()["corpus_path"] == "" and "corpus" not in design.key()


def test_a_corpus_is_keyed_by_its_content_not_its_path(tmp_path, monkeypatch):
    """Issue 18, item 4: a corpus edited in place reused the old results (the key held its path)."""
    monkeypatch.setenv("SCALINGBOOK_CACHE", str(tmp_path / "cache"))
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("the quick brown fox jumps over the lazy dog. " * 40)
    design = chinchilla.Design(
        budgets=(3e7,), widths=(8, 12, 16), sizes_per_budget=3, envelope_widths=(8,), context=8, batch_size=4,
        min_steps=5, log_every=5, warmup_steps=2, corpus_path=str(corpus),
    )
    key = design.key()
    assert "corpus_path" not in key and key["corpus"]["bytes"] == corpus.stat().st_size
    copy = tmp_path / "elsewhere.txt"
    copy.write_bytes(corpus.read_bytes())
    assert chinchilla.Design(**{**design.__dict__, "corpus_path": str(copy)}).key() == key, "same text, same results"

    runs = chinchilla.isoflop_runs(design)
    first = chinchilla.train_runs("chinchilla/isoflop", design, runs, "quick")
    corpus.write_text("a different text entirely, edited in place. " * 40)
    assert design.key() != key
    again = chinchilla.train_runs("chinchilla/isoflop", design, runs, "quick")
    assert again.path != first.path, "the edited corpus was trained afresh, not read back"


def test_a_corpus_of_a_few_hundred_kb_gets_budgets_it_can_train_at_the_default_profile(tmp_path):
    """Issue 18, item 6: a valid UTF-8 corpus failed at the default budgets (15 steps < min_steps)."""
    corpus = tmp_path / "corpus.txt"
    corpus.write_bytes(b"Some ordinary English text, repeated to a few hundred kilobytes.\n" * 4600)  # ~300 KB
    design = chinchilla.make_design("quick", corpus_path=str(corpus))
    assert design.budgets[0] == pytest.approx(5e9) and len(design.budgets) == 5 and design.tokens_per_param == 50
    iso, env = chinchilla.isoflop_runs(design), chinchilla.envelope_runs(design)  # no min_steps error
    assert (iso.steps >= design.min_steps).all() and (env.steps >= design.min_steps).all()
    assert "chosen from its size" in chinchilla.budget_note(design, given=False)
    assert chinchilla.budget_note(chinchilla.make_design("quick"), given=False) == ""

    small = tmp_path / "small.txt"
    small.write_text("tiny corpus\n" * 1000)
    with pytest.raises(ValueError, match=r"12,000 bytes is too small for the quick profile's budgets"):
        chinchilla.make_design("quick", corpus_path=str(small))
    capped = chinchilla.corpus_budgets("quick", 150_000)
    assert capped[-1] < chinchilla.CORPUS_BUDGETS["quick"][1] and capped[0] == pytest.approx(5e9)
