"""Parameter cells: parsing, coercion of command-line strings, and one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from scalingbook.chapters.params import MAX_INPUT_BYTES, Param, ParameterError, parameters_cell, read_params, resolve

NOTEBOOK = """# %% [markdown]
# # A chapter

# %% tags=["parameters"]
profile = "quick"  # which results to read [quick|full]
alpha = -0.35  # exponent of the loss [-3..-0.01]
steps = 100  # training steps [>=1]
lengths = [1, 2, 3]  # target lengths [1..50]
verbose = False  # print progress
name = "count"  # task name

# %%
print(alpha)
"""


@pytest.fixture
def params(tmp_path):
    path = tmp_path / "chapter.py"
    path.write_text(NOTEBOOK)
    return read_params(path)


def test_reads_defaults_types_help_and_constraints(params):
    assert list(params) == ["profile", "alpha", "steps", "lengths", "verbose", "name"]
    assert params["profile"].choices == ("quick", "full")
    assert params["alpha"].type_name == "float" and params["alpha"].help == "exponent of the loss"
    assert params["alpha"].bounds == ((">=", -3.0), ("<=", -0.01))
    assert params["steps"].bounds == ((">=", 1.0),)
    assert params["lengths"].type_name == "list[int]"
    assert params["verbose"].type_name == "bool" and not params["verbose"].allowed


def test_defaults_when_nothing_is_given(params):
    assert resolve(params, {}) == {
        "profile": "quick",
        "alpha": -0.35,
        "steps": 100,
        "lengths": [1, 2, 3],
        "verbose": False,
        "name": "count",
    }


@pytest.mark.parametrize(
    ("name", "raw", "expected"),
    [
        ("alpha", "-1", -1.0),
        ("alpha", "-2.5e-1", -0.25),
        ("steps", "7", 7),
        ("lengths", "4,5", [4, 5]),
        ("lengths", "[10]", [10]),
        ("verbose", "true", True),
        ("name", "addition", "addition"),
        ("profile", "full", "full"),
    ],
)
def test_command_line_strings_are_coerced(params, name, raw, expected):
    value = resolve(params, {name: raw})[name]
    assert value == expected and type(value) is type(expected)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"alpah": "-1"}, "unknown parameter 'alpah'; did you mean 'alpha'?"),
        ({"zzz": "1"}, "unknown parameter 'zzz'; known: profile, alpha"),
        ({"steps": "ten"}, "parameter 'steps' expects int, got 'ten'"),
        ({"steps": "1.5"}, "parameter 'steps' expects int, got '1.5'"),
        ({"steps": "0"}, "parameter 'steps' must be >= 1; got 0"),
        ({"alpha": "0.5"}, "parameter 'alpha' must be >= -3, <= -0.01; got 0.5"),
        ({"profile": "huge"}, "parameter 'profile' must be one of quick, full; got 'huge'"),
        ({"lengths": "1,x"}, "parameter 'lengths' expects a comma-separated list of int"),
        ({"lengths": "1,99"}, "parameter 'lengths' must be >= 1, <= 50; got 99"),
        ({"verbose": "maybe"}, "parameter 'verbose' expects bool"),
        ({"steps": 2.0}, "parameter 'steps' expects int, got float 2.0"),
    ],
)
def test_bad_values_give_one_line_errors_naming_the_parameter(params, overrides, message):
    with pytest.raises(ParameterError) as err:
        resolve(params, overrides)
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_a_cell_without_comments_or_literals_is_rejected(tmp_path):
    path = tmp_path / "bad.py"
    path.write_text('# %% tags=["parameters"]\nsteps = 3\n')
    with pytest.raises(ValueError, match="needs a comment"):
        read_params(path)
    path.write_text('# %% tags=["parameters"]\nsteps = compute()  # how many\n')
    with pytest.raises(ValueError):
        read_params(path)


def test_a_notebook_without_a_parameters_cell_is_rejected():
    with pytest.raises(ValueError, match="no cell tagged 'parameters'"):
        parameters_cell("# %%\nx = 1\n")


@pytest.mark.parametrize(
    ("param", "raw"),
    [
        (Param("c", 2e8, "scale", bounds=((">", 0.0),)), "1e999"),
        (Param("c", 2e8, "scale"), "-1e999"),
        (Param("budgets", [0.0], "budgets", bounds=((">=", 0.0),)), "1e12,1e999"),
        (Param("c", 2e8, "scale"), float("nan")),
    ],
)
def test_non_finite_floats_are_rejected(param, raw):
    with pytest.raises(ParameterError, match=rf"parameter '{param.name}' must be a finite number; got (inf|-inf|nan)$"):
        resolve({param.name: param}, {param.name: raw})


@pytest.fixture
def corpus_param(tmp_path):
    path = tmp_path / "chapter.py"
    path.write_text('# %% tags=["parameters"]\ncorpus = ""  # a text file to train on; empty for none [file]\n')
    return read_params(path)


def test_a_file_parameter_is_made_absolute_and_may_be_empty(corpus_param, tmp_path, monkeypatch):
    assert corpus_param["corpus"].allowed == "a UTF-8 text file of at most 100 MB, or empty"
    assert resolve(corpus_param, {}) == {"corpus": ""}
    (tmp_path / "text.txt").write_text("héllo\n")
    monkeypatch.chdir(tmp_path)
    assert resolve(corpus_param, {"corpus": "text.txt"}) == {"corpus": str(tmp_path / "text.txt")}


BAD_FILES = {
    "missing": "does not exist",
    "directory": "is a directory, not a file",
    "device": "is not a regular file",
    "empty": "is empty",
    "latin-1": "is not UTF-8 text (byte 3: invalid continuation byte)",
    "huge": "has 100,000,001 bytes; the limit is 100,000,000",
}


def _bad_file(folder: Path, kind: str) -> Path:
    """A path of each kind a file parameter must refuse."""
    path = folder / f"{kind}.txt"
    if kind == "directory":
        path.mkdir()
    elif kind == "device":
        return Path("/dev/zero")  # endless: reading it would hang the kernel
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "latin-1":
        path.write_bytes(b"caf\xe9 au lait")
    elif kind == "huge":
        with path.open("wb") as f:
            f.truncate(MAX_INPUT_BYTES + 1)  # sparse: nothing is written
    return path


@pytest.mark.parametrize("kind", BAD_FILES)
def test_a_bad_input_file_is_one_line_naming_parameter_path_and_problem(corpus_param, tmp_path, kind):
    path = _bad_file(tmp_path, kind)
    with pytest.raises(ParameterError) as err:
        resolve(corpus_param, {"corpus": str(path)})
    assert str(err.value) == f"parameter 'corpus': {path} {BAD_FILES[kind]}"


def test_an_unreadable_input_file_is_named(corpus_param, tmp_path, monkeypatch):
    path = tmp_path / "secret.txt"
    path.write_text("text")

    def denied(self):  # chmod 000 does not stop root, who runs these tests here
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "read_bytes", denied)
    with pytest.raises(ParameterError, match=rf"^parameter 'corpus': {path} cannot be read \(Permission denied\)$"):
        resolve(corpus_param, {"corpus": str(path)})
