"""One settings object for every command: [tool.wheelfix] first, the command line on top."""

from __future__ import annotations

from pathlib import Path

import pytest

from wheelfix.config import Config, SlimConfig, load_config
from wheelfix.errors import UsageError


def write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "pyproject.toml").write_text(text)
    sub = tmp_path / "a" / "b"
    sub.mkdir(parents=True)
    return sub


def test_no_pyproject_gives_defaults(tmp_path: Path) -> None:
    assert load_config(tmp_path) == Config()


def test_nearest_file_is_read(tmp_path: Path) -> None:
    start = write(
        tmp_path,
        '[tool.wheelfix]\nfail-on = "warning"\nignore = ["WF4"]\njobs = 2\n'
        '[tool.wheelfix.slim]\ncategories = ["tests"]\nstrip = "debug"\n',
    )
    config = load_config(start)
    assert config.fail_on == "warning"
    assert config.ignore == ("WF4",)
    assert config.jobs == 2
    assert config.slim == SlimConfig(categories=("tests",), strip="debug")
    assert config.source == tmp_path / "pyproject.toml"


def test_command_line_wins_and_absent_values_keep_the_file(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, '[tool.wheelfix]\nfail-on = "warning"\njobs = 2\n'))
    merged = config.update(fail_on="info", jobs=None, select=())
    assert merged.fail_on == "info"
    assert merged.jobs == 2
    assert merged.select == ()


def test_update_refuses_unknown_settings() -> None:
    with pytest.raises(TypeError, match="unknown setting"):
        Config().update(colour="red")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[tool.wheelfix]\nselect = ["WF999"]\n', r"\[tool.wheelfix\]: select 'WF999' matches"),
        ("[tool.wheelfix]\nignor = []\n", r"unknown key\(s\) in \[tool.wheelfix\]: ignor"),
        ("[tool.wheelfix]\njobs = -1\n", "jobs must be a non-negative integer"),
        ("[tool.wheelfix]\njobs = true\n", "jobs must be a non-negative integer"),
        ("[tool.wheelfix]\nslim = 3\n", r"\[tool.wheelfix.slim\] must be a table"),
        ("[tool.wheelfix.slim]\nkeep = 3\n", "keep must be a list of strings"),
        ("[tool.wheelfix]\nfail-on = 1\n", "fail-on must be a string"),
        ("[tool.wheelfix\n", r"cannot read \[tool.wheelfix\]"),
    ],
)
def test_bad_files_are_usage_errors_naming_the_file(
    tmp_path: Path, text: str, message: str
) -> None:
    with pytest.raises(UsageError, match=message) as info:
        load_config(write(tmp_path, text))
    assert str(tmp_path / "pyproject.toml") in str(info.value)


def test_selection_comes_from_the_merged_values() -> None:
    config = Config(select=("WF3",)).update(ignore=("WF302",))
    assert {c.code for c in config.selection().checks} == {"WF301"}
