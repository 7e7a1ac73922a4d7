"""Task generators: correct answers, requested lengths, train/test disjointness, determinism."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from scalingbook.lab.tasks import (
    EOS,
    VOCAB_SIZE,
    Count,
    Examples,
    FewShotArithmetic,
    IndexHintAddition,
    Mixture,
    WordUnscramble,
    decode,
    encode,
    example_keys,
    sample,
    sample_distinct,
    train_batch,
)

SETTINGS = settings(max_examples=100, deadline=None)
PINNED_DIGESTS = {  # computed with tasks.py at 12a6aa1, before test ranges existed
    "count-test": "ec6e33c2a3946125",
    "count-train": "e74e241bf1f5f722",
    "addition-test": "fde9ed49876e2de1",
    "unscramble-test": "d08c205403aa49d4",
}
seeds = st.integers(0, 2**32 - 1)
splits = st.sampled_from(["train", "test"])


@st.composite
def counts(draw: st.DrawFn) -> Count:
    train, test = draw(st.integers(1, 30)), draw(st.integers(1, 40))
    test_max = draw(st.one_of(st.none(), st.integers(test, test + 3)))
    longest = test if test_max is None else test_max
    # an in-distribution test needs at least 1/holdout starts to hold some out
    room = longest + 9 if test <= train else longest
    return Count(train, test, test_max_length=test_max, n_values=draw(st.integers(max(train, room, 20), 100)))


@st.composite
def additions(draw: st.DrawFn) -> IndexHintAddition:
    test = draw(st.integers(1, 15))
    return IndexHintAddition(
        draw(st.integers(1, 12)), test, test_max_length=draw(st.one_of(st.none(), st.just(test + 2)))
    )


@st.composite
def arithmetic(draw: st.DrawFn) -> FewShotArithmetic:
    test = draw(st.integers(1, 5))
    return FewShotArithmetic(
        draw(st.integers(1, 4)),
        test,
        op=draw(st.sampled_from(["+", "-", "*"])),
        shots=draw(st.integers(0, 3)),
        test_max_length=draw(st.one_of(st.none(), st.just(test + 1))),
    )


tasks = st.one_of(counts(), additions(), arithmetic())


def split_example(tokens: np.ndarray, answer: np.ndarray) -> tuple[list[str], list[str]]:
    """Prompt and answer token names of one example, checking the layout on the way."""
    names = decode(tokens).split()
    n_answer = int(answer.sum())
    start = int(answer.argmax())
    assert answer[start : start + n_answer].all(), "answer span is contiguous"
    assert names[0] == "BOS" and names[-1] == "EOS" and len(names) == start + n_answer
    return names[:start], names[start:-1]


def parse_count(prompt: list[str], ans: list[str]) -> int:
    assert prompt[-1] == ">" and len(prompt) == 4
    lo, hi = int(prompt[1][1:]), int(prompt[2][1:])
    assert [int(a[1:]) for a in ans] == list(range(lo, hi + 1))
    return hi - lo + 1


def parse_hinted(names: list[str]) -> tuple[list[int], list[int]]:
    assert len(names) % 2 == 0
    return [int(h[1:]) for h in names[::2]], [int(d) for d in names[1::2]]


def parse_addition(prompt: list[str], ans: list[str]) -> int:
    plus = prompt.index("+")
    (ha, da), (hb, db) = parse_hinted(prompt[1:plus]), parse_hinted(prompt[plus + 1 : -1])
    hs, ds = parse_hinted(ans)
    base = hs[0]  # the hint of the units digit, shared by both operands and the sum
    for hints in (ha, hb):
        assert hints == list(range(base + len(hints) - 1, base - 1, -1))
    assert hs == list(range(base, base + len(hs)))
    a, b = int("".join(map(str, da))), int("".join(map(str, db)))
    assert int("".join(map(str, ds[::-1]))) == a + b
    assert len(da) == len(str(a)) and len(db) == len(str(b)), "no leading zeros"
    return max(len(da), len(db))


def parse_arithmetic(task: FewShotArithmetic, prompt: list[str], ans: list[str]) -> int:
    text = " ".join(prompt[1:] + ans).replace(" ", "")
    problems = text.split(";")
    assert len(problems) == task.shots + 1
    lengths = set()
    for problem in problems:
        lhs, rhs = problem.split("=")
        a, b = lhs.split(task.op, 1)
        lengths |= {len(a), len(b)}
        value = {"+": int(a) + int(b), "-": int(a) - int(b), "*": int(a) * int(b)}[task.op]
        assert rhs == str(value)
    assert len(lengths) == 1, "all operands of one example have the same number of digits"
    return lengths.pop()


def check(task, ex: Examples) -> list[int]:
    lengths = []
    for tokens, answer in zip(ex.tokens, ex.answer):
        prompt, ans = split_example(tokens, answer)
        if isinstance(task, Count):
            lengths.append(parse_count(prompt, ans))
        elif isinstance(task, IndexHintAddition):
            lengths.append(parse_addition(prompt, ans))
        else:
            lengths.append(parse_arithmetic(task, prompt, ans))
    assert lengths == ex.length.tolist()
    return lengths


@SETTINGS
@given(tasks, seeds, splits)
def test_answers_are_correct_and_lengths_as_asked(task, seed, split):
    ex = sample(task, 64, split, seed)
    lengths = check(task, ex)
    assert ex.tokens.shape == (64, task.seq_len(split)) and ex.tokens.dtype == np.uint8
    assert ex.tokens.max() < VOCAB_SIZE
    if split == "test":
        assert set(lengths) <= set(task.test_lengths)
        if task.test_max_length is None:
            assert set(lengths) == {task.test_length}
    else:
        assert all(task.min_length <= n <= task.train_length for n in lengths)


@SETTINGS
@given(tasks, seeds, seeds)
def test_no_test_query_occurs_in_training(task, train_seed, test_seed):
    train = sample(task, 400, "train", train_seed)
    test = sample(task, 100, "test", test_seed)
    seen = {tuple(row) for row in train.tokens}
    assert not seen & {tuple(row) for row in test.tokens}
    if isinstance(task, FewShotArithmetic):  # not even as a solved shot

        def problems(ex: Examples) -> list[str]:
            return [p.split("=")[0] for r in ex.tokens for p in decode(r)[4:].replace(" ", "").split(";")]

        queries = {decode(r)[4:].replace(" ", "").split(";")[-1].split("=")[0] for r in test.tokens}
        assert not queries & set(problems(train))


def test_holdout_covers_in_distribution_lengths_exhaustively():
    """With a tiny value range, training sees every non-held-out problem and never a held-out one."""
    train = {tuple(r) for r in sample(Count(6, 6, n_values=20), 20_000, "train", 0).tokens}
    n_test = 0
    for length in range(1, 7):
        test = {tuple(r) for r in sample(Count(6, length, n_values=20), 500, "test", 1).tokens}
        assert test and not test & train
        n_test += len(test)
    assert len(train) + n_test == sum(20 - n + 1 for n in range(1, 7))  # every problem, one side


@SETTINGS
@given(tasks, seeds, splits)
def test_deterministic_from_params_and_seed(task, seed, split):
    a, b = sample(task, 32, split, seed), sample(task, 32, split, seed)
    np.testing.assert_array_equal(a.tokens, b.tokens)
    np.testing.assert_array_equal(a.answer, b.answer)
    tail = sample(task, 16, split, seed, start=16)
    np.testing.assert_array_equal(a.tokens[16:], tail.tokens)


def test_member_stream_does_not_depend_on_population():
    task = IndexHintAddition(5, 8)
    alone = train_batch(task, np.array([7]), step=3, batch_size=16)
    among = train_batch(task, np.array([1, 7, 9]), step=3, batch_size=16)
    np.testing.assert_array_equal(alone.tokens, among.tokens[16:32])
    other_step = train_batch(task, np.array([7]), step=4, batch_size=16)
    assert not np.array_equal(alone.tokens, other_step.tokens)


def test_examples_of_the_docstrings():
    assert decode(encode("BOS #3 #7 > #3 #4 #5 #6 #7 EOS")) == "BOS #3 #7 > #3 #4 #5 #6 #7 EOS"
    ex = sample(Count(4, 4), 4, "train", 0)
    assert all(t[-1] == EOS for t in ex.targets())
    assert (ex.prompt_len == 4).all()


def test_a_distinct_test_set_is_the_stream_read_until_enough_distinct_problems():
    """Count at test length 12 over 100 integers has 89 problems: 200 draws repeat them (79 distinct
    at eval seed 1234, the full profile's old test), so a distinct test set spans lengths 11-13."""
    assert len(np.unique(sample(Count(10, 12), 200, "test", 1234).tokens, axis=0)) == 79
    task = Count(10, 11, test_max_length=13)
    distinct = sample_distinct(task, 200, 1234)
    assert len(np.unique(distinct.tokens, axis=0)) == 200 and set(distinct.length.tolist()) == {11, 12, 13}
    stream = sample(task, 2000, "test", 1234)
    _, first = np.unique(stream.tokens, axis=0, return_index=True)
    np.testing.assert_array_equal(distinct.tokens, stream.tokens[np.sort(first)[:200]])
    np.testing.assert_array_equal(sample_distinct(task, 50, 1234).tokens, distinct.tokens[:50])  # prefix-stable
    check(task, distinct)
    with pytest.raises(ValueError, match="89 distinct test problems.*fewer than the 200 asked for.*test_max_length"):
        sample_distinct(Count(10, 12), 200, 1234)


def test_single_length_examples_are_those_the_stored_runs_were_scored_on():
    """Pinned before test ranges existed (SHA-256 of the tokens at 12a6aa1): a stored run's test set
    and training stream must not move."""
    digests = {
        "count-test": sample(Count(10, 12), 200, "test", 1234).tokens,
        "count-train": train_batch(Count(10, 12), np.arange(3), 7, 32).tokens,
        "addition-test": sample(IndexHintAddition(3, 4), 64, "test", 1234).tokens,
        "unscramble-test": sample(WordUnscramble(3, 4, shots=1, min_length=3), 64, "test", 5).tokens,
    }
    assert {k: hashlib.sha256(v.tobytes()).hexdigest()[:16] for k, v in digests.items()} == PINNED_DIGESTS


def test_chance_over_several_test_lengths_is_the_mean_of_each():
    assert WordUnscramble(3, 3, test_max_length=4).chance_exact_match() == pytest.approx((1 / 6 + 1 / 24) / 2)
    two = FewShotArithmetic(2, 1, test_max_length=2).chance_exact_match()
    assert two == pytest.approx((FewShotArithmetic(2, 1).chance_exact_match() + 1 / 179) / 2)


def test_invalid_parameters_are_named():
    with pytest.raises(ValueError, match="train_length"):
        Count(0, 5)
    with pytest.raises(ValueError, match=r"test_max_length must be in \[test_length = 8, 100\], got 7"):
        Count(5, 8, test_max_length=7)
    with pytest.raises(ValueError, match="n_values"):
        Count(5, 30, n_values=20)
    with pytest.raises(ValueError, match="op"):
        FewShotArithmetic(2, 2, op="/")
    with pytest.raises(ValueError, match="split"):
        sample(Count(3, 3), 2, "valid", 0)


# ----------------------------------------------------------------------------- language modelling


def test_language_modelling_is_keyed_deterministic_and_all_loss_positions(tmp_path):
    from scalingbook.lab.languages import CorpusSource, MarkovSource
    from scalingbook.lab.tasks import LanguageModelling

    task = LanguageModelling(MarkovSource(vocab_size=8, order=1, seed=3), context=16)
    batch = train_batch(task, np.array([0, 1]), step=2, batch_size=5)
    assert batch.tokens.shape == (10, 17) and batch.answer.all()
    assert batch.tokens.max() < 8
    alone = train_batch(task, np.array([1]), step=2, batch_size=5)
    np.testing.assert_array_equal(alone.tokens, batch.tokens[5:], err_msg="a member's data ignores the others")
    assert not np.array_equal(batch.tokens[:5], batch.tokens[5:])
    assert not np.array_equal(sample(task, 5, "test", 1).tokens, sample(task, 5, "train", 1).tokens)

    corpus = tmp_path / "text.txt"
    corpus.write_text("the quick brown fox jumps over the lazy dog. " * 20)
    text = LanguageModelling(CorpusSource(corpus), context=10)
    ex = sample(text, 4, "train", 0)
    raw = corpus.read_bytes()
    assert all(bytes(row.tolist()) in raw for row in ex.tokens)


def test_language_modelling_follows_the_markov_transitions():
    from scalingbook.lab.languages import MarkovSource
    from scalingbook.lab.tasks import LanguageModelling

    source = MarkovSource(vocab_size=4, order=1, concentration=1.0, seed=0)
    tokens = sample(LanguageModelling(source, context=50), 2000, "train", 0).tokens.astype(int)
    counts = np.zeros((4, 4))
    np.add.at(counts, (tokens[:, :-1].ravel(), tokens[:, 1:].ravel()), 1)
    np.testing.assert_allclose(counts / counts.sum(1, keepdims=True), source.transitions, atol=0.02)
    np.testing.assert_allclose(np.bincount(tokens[:, 0], minlength=4) / 2000, source.stationary, atol=0.04)


# ----------------------------------------------------------------------------- emergence tasks


@st.composite
def unscrambles(draw: st.DrawFn) -> WordUnscramble:
    # at least 3 letters and 20 words, so every length has problems to hold out (6 orders x 20 words)
    test = draw(st.integers(3, 7))
    return WordUnscramble(
        draw(st.integers(3, 6)),
        test,
        shots=draw(st.integers(0, 2)),
        n_words=draw(st.integers(20, 60)),
        lexicon_seed=draw(st.integers(0, 9)),
        min_length=3,
        test_max_length=draw(st.one_of(st.none(), st.just(test + 1))),
    )


def check_unscramble(task: WordUnscramble, ex: Examples) -> None:
    """Every problem's answer is a lexicon word of its length and the prompt holds its letters."""
    for tokens, answer, length in zip(ex.tokens, ex.answer, ex.length):
        prompt, ans = split_example(tokens, answer)
        for problem in " ".join(prompt[1:] + ans).split(" ; "):
            scrambled, word = (side.split() for side in problem.split(" = "))
            assert len(word) == len(scrambled) == length and sorted(scrambled) == sorted(word)
            letters = [int(w[1:]) for w in word]
            lexicon = task.letters(np.full(task.n_words, length), np.arange(task.n_words))[:, :length]
            assert any((row == letters).all() for row in lexicon)


@SETTINGS
@given(unscrambles(), seeds, splits)
def test_unscramble_answers_are_lexicon_words_and_test_pairs_never_train(task, seed, split):
    ex = sample(task, 48, split, seed)
    check_unscramble(task, ex)
    assert ex.tokens.shape == (48, task.seq_len(split))
    train = {tuple(r) for r in sample(task, 300, "train", seed).tokens}
    test = sample(task, 48, "test", seed + 1)
    assert not train & {tuple(r) for r in test.tokens}
    queries = {decode(r).split(" ; ")[-1] for r in test.tokens}
    shots = {p.replace("BOS ", "") for r in sample(task, 300, "train", seed).tokens for p in decode(r).split(" ; ")}
    assert not {q.replace("BOS ", "") for q in queries} & shots, "a test query never occurs in training, even as a shot"


@SETTINGS
@given(st.integers(1, 4), st.integers(0, 2), seeds, splits)
def test_scratchpad_working_is_right_and_ends_in_the_answer(length, shots, seed, split):
    task = FewShotArithmetic(length, length, shots=shots, scratchpad=True)
    ex = sample(task, 32, split, seed)
    for tokens, answer in zip(ex.tokens, ex.answer):
        prompt, ans = split_example(tokens, answer)
        for problem in " ".join(prompt[1:] + ans).split(" ; "):
            lhs, rhs = problem.split(" = ")
            a, b = (int(x.replace(" ", "")) for x in lhs.split(" + "))
            working, result = rhs.split(" > ")
            assert int(result.replace(" ", "")) == a + b
            steps = [int(d) for d in working.split()]
            carry = 0
            for i, (digit, out) in enumerate(zip(steps[::2], steps[1::2])):
                total = (a // 10**i) % 10 + (b // 10**i) % 10 + carry
                assert (digit, out) == (total % 10, total // 10)
                carry = out
    plain = sample(FewShotArithmetic(length, length, shots=shots), 32, split, seed)
    strip = [decode(r).split(" = ")[0] for r in plain.tokens]
    assert strip == [decode(r).split(" = ")[0] for r in ex.tokens], "the scratchpad changes no problem"


@st.composite
def mixtures(draw: st.DrawFn) -> Mixture:
    parts = draw(st.lists(st.one_of(arithmetic(), unscrambles()), min_size=1, max_size=4))
    weights = tuple(float(w) for w in draw(st.lists(st.integers(1, 5), min_size=len(parts), max_size=len(parts))))
    try:
        return Mixture(tuple(parts), tuple(f"task-{i}" for i in range(len(parts))), weights)
    except ValueError as error:  # components whose test and training lengths overlap: refused, tested below
        assume("test queries could occur in training" not in str(error))
        raise


@SETTINGS
@given(mixtures(), seeds, splits)
def test_mixture_examples_are_their_components_and_test_queries_never_train(task, seed, split):
    ex = sample(task, 64, split, seed)
    assert ex.tokens.shape == (64, task.seq_len(split)) and ex.component is not None
    for c, part in enumerate(task.tasks):
        rows = np.flatnonzero(ex.component == c)
        if rows.size:
            same = part.generate(example_keys(seed, split, rows), split, task.seq_len(split))
            np.testing.assert_array_equal(same.tokens, ex.tokens[rows])
            (check_unscramble if isinstance(part, WordUnscramble) else check)(part, ex[rows])
    train = sample(task, 400, "train", seed)
    test = sample(task, 64, "test", seed + 1)
    assert not {tuple(r) for r in train.tokens} & {tuple(r) for r in test.tokens}
    problems = {p.replace("BOS ", "") for r in train.tokens for p in decode(r).split(" ; ")}
    for r in test.tokens:
        assert decode(r).split(" ; ")[-1].replace("BOS ", "") not in problems


def test_mixture_and_emergence_tasks_name_bad_parameters():
    add = FewShotArithmetic(2, 2)
    with pytest.raises(ValueError, match="holdout"):
        Mixture((add, FewShotArithmetic(2, 2, holdout=0.2)), ("a", "b"), (1.0, 1.0))
    with pytest.raises(ValueError, match="'long' trains on the same kind of problem up to length 3"):
        Mixture((FewShotArithmetic(1, 2), FewShotArithmetic(3, 3)), ("short", "long"), (1.0, 1.0))
    Mixture((FewShotArithmetic(1, 2), FewShotArithmetic(3, 3, op="-")), ("add", "sub"), (1.0, 1.0))
    # a test range that starts inside its training lengths still draws any problem beyond them
    with pytest.raises(ValueError, match="'a' tests at length 11, beyond its train_length 10, but 'b' trains"):
        Mixture((Count(10, 8, test_max_length=15), Count(20, 20)), ("a", "b"), (1.0, 1.0))
    Mixture((Count(10, 8, test_max_length=10), Count(20, 20)), ("a", "b"), (1.0, 1.0))  # held out by all
    with pytest.raises(ValueError, match="labels must be distinct"):
        Mixture((add, add), ("a", "a"), (1.0, 1.0))
    with pytest.raises(ValueError, match="weights must be > 0"):
        Mixture((add,), ("a",), (0.0,))
    with pytest.raises(ValueError, match="scratchpad"):
        FewShotArithmetic(2, 2, op="*", scratchpad=True)
    with pytest.raises(ValueError, match="n_letters"):
        WordUnscramble(3, 3, n_letters=1)
    assert FewShotArithmetic(2, 2).chance_exact_match() == pytest.approx(1 / 179)
    assert WordUnscramble(3, 3).chance_exact_match() == pytest.approx(1 / 6)
