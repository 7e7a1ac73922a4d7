"""The population trainer: schedule, independence, divergence, horizons, resume, and learning."""

from __future__ import annotations

import dataclasses
import time

import numpy as np
import pandas as pd
import pytest
import torch

from scalingbook.lab.evaluate import evaluate
from scalingbook.lab.model import ModelConfig, Population
from scalingbook.lab.tasks import Count, sample
from scalingbook.lab.train import (
    Member,
    TrainConfig,
    TrainState,
    load_checkpoint,
    lr_schedule,
    save_checkpoint,
    train,
)

TASK = Count(6, 6, n_values=20)
MODEL = ModelConfig(d_model=16, n_layers=2, n_heads=2, seq_len=12)
CFG = TrainConfig(steps=12, batch_size=8, warmup_steps=3, log_every=1, checkpoint_every=4, progress=False)


def weights(result, member: int) -> dict[str, torch.Tensor]:
    return {name: p[member].detach() for name, p in result.model.named_parameters()}


def assert_same_member(a, i: int, b, j: int, atol: float = 1e-6) -> None:
    np.testing.assert_allclose(a.history[:, i], b.history[:, j], atol=atol, rtol=0)
    wa, wb = weights(a, i), weights(b, j)
    for name in wa:
        torch.testing.assert_close(wa[name], wb[name], atol=atol, rtol=0, msg=name)


def test_schedule_warms_up_then_decays_to_a_tenth():
    peak, horizon = torch.tensor([1.0, 2.0]), torch.tensor([10, 20])
    assert lr_schedule(0, peak, horizon, 4, 0.1).tolist() == pytest.approx([0.25, 0.5])
    assert lr_schedule(3, peak, horizon, 4, 0.1).tolist() == pytest.approx([1.0, 2.0])
    assert lr_schedule(7, peak, horizon, 4, 0.1)[0].item() == pytest.approx(0.55)  # half-way
    assert lr_schedule(10, peak, horizon, 4, 0.1)[0].item() == pytest.approx(0.1)
    assert lr_schedule(50, peak, horizon, 4, 0.1).tolist() == pytest.approx([0.1, 0.2])


def test_member_trains_the_same_alone_or_among_eight():
    among = train(MODEL, [Member(s, lr=3e-3) for s in range(8)], TASK, CFG)
    alone = train(MODEL, [Member(7, lr=3e-3)], TASK, CFG)
    assert_same_member(alone, 0, among, 7)
    assert not np.allclose(among.history[:, 0], among.history[:, 7])


def test_diverged_member_is_frozen_and_recorded_others_unchanged():
    healthy = [Member(0, lr=3e-3), Member(2, lr=1e-3)]
    with_bad = train(MODEL, [healthy[0], Member(1, lr=1e30), healthy[1]], TASK, CFG)
    without = train(MODEL, healthy, TASK, CFG)
    summary = with_bad.summary()
    assert summary["diverged"].tolist() == [False, True, False]
    assert with_bad.diverged_at[1] >= 1
    for p in with_bad.model.parameters():
        assert torch.isfinite(p[1]).all()  # frozen at its last finite weights
    assert_same_member(with_bad, 0, without, 0)
    assert_same_member(with_bad, 2, without, 1)


def test_members_past_their_horizon_stop_updating():
    mixed = train(MODEL, [Member(3, steps=6), Member(4)], TASK, CFG)
    short = train(MODEL, [Member(3)], TASK, dataclasses.replace(CFG, steps=6))
    for name, p in weights(mixed, 0).items():
        torch.testing.assert_close(p, weights(short, 0)[name], atol=1e-6, rtol=0)
    losses = mixed.losses()
    assert losses.groupby("member")["step"].max().tolist() == [6, 12]
    assert losses["loss"].dtype == np.float32


class KilledAt:
    """A task that dies on its n-th batch, as a run killed mid-training would."""

    def __init__(self, task: Count, n: int) -> None:
        self.task, self.left = task, n

    def generate(self, keys, split, seq_len=None):
        self.left -= 1
        if self.left < 0:
            raise KeyboardInterrupt("killed")
        return self.task.generate(keys, split, seq_len)

    def __repr__(self) -> str:
        return repr(self.task)


def test_killed_run_resumes_to_the_identical_result(tmp_path):
    members = [Member(0, lr=3e-3), Member(5, lr=1e-3, steps=9)]
    whole = train(MODEL, members, TASK, CFG, checkpoint=tmp_path / "whole.pt")
    with pytest.raises(KeyboardInterrupt):
        train(MODEL, members, KilledAt(TASK, 7), CFG, checkpoint=tmp_path / "run.pt")
    assert torch.load(tmp_path / "run.pt", weights_only=True)["step"] == 4  # the last checkpoint
    resumed = train(MODEL, members, TASK, CFG, checkpoint=tmp_path / "run.pt")
    np.testing.assert_array_equal(whole.history, resumed.history)
    for (name, a), b in zip(whole.model.named_parameters(), resumed.model.parameters()):
        assert torch.equal(a, b), name


@pytest.mark.parametrize("damage", ["truncated", "garbage", "empty", "foreign"])
def test_a_damaged_or_foreign_checkpoint_is_moved_aside_and_training_starts_afresh(tmp_path, damage):
    """Issue 18: a half-written checkpoint stopped every later run with `OSError: [Errno 22]`."""
    members = [Member(0, lr=3e-3)]
    path = tmp_path / "run.pt"
    if damage == "foreign":
        train(MODEL, [Member(7)], TASK, CFG, checkpoint=path)
    else:
        train(MODEL, members, TASK, CFG, checkpoint=path)
        data = path.read_bytes()
        path.write_bytes({"truncated": data[: len(data) // 2], "garbage": b"\0" * 100, "empty": b""}[damage])
    with pytest.warns(
        UserWarning, match=rf"checkpoint {path} .*; moved to run\.pt\.bad-\S+, training starts from scratch"
    ):
        again = train(MODEL, members, TASK, CFG, checkpoint=path)
    np.testing.assert_array_equal(again.history, train(MODEL, members, TASK, CFG).history)
    assert len(list(tmp_path.glob("run.pt.bad-*"))) == 1


def test_a_checkpoint_of_another_layout_leaves_the_state_untouched(tmp_path):
    other = TrainState.fresh(Population(dataclasses.replace(MODEL, n_layers=1), [3]))
    save_checkpoint(tmp_path / "run.pt", other, {"same": "identity"})
    state = TrainState.fresh(Population(MODEL, [0]))
    before = {name: t.clone() for name, t in state.model.state_dict().items()}
    with pytest.warns(UserWarning, match="does not fit this model"):
        assert load_checkpoint(tmp_path / "run.pt", state, {"same": "identity"}) is False
    for name, tensor in state.model.state_dict().items():
        assert torch.equal(tensor, before[name]), name


def test_it_learns_count_in_distribution():
    """Issue 3, item 8: a small population learns count at its train length on CPU, fast."""
    task = Count(8, 8, n_values=30)
    model = ModelConfig(d_model=64, n_layers=2, n_heads=4, seq_len=16)
    cfg = TrainConfig(steps=250, batch_size=32, warmup_steps=25, log_every=25, progress=False)
    start = time.perf_counter()
    result = train(model, [Member(s, lr=3e-3) for s in range(4)], task, cfg)
    tests = [sample(dataclasses.replace(task, test_length=n), 32, "test", 99) for n in range(1, 9)]
    records = pd.concat([evaluate(result.model, ex) for ex in tests])
    accuracy = records.groupby("member")["exact_match"].mean()
    print(f"trained and evaluated in {time.perf_counter() - start:.1f}s; exact match {accuracy.tolist()}")
    assert (accuracy > 0.9).mean() >= 0.75
    assert not result.summary()["diverged"].any()


def test_divergence_is_read_from_the_loss_history_without_changing_training():
    """Issue 18, item 8: only non-finite losses counted; a member at lr 10 that blew up was healthy."""
    from scalingbook.lab.train import diverged_from_losses

    cfg = TrainConfig(steps=60, batch_size=16, warmup_steps=10, log_every=10, progress=False)
    members = [Member(0, lr=3e-3), Member(1, lr=10.0), Member(2, lr=1e-2)]
    result = train(MODEL, members, TASK, cfg)
    assert not result.summary()["diverged"].any(), "the trainer's own (non-finite) check misses it"
    flags = diverged_from_losses(result.losses(), vocab_size=MODEL.vocab_size)
    assert flags.tolist() == [False, True, False]
    alone = train(MODEL, [members[0], members[2]], TASK, cfg)
    assert_same_member(result, 0, alone, 0)  # flagging is analysis only: training is what it was

    def curve(member, losses):
        return pd.DataFrame({"member": member, "step": np.arange(1, len(losses) + 1) * 10, "loss": losses})

    synthetic = pd.concat(
        [
            curve(0, [3.6, 3.0, 2.9]),  # healthy
            curve(1, [3.6, 6.0, 8.2]),  # the member: ends at 8.2
            curve(2, [3.6, 3.6, 3.5]),  # never learns: a failed seed, not a divergence
            curve(3, [3.6, 5.0, 2.8]),  # a spike below 1.5x the early loss, recovered
            curve(4, [3.6, np.nan, np.nan]),  # non-finite
            curve(5, [40.0, 9.0, 3.0]),  # blew up in its first interval, judged against log V
        ]
    )
    assert diverged_from_losses(synthetic, vocab_size=32).tolist() == [False, True, False, False, True, True]
