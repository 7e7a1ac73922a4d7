"""Synthetic tasks for the length-generalisation and emergence chapters.

Three families, all over one small shared vocabulary:

* :class:`Count`: ``BOS s e >`` then the integers ``s, s+1, ..., e`` then ``EOS``, one token per
  integer, as the count task of Zhou et al. (2023, "What Algorithms can Transformers Learn?", RASP-L),
  which Zhao et al. (2025, Fig. 1) use for per-seed emergence.
* :class:`IndexHintAddition`: reversed addition with index hints (Zhou et al. 2023, Sec. 4): every digit
  is preceded by a hint token naming its significance, so ``31+456`` reads ``h1 3 h0 1 + h2 4 h1 5 h0 6``
  and the answer ``487`` is written least-significant digit first, ``h0 7 h1 8 h2 4``. Zhao et al.
  (2025, Fig. 3) train this at length 35 and test at 40.
* :class:`FewShotArithmetic`: plain addition, subtraction or multiplication in a few-shot prompt
  (``k`` solved examples, then the query), the format of BIG-bench (modified) arithmetic that Wei et
  al. (2022) and Schaeffer et al. (2023) score.

Every example is a pure function of a 64-bit key (see :func:`example_keys`), so a data stream is
reproducible from ``(task parameters, seed)``, can be read from any step without replaying it, and the
stream of one population member never depends on the others.

Train and test are disjoint by construction. The *length* of an example is the number of integers
counted or the number of digits of the longest operand. Training examples have length at most
``train_length``; test examples have length ``test_length`` (or, with ``test_max_length``, a length
drawn uniformly from ``test_length`` to ``test_max_length``, for a task with too few problems of one
length to give a test set enough distinct problems). A fixed pseudo-random fraction
``holdout`` of all problems (chosen by a hash of the problem itself, not of the key) is reserved for
testing: training never draws one, and a test at a length that training also covers draws only those.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar, Literal

import numpy as np

from scalingbook.lab.languages import CorpusSource, MarkovSource, ZipfFactsSource

Split = Literal["train", "test"]

SPECIALS = ("PAD", "BOS", "EOS", ">", "=", ";", "+", "-", "*")
DIGITS = tuple(str(d) for d in range(10))
N_SYMBOLS = 100
SYMBOLS = tuple(f"#{i}" for i in range(N_SYMBOLS))
VOCAB: tuple[str, ...] = SPECIALS + DIGITS + SYMBOLS
"""Token strings by id. ``#i`` is the i-th ordered symbol: the integer i in :class:`Count` and the
index hint of significance i (plus an offset) in :class:`IndexHintAddition`."""
VOCAB_SIZE = len(VOCAB)
TOKEN = {s: i for i, s in enumerate(VOCAB)}
PAD, BOS, EOS = TOKEN["PAD"], TOKEN["BOS"], TOKEN["EOS"]
DIGIT0 = TOKEN["0"]
SYMBOL0 = TOKEN["#0"]
_STREAMS = {"train": 1, "test": 2}
_HOLDOUT_BITS = 24
_MAX_ATTEMPTS = 1000
_DISTINCT_DRAWS = 64  # sample_distinct reads at most this many draws per distinct example asked for


def encode(text: str) -> np.ndarray:
    """Token ids of a space-separated string of token names, e.g. ``"BOS #3 #5 > #3 #4 #5 EOS"``."""
    return np.array([TOKEN[s] for s in text.split()], dtype=np.uint8)


def decode(tokens: np.ndarray) -> str:
    """The space-separated token names of ``tokens``, dropping padding."""
    return " ".join(VOCAB[t] for t in np.asarray(tokens).tolist() if t != PAD)


# ----------------------------------------------------------------------------- counter-based hashing


def _splitmix(x: np.ndarray) -> np.ndarray:
    """SplitMix64 finaliser (Steele et al. 2014): a bijective 64-bit mixer, vectorised."""
    with np.errstate(over="ignore"):
        z = np.asarray(x, dtype=np.uint64) + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def hash64(*parts: np.ndarray | int) -> np.ndarray:
    """Hash a tuple of integers (arrays broadcast) into uniform 64-bit words, order-sensitive."""
    h: np.ndarray = np.asarray(np.uint64(0x243F6A8885A308D3))  # 0-d: mixes with parts exactly as the scalar
    for part in parts:
        h = _splitmix(h ^ np.asarray(part).astype(np.uint64))
    return h


def example_keys(seed: int | np.ndarray, split: Split, index: np.ndarray | int) -> np.ndarray:
    """Keys of examples ``index`` of the ``split`` stream of ``seed`` (arrays broadcast).

    The training stream of population member ``s`` at step ``t`` uses ``index = t * batch + i``, so
    the member sees the same batches alone or among others, and a resumed run sees the same data.
    """
    if split not in _STREAMS:
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    return hash64(seed, _STREAMS[split], index)


def _ints(keys: np.ndarray, lo: np.ndarray | int, hi: np.ndarray | int) -> np.ndarray:
    """Integers uniform on ``[lo, hi]`` from hashed keys (modulo bias below 2**-40 here)."""
    lo, hi = np.asarray(lo, dtype=np.int64), np.asarray(hi, dtype=np.int64)
    return lo + (keys % (hi - lo + 1).astype(np.uint64)).astype(np.int64)


def _hashed_holdout(fingerprint: np.ndarray, fraction: float) -> np.ndarray:
    """Whether a problem (by the hash of its content) is reserved for testing."""
    return (fingerprint >> np.uint64(64 - _HOLDOUT_BITS)) < np.uint64(round(fraction * 2**_HOLDOUT_BITS))


# ----------------------------------------------------------------------------- examples and packing


@dataclass(frozen=True)
class Examples:
    """A padded batch: ``tokens`` (n, T) uint8 ids and ``answer`` (n, T) bool.

    ``answer`` marks the answer span (including its EOS): the positions whose tokens the model must
    produce, so the training loss predicts ``tokens[:, t]`` from ``tokens[:, :t]`` where
    ``answer[:, t]`` holds, and the prompt is everything before the first answer position.
    ``length`` is each example's task length. ``component`` says which task of a :class:`Mixture`
    each example came from (None outside mixtures), so evaluation can be split per task.
    """

    tokens: np.ndarray
    answer: np.ndarray
    length: np.ndarray
    component: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.tokens)

    def __getitem__(self, rows: slice | np.ndarray) -> Examples:
        """The examples at ``rows`` (a slice or an index array), every field kept."""
        component = None if self.component is None else self.component[rows]
        return Examples(self.tokens[rows], self.answer[rows], self.length[rows], component)

    @property
    def prompt_len(self) -> np.ndarray:
        return self.answer.argmax(axis=1)

    @property
    def target_len(self) -> np.ndarray:
        return self.answer.sum(axis=1)

    def targets(self) -> list[np.ndarray]:
        """The answer tokens of each example, EOS included."""
        return [row[mask] for row, mask in zip(self.tokens, self.answer)]


@dataclass(frozen=True)
class _Piece:
    """A run of candidate tokens (n, w); ``valid`` says which are really there."""

    tokens: np.ndarray
    valid: np.ndarray
    answer: bool = False


def _const(token: int, n: int, answer: bool = False) -> _Piece:
    return _Piece(np.full((n, 1), token), np.ones((n, 1), bool), answer)


def _pack(pieces: list[_Piece], seq_len: int) -> tuple[np.ndarray, np.ndarray]:
    """Concatenate pieces, move each row's valid slots to its front, pad to ``seq_len``."""
    tokens = np.concatenate([p.tokens for p in pieces], axis=1, dtype=np.uint8, casting="unsafe")
    valid = np.concatenate([p.valid for p in pieces], axis=1)
    answer = np.concatenate([np.broadcast_to(p.answer, p.valid.shape) for p in pieces], axis=1)
    lengths = valid.sum(axis=1)
    if lengths.max(initial=0) > seq_len:
        raise ValueError(f"seq_len={seq_len} is too short for examples of {lengths.max()} tokens")
    rows = np.broadcast_to(np.arange(len(valid))[:, None], valid.shape)[valid]
    cols = (np.cumsum(valid, axis=1, dtype=np.int32) - 1)[valid]
    packed = np.full((len(valid), seq_len), PAD, dtype=np.uint8)
    packed[rows, cols] = tokens[valid]
    is_answer = np.zeros((len(valid), seq_len), dtype=bool)
    is_answer[rows, cols] = answer[valid]
    return packed, is_answer


def _digits(x: np.ndarray, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Decimal digits of non-negative int64 ``x``, least significant first, and which are real."""
    powers = 10 ** np.arange(width, dtype=np.int64)
    digits = (x[:, None] // powers) % 10
    n_digits = 1 + (x[:, None] >= powers[1:]).sum(axis=1)
    return digits, np.arange(width) < n_digits[:, None]


# ----------------------------------------------------------------------------- tasks


@dataclass(frozen=True)
class _Task:
    """Shared machinery: length sampling, the train/test holdout, and padding."""

    train_length: int
    test_length: int
    holdout: float = 0.1
    min_length: int = 1
    test_max_length: int | None = None
    max_length: ClassVar[int]

    def __post_init__(self) -> None:
        for name in ("train_length", "test_length"):
            value = getattr(self, name)
            if not self.min_length <= value <= self.max_length:
                raise ValueError(
                    f"{type(self).__name__}.{name} must be in [{self.min_length}, {self.max_length}], got {value}"
                )
        if self.test_max_length is not None and not self.test_length <= self.test_max_length <= self.max_length:
            raise ValueError(
                f"{type(self).__name__}.test_max_length must be in [test_length = {self.test_length}, "
                f"{self.max_length}], got {self.test_max_length}"
            )
        if not 0 < self.holdout < 1:
            raise ValueError(f"holdout must be in (0, 1), got {self.holdout}")

    @property
    def longest_test(self) -> int:
        """The longest test length: ``test_max_length`` when set, else ``test_length``."""
        return self.test_length if self.test_max_length is None else self.test_max_length

    @property
    def test_lengths(self) -> range:
        """Every length a test example can have."""
        return range(self.test_length, self.longest_test + 1)

    def seq_len(self, split: Split) -> int:
        """Padded length that fits every example of ``split``."""
        return self._n_tokens(self.train_length if split == "train" else self.longest_test)

    def generate(self, keys: np.ndarray, split: Split, seq_len: int | None = None) -> Examples:
        """The examples of ``keys`` (any shape; flattened) in ``split``, padded to ``seq_len``."""
        keys = np.asarray(keys, dtype=np.uint64).ravel()
        if split == "train":
            lengths = _ints(hash64(keys, 0), self.min_length, self.train_length)
        elif split == "test":
            lengths = _ints(hash64(keys, 0), self.test_length, self.longest_test)
        else:
            raise ValueError(f"split must be 'train' or 'test', got {split!r}")
        problems = self._eligible(keys, lengths, split)
        tokens, answer = _pack(self._render(problems, lengths), seq_len or self.seq_len(split))
        return Examples(tokens, answer, lengths.astype(np.int16))

    def on_side(self, problems: dict[str, np.ndarray], lengths: np.ndarray, split: Split) -> np.ndarray:
        """Whether each example may be drawn in ``split``.

        A problem is *reserved* if it is longer than ``train_length`` or held out. A training example
        contains no reserved problem; a test example's query (its last problem) is reserved. So no test
        query appears anywhere in training, by construction.
        """
        reserved = (lengths > self.train_length)[:, None] | self._heldout(problems, lengths)
        return ~reserved.any(axis=1) if split == "train" else reserved[:, -1]

    def _eligible(self, keys: np.ndarray, lengths: np.ndarray, split: Split) -> dict[str, np.ndarray]:
        """Draw problems, redrawing (with fresh hashes of the same key) those on the wrong side."""
        problems = self._problems(hash64(keys, 1), lengths)
        todo = ~self.on_side(problems, lengths, split)
        for attempt in range(2, _MAX_ATTEMPTS):
            if not todo.any():
                return problems
            idx = np.flatnonzero(todo)
            fresh = self._problems(hash64(keys[idx], attempt), lengths[idx])
            for name, value in fresh.items():
                problems[name][idx] = value
            todo[idx] = ~self.on_side(fresh, lengths[idx], split)
        raise ValueError(
            f"{self} has (almost) no {split} problems of length {sorted(set(lengths[todo].tolist()))}; "
            "raise holdout or the value range"
        )

    def _n_tokens(self, length: int) -> int:
        raise NotImplementedError

    def _problems(self, keys: np.ndarray, lengths: np.ndarray) -> dict[str, np.ndarray]:
        raise NotImplementedError

    def _heldout(self, problems: dict[str, np.ndarray], lengths: np.ndarray) -> np.ndarray:
        """(n, problems per example) whether each problem is held out for testing, the query last.

        By default a hash of the problem's content decides, so about ``holdout`` of all problems of
        every length are held out whatever their order.
        """
        return _hashed_holdout(self._fingerprints(problems, lengths), self.holdout)

    def _fingerprints(self, problems: dict[str, np.ndarray], lengths: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _render(self, problems: dict[str, np.ndarray], lengths: np.ndarray) -> list[_Piece]:
        raise NotImplementedError


@dataclass(frozen=True)
class Count(_Task):
    """Count from ``start`` to ``start + length - 1`` (Zhou et al. 2023): ``BOS s e > s ... e EOS``.

    Integers are single tokens ``#0 .. #{n_values-1}``; the length is how many integers are emitted.
    """

    n_values: int = N_SYMBOLS
    max_length: ClassVar[int] = N_SYMBOLS

    def __post_init__(self) -> None:
        super().__post_init__()
        if not max(self.train_length, self.longest_test) <= self.n_values <= N_SYMBOLS:
            raise ValueError(f"n_values must be in [longest length, {N_SYMBOLS}], got {self.n_values}")

    def _n_tokens(self, length: int) -> int:
        return 5 + length

    def _problems(self, keys: np.ndarray, lengths: np.ndarray) -> dict[str, np.ndarray]:
        return {"start": _ints(keys, 0, self.n_values - lengths)}

    def _heldout(self, problems: dict[str, np.ndarray], lengths: np.ndarray) -> np.ndarray:
        """Every ``1/holdout``-th start of each length (shifted with the length), not a hash.

        Each length has only ``n_values - length + 1`` problems; a hash could hold out none of them,
        a stride holds out the same share at every length that has at least ``1/holdout`` starts.
        Lengths with fewer starts hold out none, so training can still draw them.
        """
        stride = round(1 / self.holdout)
        enough = self.n_values - lengths + 1 >= stride
        return (enough & ((problems["start"] + 3 * lengths) % stride == 0))[:, None]

    def _render(self, problems: dict[str, np.ndarray], lengths: np.ndarray) -> list[_Piece]:
        start, n = problems["start"], len(lengths)
        width = max(self.train_length, self.longest_test)
        counted = start[:, None] + np.arange(width)
        return [
            _const(BOS, n),
            _Piece(SYMBOL0 + np.stack([start, start + lengths - 1], axis=1), np.ones((n, 2), bool)),
            _const(TOKEN[">"], n),
            _Piece(SYMBOL0 + counted, np.arange(width) < lengths[:, None], answer=True),
            _const(EOS, n, answer=True),
        ]


@dataclass(frozen=True)
class IndexHintAddition(_Task):
    """Reversed addition with index hints (Zhou et al. 2023, Sec. 4), lengths in digits.

    The longer operand has exactly ``length`` digits, the other between 1 and ``length`` (order
    random). The hint of significance ``i`` is the symbol ``#(offset + i)`` with a per-example random
    ``offset``, so every hint token appears in training even when test numbers are longer than any
    training number; without that, hints for the unseen positions would be untrained embeddings.
    """

    max_length: ClassVar[int] = N_SYMBOLS - 1

    def _n_tokens(self, length: int) -> int:
        return 6 * length + 6  # BOS, two hinted operands, +, >, hinted sum, EOS

    def _problems(self, keys: np.ndarray, lengths: np.ndarray) -> dict[str, np.ndarray]:
        width = max(self.train_length, self.longest_test)
        short = _ints(hash64(keys, 0), 1, lengths)
        swap = hash64(keys, 1) % np.uint64(2) == 1
        len_a, len_b = np.where(swap, short, lengths), np.where(swap, lengths, short)
        draws = hash64(keys[:, None], 2, np.arange(2 * width))
        digits = (draws % np.uint64(10)).astype(np.int64)
        a, b = digits[:, :width], digits[:, width:]
        for x, n in ((a, len_a), (b, len_b)):  # a nonzero leading digit makes the length exact
            top = x[np.arange(len(x)), n - 1]
            x[np.arange(len(x)), n - 1] = np.where(n > 1, 1 + top % 9, top)
            x[np.arange(width) >= n[:, None]] = 0
        offset = _ints(hash64(keys, 3), 0, N_SYMBOLS - 1 - lengths)
        return {"a": a, "b": b, "len_a": len_a, "len_b": len_b, "offset": offset}

    def _fingerprints(self, problems: dict[str, np.ndarray], lengths: np.ndarray) -> np.ndarray:
        h = hash64(problems["len_a"], problems["len_b"])
        for column in np.concatenate([problems["a"], problems["b"]], axis=1).T:
            h = hash64(h, column)
        return h[:, None]

    def _render(self, problems: dict[str, np.ndarray], lengths: np.ndarray) -> list[_Piece]:
        a, b, offset = problems["a"], problems["b"], problems["offset"]
        n, width = a.shape
        digits, carries = _column_sums(a, b)
        total = np.concatenate([digits, carries[:, -1:]], axis=1)
        len_sum = lengths + (total[np.arange(n), lengths] > 0)
        hints = SYMBOL0 + offset[:, None] + np.arange(width + 1)

        def hinted(digits: np.ndarray, n_digits: np.ndarray, lsb_first: bool, answer: bool) -> _Piece:
            w = digits.shape[1]
            order = slice(None) if lsb_first else slice(None, None, -1)
            pairs = np.stack([hints[:, :w], DIGIT0 + digits], axis=2)[:, order]
            valid = np.repeat((np.arange(w) < n_digits[:, None])[:, order], 2, axis=1)
            return _Piece(pairs.reshape(n, 2 * w), valid, answer)

        return [
            _const(BOS, n),
            hinted(a, problems["len_a"], lsb_first=False, answer=False),
            _const(TOKEN["+"], n),
            hinted(b, problems["len_b"], lsb_first=False, answer=False),
            _const(TOKEN[">"], n),
            hinted(total, len_sum, lsb_first=True, answer=True),
            _const(EOS, n, answer=True),
        ]


@dataclass(frozen=True)
class FewShotArithmetic(_Task):
    """``k`` solved problems then a query, BIG-bench arithmetic style: ``BOS a op b = c ; ... a op b =``.

    Both operands of every problem in an example have exactly ``length`` digits (``op="*"`` with length
    2 is BIG-bench's 2-digit multiplication). Answers are written most-significant digit first,
    subtraction answers may be negative. Only the query's answer is in the answer span; the solved
    shots come from the same split as the query.

    ``scratchpad=True`` (addition only) writes the working before the answer, as in Nye et al.'s
    (2021) scratchpad for addition that Wei et al. (2022, Fig. 3C) list as emergent: for each digit,
    least significant first, the digit of the sum and the carry out, then ``>`` and the answer, so
    ``47+38`` reads ``4 7 + 3 8 = 5 1 8 0 > 8 5``. The shots carry their scratchpads too, and the
    whole scratchpad is part of the answer span (the model must write it); score the final answer,
    the tokens after ``>``. Problems are held out exactly as without a scratchpad.
    """

    op: Literal["+", "-", "*"] = "+"
    shots: int = 2
    scratchpad: bool = False
    max_length: ClassVar[int] = 9
    _ops: ClassVar[dict[str, int]] = {"+": 0, "-": 1, "*": 2}

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.op not in self._ops:
            raise ValueError(f"op must be one of {sorted(self._ops)}, got {self.op!r}")
        if self.shots < 0:
            raise ValueError(f"shots must be >= 0, got {self.shots}")
        if self.scratchpad and self.op != "+":
            raise ValueError(f"scratchpad is defined for op '+' only, got op={self.op!r}")

    def _answer_width(self, length: int) -> int:
        """Most answer tokens: a carry digit for +, a sign for -, twice the digits for *."""
        return 2 * length if self.op == "*" else length + 1

    def _n_tokens(self, length: int) -> int:
        scratch = 2 * length + 1 if self.scratchpad else 0  # (digit, carry) per digit, then >
        problem = 2 * length + 2 + scratch + self._answer_width(length) + 1  # a op b = c, then ; or EOS
        return 1 + (self.shots + 1) * problem

    def chance_exact_match(self) -> float:
        """Exact match of a guess uniform over the integers an answer at a test length can take,
        averaged over the test lengths (uniform, as :func:`sample` draws them; a distinct test set
        can hold fewer of a length with few problems).

        The chance baseline of the emergence curves (Wei et al. 2022 draw one on every panel of Fig. 2):
        a model that knew only the range of the answer. For ``*`` the range over-counts the products
        that occur, so the baseline is a lower bound there.
        """
        chances = []
        for length in self.test_lengths:
            lo = 10 ** (length - 1) if length > 1 else 0
            hi = 10**length - 1
            n_answers = {"+": 2 * (hi - lo) + 1, "-": 2 * (hi - lo) + 1, "*": hi * hi - lo * lo + 1}[self.op]
            chances.append(1.0 / n_answers)
        return float(np.mean(chances))

    def _problems(self, keys: np.ndarray, lengths: np.ndarray) -> dict[str, np.ndarray]:
        lo = np.where(lengths > 1, 10 ** (lengths - 1), 0)[:, None]
        draws = hash64(keys[:, None], np.arange(self.shots + 1), np.arange(2)[:, None, None])
        a, b = _ints(draws, lo, 10 ** lengths[:, None] - 1)
        return {"a": a, "b": b}

    def _fingerprints(self, problems: dict[str, np.ndarray], lengths: np.ndarray) -> np.ndarray:
        return hash64(self._ops[self.op], problems["a"], problems["b"])

    def _render(self, problems: dict[str, np.ndarray], lengths: np.ndarray) -> list[_Piece]:
        a, b = problems["a"], problems["b"]
        n, width = len(lengths), int(lengths.max(initial=1))
        answers = {"+": a + b, "-": a - b, "*": a * b}[self.op]
        pieces = [_const(BOS, n)]
        for j in range(self.shots + 1):
            query = j == self.shots
            pieces += [
                _number(a[:, j], width),
                _const(TOKEN[self.op], n),
                _number(b[:, j], width),
                _const(TOKEN["="], n),
                *(self._scratch(a[:, j], b[:, j], lengths, width, query) if self.scratchpad else []),
                _number(answers[:, j], self._answer_width(width), answer=query),
                _const(EOS if query else TOKEN[";"], n, answer=query),
            ]
        return pieces

    @staticmethod
    def _scratch(a: np.ndarray, b: np.ndarray, lengths: np.ndarray, width: int, answer: bool) -> list[_Piece]:
        """Nye et al.'s addition scratchpad: (sum digit, carry) per digit, least significant first, then >."""
        digits, carries = _column_sums(_digits(a, width)[0], _digits(b, width)[0])
        steps = np.stack([digits, carries], axis=2).reshape(len(a), 2 * width)  # digit, carry, digit, carry, ...
        valid = np.repeat(np.arange(width) < lengths[:, None], 2, axis=1)
        return [_Piece(DIGIT0 + steps, valid, answer), _const(TOKEN[">"], len(a), answer)]


@dataclass(frozen=True)
class WordUnscramble(_Task):
    """Unscramble a word of a synthetic lexicon, few-shot: ``BOS scrambled = word ; ... scrambled =``.

    The analogue of BIG-bench's word unscrambling (Wei et al. 2022, Fig. 2C) for models that know no
    English: the lexicon is ``n_words`` words of every length, each letter one of the symbols
    ``#0 .. #{n_letters-1}``, all fixed by ``lexicon_seed``. The length is the number of letters. A
    problem is a (word, scrambled order) pair; held-out pairs never occur in training, but their
    words do, in other orders, as an English word occurs in a language model's pretraining. Answering
    needs the lexicon in the weights, so capacity matters.
    """

    shots: int = 2
    n_words: int = 50
    n_letters: int = 26
    lexicon_seed: int = 0
    min_length: int = 2
    max_length: ClassVar[int] = 10

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.shots < 0:
            raise ValueError(f"shots must be >= 0, got {self.shots}")
        if self.n_words < 1:
            raise ValueError(f"n_words must be >= 1, got {self.n_words}")
        if not 2 <= self.n_letters <= N_SYMBOLS:
            raise ValueError(f"n_letters must be in [2, {N_SYMBOLS}], got {self.n_letters}")

    def _n_tokens(self, length: int) -> int:
        return 1 + (self.shots + 1) * (2 * length + 2)  # scrambled = word, then ; or EOS

    def chance_exact_match(self) -> float:
        """Exact match of writing the given letters in a uniformly random order: 1 / L! at test length
        L, averaged over the test lengths (uniform, as :func:`sample` draws them).

        Exact for words without a repeated letter; words with one are easier by chance.
        """
        return float(np.mean([1.0 / math.factorial(length) for length in self.test_lengths]))

    def letters(self, lengths: np.ndarray, words: np.ndarray) -> np.ndarray:
        """Letters (..., width) of lexicon word ``words`` of length ``lengths`` (arrays broadcast)."""
        width = max(self.train_length, self.longest_test)
        draws = hash64(
            self.lexicon_seed, np.asarray(lengths)[..., None], np.asarray(words)[..., None], np.arange(width)
        )
        return (draws % np.uint64(self.n_letters)).astype(np.int64)

    def _problems(self, keys: np.ndarray, lengths: np.ndarray) -> dict[str, np.ndarray]:
        width = max(self.train_length, self.longest_test)
        problem = np.arange(self.shots + 1)
        words = _ints(hash64(keys[:, None], problem, 0), 0, self.n_words - 1)
        order = hash64(keys[:, None, None], problem[:, None], 1, np.arange(width))
        order = np.where(np.arange(width) < lengths[:, None, None], order >> np.uint64(1), np.iinfo(np.uint64).max)
        return {"word": words, "perm": np.argsort(order, axis=2, kind="stable")}

    def _fingerprints(self, problems: dict[str, np.ndarray], lengths: np.ndarray) -> np.ndarray:
        """A hash of what the problem shows (the word's letters and their scrambled order), not of
        indices: two lexicon entries spelled alike, or two orders that read alike, are one problem."""
        word = self.letters(lengths[:, None], problems["word"])
        scrambled = np.take_along_axis(word, problems["perm"], axis=2)
        h = hash64(3, lengths[:, None])
        for i in range(word.shape[2]):  # only the real letters, so the padding width does not matter
            h = np.where(i < lengths[:, None], hash64(h, word[:, :, i], scrambled[:, :, i]), h)
        return h

    def _render(self, problems: dict[str, np.ndarray], lengths: np.ndarray) -> list[_Piece]:
        n, width = len(lengths), max(self.train_length, self.longest_test)
        words = self.letters(lengths[:, None], problems["word"])
        scrambled = np.take_along_axis(words, problems["perm"], axis=2)
        words, scrambled = (np.where(np.arange(width) < lengths[:, None, None], x, 0) for x in (words, scrambled))
        valid = np.arange(width) < lengths[:, None]
        pieces = [_const(BOS, n)]
        for j in range(self.shots + 1):
            query = j == self.shots
            pieces += [
                _Piece(SYMBOL0 + scrambled[:, j], valid),
                _const(TOKEN["="], n),
                _Piece(SYMBOL0 + words[:, j], valid, answer=query),
                _const(EOS if query else TOKEN[";"], n, answer=query),
            ]
        return pieces


Component = Count | IndexHintAddition | FewShotArithmetic | WordUnscramble
"""The tasks a :class:`Mixture` combines: every task but a mixture and language modelling."""


@dataclass(frozen=True)
class Mixture:
    """Several tasks trained as one stream, BIG-bench style (Wei et al. 2022 evaluate one model on many).

    Each example is drawn from one component, chosen by a hash of its key: with probability
    proportional to ``weights`` in training, uniformly in testing so every task gets about the same
    share of a test set. Examples are padded to the longest component's length and carry their
    component index, so evaluation splits by task (``labels``). Disjointness holds per component;
    every component must use the same ``holdout``, so a problem that one component holds out for
    testing (the hash of its content decides) is held out by all. A component that tests beyond its
    training length may not share its kind of problem with one that trains at that length, so no
    component trains on another one's test queries.
    """

    tasks: tuple[Component, ...]
    labels: tuple[str, ...]
    weights: tuple[float, ...]

    def __post_init__(self) -> None:
        if not self.tasks or not len(self.tasks) == len(self.labels) == len(self.weights):
            raise ValueError(
                f"Mixture needs one label and one weight per task, got {len(self.tasks)} tasks, "
                f"{len(self.labels)} labels and {len(self.weights)} weights"
            )
        if len(set(self.labels)) != len(self.labels):
            raise ValueError(f"Mixture labels must be distinct, got {list(self.labels)}")
        if not all(w > 0 for w in self.weights):
            raise ValueError(f"Mixture weights must be > 0, got {list(self.weights)}")
        if len({t.holdout for t in self.tasks}) != 1:
            raise ValueError(
                f"every Mixture component must use the same holdout, got {[t.holdout for t in self.tasks]}"
            )
        for i, tested in enumerate(self.tasks):
            if tested.longest_test <= tested.train_length:
                continue  # its test queries are held out by hash, which every component respects
            # test lengths beyond its own training draw any problem, held out or not
            beyond = max(tested.test_length, tested.train_length + 1)
            for j, trainer in enumerate(self.tasks):
                if _same_problems(tested, trainer) and trainer.train_length >= beyond:
                    raise ValueError(
                        f"Mixture component {self.labels[i]!r} tests at length {beyond}, beyond its "
                        f"train_length {tested.train_length}, but {self.labels[j]!r} trains on the same kind of "
                        f"problem up to length {trainer.train_length}: test queries could occur in training"
                    )

    def seq_len(self, split: Split) -> int:
        """Padded length that fits every component's examples of ``split``."""
        return max(t.seq_len(split) for t in self.tasks)

    def generate(self, keys: np.ndarray, split: Split, seq_len: int | None = None) -> Examples:
        """The examples of ``keys`` (any shape; flattened), each from the component its key picks."""
        if split not in _STREAMS:
            raise ValueError(f"split must be 'train' or 'test', got {split!r}")
        keys = np.asarray(keys, dtype=np.uint64).ravel()
        width = seq_len or self.seq_len(split)
        weights = np.asarray(self.weights if split == "train" else np.ones(len(self.tasks)), dtype=np.float64)
        cumulative = np.cumsum(weights / weights.sum())
        component = np.minimum(
            np.searchsorted(cumulative, _uniform(hash64(keys, 0xC0)), side="right"), len(self.tasks) - 1
        )
        tokens = np.full((len(keys), width), PAD, dtype=np.uint8)
        answer = np.zeros((len(keys), width), dtype=bool)
        length = np.zeros(len(keys), dtype=np.int16)
        for c, task in enumerate(self.tasks):
            rows = np.flatnonzero(component == c)
            if rows.size:
                part = task.generate(keys[rows], split, width)
                tokens[rows], answer[rows], length[rows] = part.tokens, part.answer, part.length
        return Examples(tokens, answer, length, component.astype(np.int8))


def _same_problems(a: _Task, b: _Task) -> bool:
    """Whether two tasks draw from one space of problems (same kind and operation, any format)."""
    return type(a) is type(b) and getattr(a, "op", None) == getattr(b, "op", None)


def _number(x: np.ndarray, width: int, answer: bool = False) -> _Piece:
    """Signed integers ``x`` written most-significant digit first."""
    digits, valid = _digits(np.abs(x), width)
    sign = _Piece(np.full((len(x), 1), TOKEN["-"]), (x < 0)[:, None], answer)
    return _concat(sign, _Piece(DIGIT0 + digits[:, ::-1], valid[:, ::-1], answer))


def _concat(*pieces: _Piece) -> _Piece:
    return _Piece(
        np.concatenate([p.tokens for p in pieces], axis=1),
        np.concatenate([p.valid for p in pieces], axis=1),
        pieces[0].answer,
    )


@dataclass(frozen=True)
class LanguageModelling:
    """Next-token prediction on a training language, for the Chinchilla sweeps (Hoffmann et al. 2022).

    An example is ``context + 1`` consecutive tokens of ``source``: a
    :class:`~scalingbook.lab.languages.MarkovSource` (sampled here, its loss floor known exactly) or a
    :class:`~scalingbook.lab.languages.ZipfFactsSource` (Zipf-distributed facts, floor known exactly) or a
    :class:`~scalingbook.lab.languages.CorpusSource` (random windows of a byte-level text file). Every
    position is a loss position, so a step of ``batch_size`` examples trains on
    ``batch_size * context`` tokens, the D of C = 6ND. Each example is a pure function of its key:
    the uniform draws behind token t are ``hash64(key, t)``, so members' streams stay independent and
    any step can be rebuilt without replaying the stream. Token ids are the source's symbols
    (``vocab_size`` of the model must be ``source.vocab_size``, at most 256).
    """

    source: MarkovSource | ZipfFactsSource | CorpusSource
    context: int = 32

    def __post_init__(self) -> None:
        if self.context < 2:
            raise ValueError(f"LanguageModelling.context must be >= 2, got {self.context}")
        if not 2 <= self.source.vocab_size <= 256:
            raise ValueError(f"the source's vocab_size must be in [2, 256], got {self.source.vocab_size}")

    def seq_len(self, split: Split) -> int:
        """Tokens per example in either split: ``context`` inputs plus the last target."""
        return self.context + 1

    def generate(self, keys: np.ndarray, split: Split, seq_len: int | None = None) -> Examples:
        """The sequences of ``keys`` (any shape; flattened); train and test differ only by key."""
        if split not in _STREAMS:
            raise ValueError(f"split must be 'train' or 'test', got {split!r}")
        keys = np.asarray(keys, dtype=np.uint64).ravel()
        width = self.seq_len(split) if seq_len is None else seq_len
        if width != self.seq_len(split):
            raise ValueError(f"LanguageModelling examples have {self.seq_len(split)} tokens, asked for {width}")
        if isinstance(self.source, MarkovSource):
            tokens = self._markov(self.source, keys, width)
        elif isinstance(self.source, ZipfFactsSource):
            tokens = self._facts(self.source, keys, width)
        else:
            tokens = self._corpus(self.source, keys, width)
        answer = np.ones(tokens.shape, dtype=bool)
        return Examples(tokens.astype(np.uint8), answer, np.full(len(keys), self.context, dtype=np.int16))

    def _markov(self, src: MarkovSource, keys: np.ndarray, width: int) -> np.ndarray:
        """Markov chain paths started from stationarity, by inverse-CDF draws from hashed uniforms."""
        v, k = src.vocab_size, src.order
        context = np.minimum(
            np.searchsorted(np.cumsum(src.stationary), _uniform(hash64(keys, width)), side="right"),
            src.n_contexts - 1,
        )
        digits = (context[:, None] // v ** np.arange(k - 1, -1, -1)) % v
        out = np.empty((len(keys), width), dtype=np.int64)
        first = min(k, width)
        out[:, :first] = digits[:, :first]
        cumulative = np.cumsum(src.transitions, axis=1)
        for t in range(k, width):
            u = _uniform(hash64(keys, t))[:, None]
            token = np.minimum((cumulative[context] < u).sum(axis=1), v - 1)
            out[:, t] = token
            context = (context * v) % src.n_contexts + token
        return out

    def _facts(self, src: ZipfFactsSource, keys: np.ndarray, width: int) -> np.ndarray:
        """Whole items from the first token on; item i's fact and noise come from ``hash64(key, 2i)``
        and ``hash64(key, 2i + 1)``."""
        m = -(-width // src.item_length)
        slots = np.arange(m)
        fact_u = _uniform(hash64(keys[:, None], 2 * slots[None, :]))
        value_u = _uniform(hash64(keys[:, None], 2 * slots[None, :] + 1))
        return src.tokens_from_uniforms(fact_u, value_u)[:, :width]

    def _corpus(self, src: CorpusSource, keys: np.ndarray, width: int) -> np.ndarray:
        """Windows of the corpus at hashed offsets."""
        data = src.data
        if data.size <= width:
            raise ValueError(f"corpus_path {src.path} has {data.size} bytes; need more than {width}")
        starts = (hash64(keys, 0) % np.uint64(data.size - width + 1)).astype(np.int64)
        return data[starts[:, None] + np.arange(width)].astype(np.int64)


def _column_sums(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Schoolbook addition of digit arrays (n, width), least significant digit first: each column's sum
    digit and carry out. The one adder behind the index-hint answers and the scratchpad's steps."""
    digits = np.zeros(a.shape, dtype=np.int64)
    carries = np.zeros(a.shape, dtype=np.int64)
    carry = np.zeros(len(a), dtype=np.int64)
    for i in range(a.shape[1]):
        column = a[:, i] + b[:, i] + carry
        digits[:, i], carry = column % 10, column // 10
        carries[:, i] = carry
    return digits, carries


def _uniform(h: np.ndarray) -> np.ndarray:
    """Floats uniform on [0, 1) from the top 53 bits of 64-bit hashes."""
    return (h >> np.uint64(11)).astype(np.float64) * 2.0**-53


Task = Count | IndexHintAddition | FewShotArithmetic | WordUnscramble | Mixture | LanguageModelling


def sample(task: Task, n: int, split: Split, seed: int, start: int = 0) -> Examples:
    """Examples ``start .. start+n-1`` of ``split`` for ``seed``: e.g. a member's test set."""
    return task.generate(example_keys(seed, split, np.arange(start, start + n)), split)


def sample_distinct(task: Task, n: int, seed: int) -> Examples:
    """The first ``n`` distinct test examples of ``seed``'s test stream, in stream order.

    Distinct means the whole token sequence differs: a few-shot prompt that repeats a query with
    other solved shots counts as a new example.

    A task with few problems (count has ``n_values - L + 1`` of length L) repeats them in a drawn
    test set, and a repeat adds no information about a model: exact match over repeats moves in
    coarse, unequal steps. Reading further down the stream until ``n`` distinct examples are found
    keeps the set a prefix-stable function of ``(task, seed)``.
    """
    draws = n
    while True:
        examples = sample(task, draws, "test", seed)
        _, first = np.unique(examples.tokens, axis=0, return_index=True)
        if len(first) >= n:
            return examples[np.sort(first)[:n]]
        if draws >= _DISTINCT_DRAWS * n:
            raise ValueError(
                f"{task} has {len(first)} distinct test problems in {draws} draws, fewer than the {n} asked for: "
                "lower n_examples, or widen the test lengths (test_max_length)"
            )
        draws *= 2


def train_batch(task: Task, data_seeds: np.ndarray, step: int, batch_size: int) -> Examples:
    """The training batch of every member at ``step``: (M * batch_size) examples, member-major.

    Member ``m`` reads examples ``step * batch_size .. +batch_size`` of its own stream, so its data
    does not depend on the population around it.
    """
    index = step * batch_size + np.arange(batch_size)
    keys = example_keys(np.asarray(data_seeds)[:, None], "train", index[None, :])
    return task.generate(keys, "train")
