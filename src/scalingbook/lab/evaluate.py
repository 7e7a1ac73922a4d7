"""Evaluate a population: greedy decoding and teacher-forced log-probabilities, per example.

The records keep per-token correctness and log-probabilities, so every metric in the book (exact
match as in Zhao et al. 2025; token edit distance and per-token accuracy as in Schaeffer et al. 2023;
the loss-based continuous error of Zhao et al. Fig. 4) can be recomputed without rerunning a model.

Decoding recomputes the prefix each step instead of keeping a KV cache: prompts of one batch have
different lengths and stay right-padded and left-aligned, so every example keeps the absolute
positions it had in training and causal attention makes the padding to its right invisible.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import Tensor

from scalingbook.lab.model import Population
from scalingbook.lab.tasks import DIGIT0, EOS, N_SYMBOLS, PAD, SYMBOL0, Examples, hash64

_MAX_ATTEMPTS = 1000


@torch.no_grad()
def greedy_decode(model: Population, tokens: Tensor, prompt_len: Tensor) -> tuple[Tensor, Tensor]:
    """Continue each prompt greedily for every member until EOS or the end of the buffer.

    ``tokens`` (N, T) holds the prompts left-aligned (anything from ``prompt_len`` on is ignored).
    Returns the filled buffers (M, N, T), PAD after each EOS, and ``end`` (M, N): one past the last
    generated token, so member m's prediction for example i is ``out[m, i, prompt_len[i]:end[m, i]]``.
    """
    m, (n, t) = model.members, tokens.shape
    keep = torch.arange(t, device=tokens.device) < prompt_len[:, None]
    buf = torch.where(keep, tokens, PAD).expand(m, n, t).clone()
    pos = prompt_len.expand(m, n).clone()
    done = pos >= t
    while not bool(done.all()):
        width = int(pos.max())
        h = model.features(buf[:, :, :width])
        last = (pos - 1).clamp(max=width - 1)
        h = h.gather(2, last[..., None, None].expand(m, n, 1, h.shape[-1])).squeeze(2)
        slot = pos.clamp(max=t - 1)[..., None]  # finished rows rewrite what their slot holds
        nxt = torch.where(done, buf.gather(2, slot).squeeze(2), model.logits(h).argmax(-1).to(buf.dtype))
        buf.scatter_(2, slot, nxt[..., None])
        pos = pos + (~done).long()
        done = done | (nxt == EOS) | (pos >= t)
    return buf, pos


@torch.no_grad()
def teacher_forced(model: Population, tokens: Tensor) -> tuple[Tensor, Tensor]:
    """Teacher-forced log p(tokens[:, t] | tokens[:, :t]) for every member, fp32, and whether that
    token is the model's most likely one (its argmax): (M, N, T - 1) each.

    The argmax hits are the per-token accuracy Schaeffer et al. (2023, Sec. 2) call p(single token
    correct): each token judged given the right prefix, so one early slip does not mark the rest
    wrong as a positional match on a free-running output would. Greedy decoding is exactly right
    iff every answer token is a hit, so exact match is their product.
    """
    m = model.members
    logits = model(tokens[:, :-1].expand(m, *tokens[:, :-1].shape)).float()
    targets = tokens[:, 1:].long().expand(m, -1, -1)
    logp = -F.cross_entropy(logits.flatten(0, 2), targets.flatten(), reduction="none").view(targets.shape)
    return logp, logits.argmax(-1) == targets


def target_logprobs(model: Population, tokens: Tensor) -> Tensor:
    """Teacher-forced log p(tokens[:, t] | tokens[:, :t]) for every member: (M, N, T - 1), fp32."""
    return teacher_forced(model, tokens)[0]


def _ragged(values: np.ndarray, mask: np.ndarray) -> list[np.ndarray]:
    """Rows of ``values`` (R, T) restricted to ``mask`` (R, T), as a list of 1-D arrays."""
    return np.split(values[mask], np.cumsum(mask.sum(axis=1))[:-1])


def _keys(examples: Examples, ids: np.ndarray, seeds: tuple[int, ...], m: int) -> dict[str, np.ndarray]:
    """Columns naming each (member, example) row, member-major; ``component`` only for mixtures."""
    member = np.repeat(np.arange(m), len(ids))
    keys: dict[str, np.ndarray] = {
        "member": member.astype(np.int16),
        "seed": np.array(seeds, dtype=np.int64)[member],
        "example": np.tile(ids, m).astype(np.int32),
    }
    if examples.component is not None:
        keys["component"] = np.tile(examples.component, m).astype(np.int8)
    return keys


def _records(
    examples: Examples,
    ids: np.ndarray,
    seeds: tuple[int, ...],
    out: np.ndarray,
    end: np.ndarray,
    logp: np.ndarray,
    hits: np.ndarray,
) -> pd.DataFrame:
    """Per (member, example) records for one chunk; arrays are (M, n, T) or (M, n)."""
    m, n, t = out.shape
    answer = np.broadcast_to(examples.answer, (m, n, t)).reshape(m * n, t)
    tokens = np.broadcast_to(examples.tokens, (m, n, t)).reshape(m * n, t)
    out = out.reshape(m * n, t)
    cols = np.arange(t)
    prompt_len = np.tile(examples.prompt_len, m)
    predicted = (cols >= prompt_len[:, None]) & (cols < end.reshape(-1, 1))
    correct = (out == tokens) & answer
    logp = np.concatenate([np.zeros((m, n, 1), np.float32), logp], axis=2).reshape(m * n, t)
    hits = np.concatenate([np.zeros((m, n, 1), bool), hits], axis=2).reshape(m * n, t)
    target_len = answer.sum(axis=1)
    n_correct = correct.sum(axis=1)
    return pd.DataFrame(
        {
            **_keys(examples, ids, seeds, m),
            "length": np.tile(examples.length, m).astype(np.int16),
            "target_len": target_len.astype(np.int16),
            "pred_len": predicted.sum(axis=1).astype(np.int16),
            "exact_match": n_correct == target_len,
            "n_correct_tokens": n_correct.astype(np.int16),
            "sum_logprob": (logp * answer).sum(axis=1).astype(np.float32),
            "prediction": _ragged(out, predicted),
            "target": _ragged(tokens, answer),
            "correct": _ragged(correct, answer),
            "logprob": _ragged(logp.astype(np.float32), answer),
            "tf_correct": _ragged(hits, answer),
        }
    )


def evaluate(model: Population, examples: Examples, batch_size: int = 256) -> pd.DataFrame:
    """Score every member on every example: one row per (member, example).

    Columns: member, seed, example, (component, for a mixture's examples), length, target_len,
    pred_len, exact_match, n_correct_tokens, sum_logprob, and per-token arrays prediction, target
    (uint8 ids, EOS included), correct (free-running greedy prediction equals the target at that
    answer position), logprob (teacher-forced log-probability of each target token) and tf_correct
    (that token is the teacher-forced argmax, :func:`teacher_forced`). A prediction is an exact match iff every answer position
    is correct, EOS included. ``batch_size`` examples are scored at a time for all members at once:
    memory grows as members x batch_size x T x vocab.
    """
    device = next(model.parameters()).device
    parts = []
    for lo in range(0, len(examples), batch_size):
        chunk = examples[lo : lo + batch_size]
        tokens = torch.from_numpy(chunk.tokens).to(device)
        out, end = greedy_decode(model, tokens, torch.from_numpy(chunk.prompt_len).to(device))
        logp, hits = teacher_forced(model, tokens)
        ids = np.arange(lo, lo + len(chunk))
        arrays = (x.cpu().numpy() for x in (out, end, logp, hits))
        parts.append(_records(chunk, ids, model.seeds, *arrays))
    table = pd.concat(parts, ignore_index=True)
    return table.sort_values(["member", "example"], kind="stable", ignore_index=True)


def choice_options(examples: Examples, k: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A multiple-choice variant of free-form examples: ``k`` candidate answers each, one correct.

    Returns the candidates as whole sequences (n, k, T), the prompt unchanged and the answer span
    rewritten, and the index of the correct one (n,), placed at random. A distractor is the target
    with one token replaced by another of its kind (a digit by a digit, the leading digit of a
    longer number never by 0; a symbol by a symbol), so every candidate has the target's length and
    a plausible form, like the numeric distractors of BIG-bench's multiple-choice arithmetic. The
    distractors of one example are distinct. Everything is drawn from hashes of ``seed`` and the
    example's position, so the same examples always get the same options. Schaeffer et al. 2023
    (Sec. 4, Fig. 6) score such options by multiple-choice grade and by the Brier score.
    """
    if k < 2:
        raise ValueError(f"k (options per example) must be >= 2, got {k}")
    n = len(examples)
    options = np.repeat(examples.tokens[:, None, :], k, axis=1)
    correct = (hash64(seed, np.arange(n), 0) % np.uint64(k)).astype(np.int64)
    for i in range(n):
        span = np.flatnonzero(examples.answer[i])
        tokens = examples.tokens[i].astype(np.int64)
        is_digit = (tokens[span] >= DIGIT0) & (tokens[span] < DIGIT0 + 10)
        slots = span[is_digit | (tokens[span] >= SYMBOL0)]
        if slots.size == 0:
            raise ValueError(f"example {i} has no digit or symbol in its answer to replace")
        leading = slots[0] if is_digit.sum() > 1 else -1
        seen = {tuple(tokens[span])}
        attempt = 0
        for j in (j for j in range(k) if j != correct[i]):
            while True:
                attempt += 1
                if attempt > _MAX_ATTEMPTS:
                    raise ValueError(f"example {i}: could not find {k - 1} distinct distractors")
                pick, shift = (int(h) for h in hash64(seed, i, attempt, np.arange(2)))
                pos = slots[pick % slots.size]
                base, size = (DIGIT0, 10) if tokens[pos] < DIGIT0 + 10 else (SYMBOL0, N_SYMBOLS)
                candidate = tokens.copy()
                candidate[pos] = base + (tokens[pos] - base + 1 + shift % (size - 1)) % size
                if (pos == leading and candidate[pos] == DIGIT0) or tuple(candidate[span]) in seen:
                    continue
                seen.add(tuple(candidate[span]))
                options[i, j] = candidate
                break
    return options, correct


def option_logprobs(
    model: Population, examples: Examples, options: np.ndarray, correct: np.ndarray, batch_size: int = 256
) -> pd.DataFrame:
    """Teacher-forced log-likelihood of every candidate answer, per (member, example).

    ``options`` and ``correct`` come from :func:`choice_options`; an option's log-likelihood is the
    sum over its answer span (EOS included) of log p(token | everything before it). Columns: member,
    seed, example, (component), length, correct (index of the right option) and option_logprob (k
    float32 values). ``metrics.multiple_choice_grade(list(t.option_logprob), t.correct)`` and
    ``metrics.brier_score(metrics.option_probabilities(list(t.option_logprob)), t.correct)`` score
    them.
    """
    device = next(model.parameters()).device
    n, k, t = options.shape
    parts = []
    for lo in range(0, n, batch_size):
        chunk = examples[lo : lo + batch_size]
        tokens = torch.from_numpy(np.ascontiguousarray(options[lo : lo + batch_size]).reshape(-1, t)).to(device)
        logp = target_logprobs(model, tokens).cpu().numpy()  # (M, b * k, T - 1)
        mask = np.repeat(chunk.answer[:, 1:], k, axis=0)
        sums = (logp * mask).sum(axis=2).reshape(model.members, len(chunk), k).astype(np.float32)
        parts.append(
            pd.DataFrame(
                {
                    **_keys(chunk, np.arange(lo, lo + len(chunk)), model.seeds, model.members),
                    "length": np.tile(chunk.length, model.members).astype(np.int16),
                    "correct": np.tile(correct[lo : lo + batch_size], model.members).astype(np.int8),
                    "option_logprob": list(sums.reshape(-1, k)),
                }
            )
        )
    table = pd.concat(parts, ignore_index=True)
    return table.sort_values(["member", "example"], kind="stable", ignore_index=True)
