"""Evaluation: batched greedy decoding equals a naive decode; records are consistent."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from scalingbook.lab.evaluate import evaluate, greedy_decode, target_logprobs
from scalingbook.lab.model import ModelConfig, Population
from scalingbook.lab.tasks import EOS, IndexHintAddition, sample

TASK = IndexHintAddition(3, 4)  # prompts of different lengths in one batch
# a large init makes the random model's argmax decisive, so float noise cannot flip a token
MODEL = ModelConfig(d_model=32, n_layers=2, n_heads=4, positional="rotary", init_std=0.5)


def naive_decode(model: Population, member: int, prompt: list[int], limit: int) -> list[int]:
    """One token at a time on the unpadded sequence, reading one member's logits."""
    seq = list(prompt)
    while len(seq) < limit:
        tokens = torch.tensor(seq).expand(model.members, 1, len(seq))
        seq.append(int(model(tokens)[member, 0, -1].argmax()))
        if seq[-1] == EOS:
            break
    return seq[len(prompt) :]


@pytest.fixture(scope="module")
def setup():
    model = Population(MODEL, [3, 4, 5])
    with torch.no_grad():  # bias the model towards EOS so that some predictions stop early
        model.wte[:, EOS] *= 3
    ex = sample(TASK, 12, "train", 0)
    return model, ex, evaluate(model, ex, batch_size=5)


def test_greedy_decoding_matches_naive_decoding(setup):
    model, ex, records = setup
    assert len(set(ex.prompt_len.tolist())) > 1
    out, end = greedy_decode(model, torch.from_numpy(ex.tokens), torch.from_numpy(ex.prompt_len))
    stopped_early = 0
    for member in range(model.members):
        for i, (tokens, n_prompt) in enumerate(zip(ex.tokens, ex.prompt_len)):
            expected = naive_decode(model, member, tokens[:n_prompt].tolist(), ex.tokens.shape[1])
            assert out[member, i, n_prompt : end[member, i]].tolist() == expected
            row = records[(records.member == member) & (records.example == i)].iloc[0]
            assert row.prediction.tolist() == expected
            stopped_early += expected[-1] == EOS
    assert 0 < stopped_early < 36  # rows finish at different times


def test_teacher_forced_logprobs(setup):
    model, ex, records = setup
    logp = target_logprobs(model, torch.from_numpy(ex.tokens))
    i = 4
    n_prompt, n_target = ex.prompt_len[i], ex.target_len[i]
    tokens = torch.from_numpy(ex.tokens[i : i + 1]).long().expand(3, 1, -1)
    manual = torch.log_softmax(model(tokens)[2, 0], dim=-1)
    targets = tokens[2, 0, n_prompt : n_prompt + n_target]
    expected = manual[n_prompt - 1 : n_prompt + n_target - 1].gather(1, targets[:, None]).squeeze(1)
    torch.testing.assert_close(logp[2, 0 + i, n_prompt - 1 : n_prompt + n_target - 1], expected)
    row = records[(records.member == 2) & (records.example == i)].iloc[0]
    np.testing.assert_allclose(row.logprob, expected.detach().numpy(), rtol=1e-5, atol=1e-6)
    assert row.sum_logprob == pytest.approx(row.logprob.sum(), rel=1e-5)


def test_records_are_consistent_and_compact(setup, tmp_path):
    model, ex, records = setup
    assert len(records) == 3 * 12
    assert records[["member", "example"]].drop_duplicates().shape[0] == 36
    targets = ex.targets()
    for row in records.itertuples():
        assert row.target.tolist() == targets[row.example].tolist()
        assert row.n_correct_tokens == row.correct.sum() and row.target_len == len(row.target)
        assert row.exact_match == (row.prediction.tolist() == row.target.tolist())
        n = min(len(row.prediction), len(row.target))
        assert (row.correct[:n] == (row.prediction[:n] == row.target[:n])).all()
    assert records["member"].dtype == np.int16 and records["sum_logprob"].dtype == np.float32
    records.to_parquet(tmp_path / "r.parquet")
    back = pd.read_parquet(tmp_path / "r.parquet")
    assert back["correct"].map(len).tolist() == records["target_len"].tolist()


def test_teacher_forced_hits_are_argmax_and_make_exact_match(setup):
    _, _, records = setup
    for row in records.itertuples():
        assert len(row.tf_correct) == row.target_len
        assert row.tf_correct[np.exp(row.logprob) > 0.5].all()  # a token above one half is the argmax
        assert row.exact_match == row.tf_correct.all()  # greedy follows the right prefix while it hits
