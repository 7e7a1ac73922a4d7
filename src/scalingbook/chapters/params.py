"""Chapter parameters, read from the notebook's ``parameters`` cell: the one source of truth.

Each parameter is one assignment of a literal with a trailing comment that says what it means and,
optionally, the allowed values in square brackets at the end::

    profile = "quick"  # which results to use: tiny CPU runs or committed GPU runs [quick|full]
    alpha = 0.3  # exponent of the per-token cross-entropy in model size [>0]
    lengths = [1, 2, 3]  # target lengths in tokens [1..50]

The type is the default's type (bool, int, float, str, or a list of one of those). A bracketed
constraint is either choices ``[a|b|c]`` or bounds: ``[lo..hi]`` (inclusive), or comma-separated
comparisons such as ``[>0, <=1]``. For a list, the constraint applies to every element. A float is
always finite. ``[file]`` marks a str parameter that names an input file, or is empty: it must be a
readable, non-empty UTF-8 text file of at most :data:`MAX_INPUT_BYTES` (see :func:`check_text_file`).
"""

from __future__ import annotations

import ast
import difflib
import io
import math
import operator
import os
import re
import stat
import tokenize
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_CELL_MARK = re.compile(r"^# %%(.*)$")
_CONSTRAINT = re.compile(r"\[([^\[\]]*)\]\s*$")
_COMPARISON = re.compile(r"^(>=|<=|>|<)\s*(\S+)$")
_OPS = {">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le}
_SCALARS = (bool, int, float, str)
MAX_INPUT_BYTES = 100_000_000


class ParameterError(ValueError):
    """A parameter name, type or value a chapter does not accept; the message is one line."""


@dataclass(frozen=True)
class Param:
    """One chapter parameter: its default, type, meaning and allowed values."""

    name: str
    default: Any
    help: str
    choices: tuple[Any, ...] = ()
    bounds: tuple[tuple[str, float], ...] = ()
    file: bool = False  # a path to an input file, checked and made absolute; empty means none

    @property
    def is_list(self) -> bool:
        return isinstance(self.default, list)

    @property
    def item_type(self) -> type:
        if self.is_list:
            return type(self.default[0]) if self.default else float
        return type(self.default)

    @property
    def type_name(self) -> str:
        name = self.item_type.__name__
        return f"list[{name}]" if self.is_list else name

    @property
    def allowed(self) -> str:
        """The constraint as the notebook wrote it, for help text and errors."""
        if self.choices:
            return "one of " + ", ".join(map(str, self.choices))
        if self.file:
            return f"a UTF-8 text file of at most {MAX_INPUT_BYTES // 1_000_000} MB, or empty"
        return ", ".join(f"{op} {value:g}" for op, value in self.bounds)

    def coerce(self, raw: str) -> Any:
        """Turn a command-line string into a value of this parameter's type, then check it."""
        if self.is_list:
            text = raw.strip()
            if not text.startswith("["):
                text = f"[{text}]"
            items = _literal(self.name, text, f"a comma-separated list of {self.item_type.__name__}")
            if not isinstance(items, (list, tuple)):
                raise ParameterError(f"parameter {self.name!r} expects a list, got {raw!r}")
            value = [_parse_scalar(self.name, self.item_type, item) for item in items]
        else:
            value = _parse_scalar(self.name, self.item_type, raw)
        return self.check(value)

    def check(self, value: Any) -> Any:
        """Validate a Python value (already typed) and return it normalised (ints become floats)."""
        if self.is_list:
            if not isinstance(value, (list, tuple)):
                raise ParameterError(
                    f"parameter {self.name!r} expects {self.type_name}, got {type(value).__name__} {value!r}"
                )
            if not value:
                raise ParameterError(f"parameter {self.name!r} expects a non-empty list")
            return [self._check_item(item) for item in value]
        return self._check_item(value)

    def _check_item(self, value: Any) -> Any:
        want = self.item_type
        ok = isinstance(value, want) and not (want is not bool and isinstance(value, bool))
        if want is float and isinstance(value, int) and not isinstance(value, bool):
            value, ok = float(value), True
        if not ok:
            raise ParameterError(
                f"parameter {self.name!r} expects {self.type_name}, got {type(value).__name__} {value!r}"
            )
        if want is float and not math.isfinite(value):
            raise ParameterError(f"parameter {self.name!r} must be a finite number; got {value!r}")
        if self.file and value:
            return str(check_text_file(Path(value), f"parameter {self.name!r}"))
        if self.choices and value not in self.choices:
            raise ParameterError(f"parameter {self.name!r} must be {self.allowed}; got {value!r}")
        for op, bound in self.bounds:
            if not _OPS[op](value, bound):
                raise ParameterError(f"parameter {self.name!r} must be {self.allowed}; got {value!r}")
        return value


def check_text_file(path: Path, what: str, max_bytes: int = MAX_INPUT_BYTES) -> Path:
    """``path``, made absolute, if it is a readable, non-empty UTF-8 text file of at most ``max_bytes``.

    Run before anything starts, so that a wrong input file is a one-line error naming ``what``, not
    a failure deep in a notebook's kernel, and a directory, /dev/zero or a huge file cannot hang it.
    """
    path = Path(os.path.abspath(path))
    try:
        info = path.stat()
        if stat.S_ISDIR(info.st_mode):
            problem = "is a directory, not a file"
        elif not stat.S_ISREG(info.st_mode):
            problem = "is not a regular file"
        elif info.st_size == 0:
            problem = "is empty"
        elif info.st_size > max_bytes:
            problem = f"has {info.st_size:,} bytes; the limit is {max_bytes:,}"
        else:
            path.read_bytes().decode("utf-8")
            return path
    except FileNotFoundError:
        problem = "does not exist"
    except OSError as err:
        problem = f"cannot be read ({err.strerror})"
    except UnicodeDecodeError as err:
        problem = f"is not UTF-8 text (byte {err.start}: {err.reason})"
    raise ParameterError(f"{what}: {path} {problem}")


def _literal(name: str, text: str, expected: str) -> Any:
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        raise ParameterError(f"parameter {name!r} expects {expected}, got {text!r}") from None


def _parse_scalar(name: str, kind: type, raw: Any) -> Any:
    if not isinstance(raw, str):
        return raw
    text = raw.strip()
    if kind is str:
        return text
    if kind is bool:
        lowered = text.lower()
        if lowered in ("true", "1", "yes"):
            return True
        if lowered in ("false", "0", "no"):
            return False
        raise ParameterError(f"parameter {name!r} expects bool (true or false), got {raw!r}")
    value = _literal(name, text, kind.__name__)
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, kind) or isinstance(value, bool):
        raise ParameterError(f"parameter {name!r} expects {kind.__name__}, got {raw!r}")
    return value


def _parse_constraint(name: str, text: str) -> tuple[tuple[Any, ...], tuple[tuple[str, float], ...]]:
    text = text.strip()
    if "|" in text:
        return tuple(_literal_or_word(part.strip()) for part in text.split("|")), ()
    if ".." in text:
        lo, hi = text.split("..", 1)
        return (), ((">=", float(lo)), ("<=", float(hi)))
    bounds = []
    for part in text.split(","):
        match = _COMPARISON.match(part.strip())
        if not match:
            raise ValueError(f"parameter {name!r}: cannot read the constraint [{text}]")
        bounds.append((match.group(1), float(match.group(2))))
    return (), tuple(bounds)


def _literal_or_word(text: str) -> Any:
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def parameters_cell(source: str) -> str:
    """The text of the cell tagged ``parameters`` in a jupytext percent-format notebook."""
    lines = source.splitlines()
    start = None
    for i, line in enumerate(lines):
        mark = _CELL_MARK.match(line)
        if not mark:
            continue
        if start is not None:
            return "\n".join(lines[start:i])
        if '"parameters"' in mark.group(1) or "'parameters'" in mark.group(1):
            start = i + 1
    if start is None:
        raise ValueError("no cell tagged 'parameters' (expected a line like: # %% tags=[\"parameters\"])")
    return "\n".join(lines[start:])


def read_params(notebook: Path) -> dict[str, Param]:
    """Parse a chapter's parameters cell into :class:`Param` objects, in the order written."""
    return read_params_source(Path(notebook).read_text(), notebook)


def read_params_source(source: str, notebook: Path | str = "<notebook>") -> dict[str, Param]:
    """:func:`read_params` on a notebook's text; ``notebook`` only names it in errors."""
    cell = parameters_cell(source)
    comments = {
        tok.start[0]: tok.string[1:].strip()
        for tok in tokenize.generate_tokens(io.StringIO(cell).readline)
        if tok.type == tokenize.COMMENT
    }
    params: dict[str, Param] = {}
    for node in ast.parse(cell).body:
        if not (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)):
            raise ValueError(f"{notebook}: line {node.lineno} of the parameters cell is not `name = literal`")
        name = node.targets[0].id
        default = ast.literal_eval(node.value)
        if isinstance(default, tuple):
            default = list(default)
        kinds = {type(v) for v in default} if isinstance(default, list) else {type(default)}
        if default == [] or len(kinds) != 1 or not kinds <= set(_SCALARS):
            raise ValueError(f"{notebook}: parameter {name!r} needs a non-empty literal default of one scalar type")
        comment = comments.get(node.lineno, "")
        if not comment:
            raise ValueError(f"{notebook}: parameter {name!r} needs a comment saying what it means")
        choices: tuple[Any, ...] = ()
        bounds: tuple[tuple[str, float], ...] = ()
        is_file = False
        match = _CONSTRAINT.search(comment)
        if match:
            is_file = match.group(1).strip() == "file"
            if is_file and not isinstance(default, str):
                raise ValueError(f"{notebook}: parameter {name!r} is marked [file] but is not a str")
            if not is_file:
                choices, bounds = _parse_constraint(name, match.group(1))
            comment = comment[: match.start()].strip()
        param = Param(name, default, comment, choices, bounds, is_file)
        param.check(default)
        params[name] = param
    return params


def resolve(params: dict[str, Param], overrides: dict[str, Any]) -> dict[str, Any]:
    """Defaults updated by ``overrides`` (strings from the command line or typed values), checked.

    Raises :class:`ParameterError` for an unknown name (naming the closest known one), a wrong type
    or a value outside the allowed range, before anything runs.
    """
    values = {name: p.default for name, p in params.items()}
    for name, raw in overrides.items():
        if name not in params:
            close = difflib.get_close_matches(name, params, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else f"; known: {', '.join(params)}"
            raise ParameterError(f"unknown parameter {name!r}{hint}")
        param = params[name]
        values[name] = param.coerce(raw) if isinstance(raw, str) else param.check(raw)
    return values
