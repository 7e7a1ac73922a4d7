"""One profile mechanism: a settings file's top level is the paper profile, ``profiles`` holds deep-merged
overrides, and a profile a file does not define is an error naming the file and the profiles it has."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from scalingbook.lab import profiles
from scalingbook.lab.profiles import ProfileError, defined_profiles, from_settings, merge, select_profile

SETTINGS = {
    "design": {"layers": 4, "widths": [64, 128], "optimiser": {"lr": 3e-3, "warmup": 20}},
    "profiles": {"full": {"design": {"layers": 2, "widths": [8], "optimiser": {"lr": 5e-3}}}, "quick": {}},
}


def test_overrides_merge_deeply_into_the_top_level_and_lists_replace():
    assert select_profile(SETTINGS, "paper", "s.yaml") == {k: v for k, v in SETTINGS.items() if k != "profiles"}
    assert select_profile(SETTINGS, "full", "s.yaml") == {
        "design": {"layers": 2, "widths": [8], "optimiser": {"lr": 5e-3, "warmup": 20}}
    }
    assert select_profile(SETTINGS, "quick", "s.yaml")["design"]["layers"] == 4
    assert merge({"a": {"b": 1}}, {"a": 2}) == {"a": 2}, "a value that is not a mapping replaces the mapping"


def test_merging_leaves_the_settings_it_read_untouched():
    full = select_profile(SETTINGS, "full", "s.yaml")
    full["design"]["optimiser"]["warmup"] = 0
    assert SETTINGS["design"]["optimiser"]["warmup"] == 20


def test_which_profiles_a_file_defines():
    assert defined_profiles(SETTINGS) == ["quick", "full", "paper"]
    assert defined_profiles({"profiles": {"quick": {}, "full": {}}}) == ["quick", "full"], (
        "an empty top level: no paper"
    )
    assert defined_profiles({"name": "x", "profiles": {"full": {}}}) == ["full", "paper"]
    assert defined_profiles({"name": "x"}) == ["quick", "full", "paper"], "no profiles section: the same at every one"


@pytest.mark.parametrize(
    ("settings", "profile", "message"),
    [
        ({"profiles": {"quick": {}, "full": {}}}, "paper", "s.yaml: no 'paper' profile (it defines quick, full)"),
        ({"a": 1, "profiles": {"quick": {}}}, "full", "s.yaml: no 'full' profile (it defines quick, paper)"),
        (
            {"a": 1, "profiles": {"ful": {}}},
            "paper",
            "s.yaml: profiles: unknown profile(s) ['ful']; allowed: quick, full",
        ),
        (
            {"a": 1, "profiles": {"paper": {}}},
            "paper",
            "unknown profile(s) ['paper']; allowed: quick, full (the top level",
        ),
        ({"a": 1, "profiles": {"quick": 3}}, "quick", "s.yaml: profiles must map a profile's name to a mapping"),
        ([1, 2], "quick", "s.yaml: expected a mapping at the top level"),
    ],
)
def test_a_profile_that_is_not_there_is_an_error_naming_the_file(settings, profile, message):
    with pytest.raises(ProfileError) as err:
        select_profile(settings, profile, "s.yaml")
    assert message in str(err.value)


def test_a_chapter_file_is_read_by_its_name_and_a_missing_profile_names_it(tmp_path, monkeypatch):
    monkeypatch.setattr(profiles, "SETTINGS_DIR", tmp_path)
    (tmp_path / "tiny.yaml").write_text("profiles:\n  quick: {steps: 10}\n  full: {steps: 1000}\n")
    assert profiles.load_profile("tiny", "full") == {"steps": 1000}
    with pytest.raises(ProfileError, match=r"tiny\.yaml: no 'paper' profile \(it defines quick, full\)"):
        profiles.load_profile("tiny", "paper")
    with pytest.raises(ProfileError, match=r"other\.yaml does not exist"):
        profiles.load_profile("other", "quick")
    (tmp_path / "bad.yaml").write_text("profiles: [unclosed\n")
    with pytest.raises(ProfileError, match=r"bad\.yaml is not valid YAML"):
        profiles.load_profile("bad", "quick")


@dataclass(frozen=True)
class Spend:
    seeds: int
    ratios: tuple[float, ...]
    lr: float = 1e-2


def test_settings_become_the_dataclass_with_the_types_its_fields_declare(tmp_path, monkeypatch):
    """A float field given 30 or "3e1" (PyYAML's text for a number without a dot) holds 30.0, so a
    results key made from it does not depend on how the YAML spelled the number."""
    monkeypatch.setattr(profiles, "SETTINGS_DIR", tmp_path)
    spend = from_settings(Spend, {"seeds": 3, "ratios": [1, "2.5"], "lr": "3e1"}, "tiny", "quick")
    assert spend == Spend(3, (1.0, 2.5), 30.0) and type(spend.lr) is float and type(spend.ratios[0]) is float
    with pytest.raises(ProfileError, match=r"tiny\.yaml \(quick profile\): unknown Spend field\(s\) \['sedes'\]"):
        from_settings(Spend, {"sedes": 3, "ratios": []}, "tiny", "quick")
    with pytest.raises(ProfileError, match=r"tiny\.yaml \(full profile\): Spend: .*missing .*'ratios'"):
        from_settings(Spend, {"seeds": 3}, "tiny", "full")
    with pytest.raises(ProfileError, match=r"tiny\.yaml \(full profile\): Spend: could not convert"):
        from_settings(Spend, {"seeds": 3, "ratios": [], "lr": "fast"}, "tiny", "full")
