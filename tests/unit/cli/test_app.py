"""The CLI through click's CliRunner: exit codes, text and JSON output, configuration."""

from __future__ import annotations

import inspect
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from wheelmaker import MakeWheel

import wheelfix
from wheelfix import __version__
from wheelfix.cli.app import DEFAULT_STRIP, cli
from wheelfix.formats.strip import DEFAULT_LEVEL

REPO = Path(__file__).resolve().parents[3]
GOLDEN = REPO / "tests" / "golden" / "check_samples.json"


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.chdir(REPO)
    for var in ("LD_LIBRARY_PATH", "AUDITWHEEL_LD_LIBRARY_PATH"):
        monkeypatch.delenv(var, raising=False)
    return CliRunner()


def samples() -> list[str]:
    return sorted(str(p.relative_to(REPO)) for p in (REPO / "sample_wheels").glob("*.whl"))


def sample(prefix: str) -> str:
    (match,) = [s for s in samples() if Path(s).name.startswith(prefix + "-")]
    return match


def test_json_matches_golden(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["check", "--no-config", "-j1", "--format", "json", *samples()])
    assert result.exit_code == 1, result.output
    document = json.loads(result.stdout)
    assert document["wheelfix_version"] == __version__
    document["wheelfix_version"] = "<version>"
    if os.environ.get("WHEELFIX_UPDATE_GOLDEN"):
        GOLDEN.write_text(json.dumps(document, indent=2) + "\n")
    assert document == json.loads(GOLDEN.read_text())


def test_clean_wheel_exits_zero(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["check", "--no-config", sample("wfdemo_clean")])
    assert result.exit_code == 0, result.output
    assert "no findings" in result.stdout
    assert "\x1b[" not in result.stdout  # plain text when not a terminal


def test_overclaim_explains_the_symbol(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["check", "--no-config", sample("wfdemo_overclaim")])
    assert result.exit_code == 1
    assert "WF101" in result.stdout
    assert "GLIBC_2.25" in result.stdout
    assert "manylinux_2_26_x86_64" in result.stdout


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["--fail-on", "never"], 0),
        (["--ignore", "WF1"], 0),
        (["--select", "WF3,WF4"], 0),
        (["--select", "WF101"], 1),
    ],
)
def test_gate_options(runner: CliRunner, args: list[str], code: int) -> None:
    result = runner.invoke(cli, ["check", "--no-config", *args, sample("wfdemo_overclaim")])
    assert result.exit_code == code, result.output


def test_fail_on_warning(runner: CliRunner) -> None:
    debug = sample("wfdemo_debug")
    assert runner.invoke(cli, ["check", "--no-config", debug]).exit_code == 0
    result = runner.invoke(cli, ["check", "--no-config", "--fail-on", "warning", debug])
    assert result.exit_code == 1
    assert "WF301" in result.stdout


def test_unreadable_input_is_reported_and_others_still_checked(
    runner: CliRunner, tmp_path: Path
) -> None:
    bad = tmp_path / "bad-1.0-py3-none-any.whl"
    bad.write_text("not a zip")
    args = ["check", "--no-config", "--format", "json", str(bad), sample("wfdemo_clean")]
    result = runner.invoke(cli, args)
    assert result.exit_code == 2
    document = json.loads(result.stdout)
    statuses = [r["status"] for r in document["results"]]
    assert statuses == ["error", "ok"]
    assert "not a zip archive" in document["results"][0]["error"]["message"]
    assert "Traceback" not in result.output
    assert result.stderr.count("\n") == 1  # exactly one line about the bad input


def test_target_alpine_question(runner: CliRunner) -> None:
    args = ["check", "--no-config", "--target", "musllinux_1_2_x86_64", sample("wfdemo_clean")]
    result = runner.invoke(cli, args)
    assert result.exit_code == 1
    assert "WF106" in result.stdout
    assert "libc.so.6" in result.stdout


def test_target_ok_for_newer_glibc(runner: CliRunner) -> None:
    args = ["check", "--no-config", "--target", "manylinux_2_28_x86_64", sample("wfdemo_clean")]
    assert runner.invoke(cli, args).exit_code == 0


@pytest.mark.parametrize(
    "args",
    [
        ["--target", "windows_amd64"],
        ["--select", "nonsense"],
        ["--fail-on", "fatal"],
        ["--max-uncompressed", "lots"],
    ],
)
def test_usage_errors_exit_two(runner: CliRunner, args: list[str]) -> None:
    result = runner.invoke(cli, ["check", "--no-config", *args, sample("wfdemo_clean")])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output


def test_max_uncompressed_refuses(runner: CliRunner) -> None:
    args = ["check", "--no-config", "--max-uncompressed", "1K", sample("wfdemo_debug")]
    result = runner.invoke(cli, args)
    assert result.exit_code == 2
    assert "limit" in result.stdout


def test_config_defaults(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    debug = str(REPO / sample("wfdemo_debug"))
    (tmp_path / "pyproject.toml").write_text('[tool.wheelfix]\nfail-on = "warning"\n')
    monkeypatch.chdir(tmp_path)
    assert runner.invoke(cli, ["check", debug]).exit_code == 1
    # The command line wins over the file.
    assert runner.invoke(cli, ["check", "--fail-on", "error", debug]).exit_code == 0
    (tmp_path / "pyproject.toml").write_text('[tool.wheelfix]\nfail_on = "warning"\n')
    result = runner.invoke(cli, ["check", debug])
    assert result.exit_code == 2
    assert "unknown key" in result.stderr


def test_verbose_shows_hints_and_elf_detail(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["check", "--no-config", "-v", sample("wfdemo_debug")])
    assert "hint:" in result.stdout
    assert "strip would recover" in result.stdout


def test_help_documents_exit_codes(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["check", "--help"])
    assert result.exit_code == 0
    for line in ("Exit codes:", "0  nothing at or above", "3  a required external tool"):
        assert line in result.stdout


def test_python_dash_m() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "wheelfix", "--version"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert __version__ in out.stdout


def test_scan_ticker_counts_files_and_bytes_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    from wheelfix.cli import app as cli_module

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.setattr(sys, "stderr", io.StringIO())
    assert cli_module._FileTicker.on_terminal("scanning") is None  # not a terminal: silent
    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    ticker = cli_module._FileTicker.on_terminal("scanning")
    assert ticker is not None
    for _ in range(3):
        ticker.tick(1024)
    ticker._shown = 0.0  # let the next tick refresh
    ticker.tick(1024)
    ticker.stop()
    assert "scanning: 4 files, 4.0 KiB read" in terminal.getvalue()


def test_debug_works_after_the_command_name_too(tmp_path: Path) -> None:
    missing = str(tmp_path / "nowhere")
    plain = CliRunner().invoke(cli, ["scan", missing])
    assert plain.exit_code == 2 and "Traceback" not in plain.stderr
    for args in (["--debug", "scan", missing], ["scan", "--debug", missing]):
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 2, args
        assert "Traceback" in result.stderr and "no such folder" in result.stderr, args


def test_a_bad_strip_level_names_the_option_the_user_typed(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["repair", "--strip=bogus", "-w", str(tmp_path), "x.whl"])
    assert result.exit_code == 2
    assert "'--strip=LEVEL': 'bogus' is not one of" in result.stderr


def _on_a_terminal(args: list[str], env: dict[str, str]) -> str:
    """Run ``python -m wheelfix ARGS`` with stdout on a pseudo-terminal; what it printed."""
    import pty

    leader, follower = pty.openpty()
    environment = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR")}
    environment.update({"TERM": "xterm-256color", "COLUMNS": "200", **env})
    process = subprocess.Popen(
        [sys.executable, "-m", "wheelfix", *args],
        stdout=follower,
        stderr=subprocess.DEVNULL,
        cwd=REPO,
        env=environment,
    )
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    process.wait(timeout=120)
    os.close(leader)
    return b"".join(chunks).decode("utf-8", "replace")


@pytest.mark.parametrize(
    ("args", "env", "coloured"),
    [
        ([], {}, True),
        ([], {"NO_COLOR": "1"}, False),
        ([], {"NO_COLOR": ""}, True),  # an empty NO_COLOR does not count (no-color.org)
        (["--color", "never"], {}, False),
        (["--color", "always"], {"NO_COLOR": "1"}, True),  # the option wins over the variable
    ],
)
def test_colour_on_a_terminal(args: list[str], env: dict[str, str], coloured: bool) -> None:
    output = _on_a_terminal(["check", "--no-config", *args, sample("wfdemo_debug")], env)
    assert "wfdemo_debug" in output and "WF301" in output
    assert ("\x1b[" in output) is coloured, output


@pytest.mark.parametrize("where", ["before", "after"])
def test_color_always_in_a_pipe_and_on_every_command(
    runner: CliRunner, tmp_path: Path, where: str
) -> None:
    (tmp_path / "Dockerfile").write_text("FROM python:3.11\n")
    commands = [
        ["check", "--no-config", sample("wfdemo_debug")],
        ["dockerfile", str(tmp_path)],
        ["scan", str(tmp_path)],
    ]
    for command in commands:
        args = (
            ["--color", "always", *command]
            if where == "before"
            else [command[0], "--color", "always", *command[1:]]
        )
        result = runner.invoke(cli, args)
        assert "\x1b[" in result.stdout, (args, result.output)
        plain = runner.invoke(cli, [command[0], "--color", "never", *command[1:]])
        assert "\x1b[" not in plain.stdout
    for name in ("repair", "slim", "image"):
        assert "--color [auto|always|never]" in runner.invoke(cli, [name, "--help"]).stdout


def test_quiet_shows_only_problems_and_the_summary(runner: CliRunner) -> None:
    args = ["check", "--no-config", "-q", sample("wfdemo_clean"), sample("wfdemo_debug")]
    result = runner.invoke(cli, args)
    assert result.exit_code == 0
    assert "wfdemo_clean" not in result.stdout
    assert "wfdemo_debug" in result.stdout and "WF301" in result.stdout
    assert result.stdout.splitlines()[-1].startswith("2 wheels checked")


def test_quiet_scan_and_image_drop_their_tables(runner: CliRunner, tmp_path: Path) -> None:
    site = tmp_path / "site"
    (site / "demo-1.0.dist-info").mkdir(parents=True)
    (site / "demo-1.0.dist-info" / "METADATA").write_text("Name: demo\nVersion: 1.0\n")
    loud = runner.invoke(cli, ["scan", str(site)]).stdout
    quiet = runner.invoke(cli, ["scan", "-q", str(site)]).stdout
    assert "distribution" in loud and "distribution" not in quiet
    assert "WF603" in quiet and quiet.splitlines()[-1].startswith("total ")


def test_capital_v_is_version(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["-V"])
    assert result.exit_code == 0 and __version__ in result.stdout


def test_check_a_folder_reads_its_wheels(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(cli, ["check", "--no-config", "--format", "json", "sample_wheels"])
    names = [r["filename"] for r in json.loads(result.stdout)["results"]]
    assert names == sorted(Path(s).name for s in samples())
    empty = runner.invoke(cli, ["check", "--no-config", str(tmp_path)])
    assert empty.exit_code == 2
    assert f"{tmp_path}: no *.whl files in this folder" in empty.stderr


def test_repair_a_folder(runner: CliRunner, tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    dist.mkdir()
    pure = REPO / sample("wfdemo_pure")
    (dist / pure.name).write_bytes(pure.read_bytes())
    (dist / "notes.txt").write_text("not a wheel, not read")
    out = tmp_path / "wheelhouse"
    result = runner.invoke(cli, ["repair", "-w", str(out), str(dist)])
    assert result.exit_code == 0, result.output
    assert [p.name for p in out.iterdir()] == [pure.name]
    empty = runner.invoke(cli, ["repair", "-w", str(out), str(tmp_path / "wheelhouse2")])
    assert empty.exit_code == 2


def test_dockerfile_a_folder(runner: CliRunner, tmp_path: Path) -> None:
    missing = runner.invoke(cli, ["dockerfile", str(tmp_path)])
    assert missing.exit_code == 2
    assert "no Dockerfile or Containerfile in this folder" in missing.stderr
    (tmp_path / "Containerfile").write_text("FROM python:3.11-slim\n")
    assert "Containerfile: 1 stage" in runner.invoke(cli, ["dockerfile", str(tmp_path)]).stdout
    (tmp_path / "Dockerfile").write_text("FROM python:3.11-slim AS a\nFROM a\n")
    assert "Dockerfile: 2 stages" in runner.invoke(cli, ["dockerfile", str(tmp_path)]).stdout
    two = runner.invoke(cli, ["dockerfile", "--format", "json", str(tmp_path), str(tmp_path)])
    assert two.exit_code == 2 and "--format json takes one Dockerfile" in two.stderr


def test_verbose_elf_lines_are_plain_off_a_terminal(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["check", "--no-config", "-v", sample("wfdemo_extlib")])
    (line,) = [ln for ln in result.stdout.splitlines() if ln.startswith("  ELF ")]
    assert line == (
        "  ELF wfdemo_extlib/_extlib.cpython-311-x86_64-linux-gnu.so: arch x86_64, libc -, "
        "size 14.0 KiB, debug 0 B, symtab 0 B, needs libwfext.so.1"
    )
    assert all(ln == ln.rstrip() for ln in result.stdout.splitlines())  # no padding


def test_strip_with_a_space_says_how_to_write_it(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(cli, ["repair", "--strip", "debug", "-w", str(tmp_path), "x.whl"])
    assert result.exit_code == 2
    assert "write --strip=debug" in result.stderr
    assert "(--strip alone means all)" in result.stderr


def test_the_cli_default_strip_level_is_the_engine_default() -> None:
    assert DEFAULT_STRIP == DEFAULT_LEVEL.value == "all"
    assert inspect.signature(wheelfix.slim).parameters["strip"].default is DEFAULT_LEVEL


def test_a_missing_file_is_named_once(runner: CliRunner, tmp_path: Path) -> None:
    missing = tmp_path / "gone-1.0-py3-none-any.whl"
    result = runner.invoke(cli, ["check", "--no-config", str(missing)])
    assert result.exit_code == 2
    (line,) = [ln for ln in result.output.splitlines() if "cannot be read" in ln]
    assert line.count("gone-1.0-py3-none-any.whl") == 1
    assert line.endswith(f"{missing}: cannot be read — no such file")


def test_content_options_and_keys_reach_the_checks(
    runner: CliRunner, make_wheel: MakeWheel, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files: dict[str, bytes | str] = {"demo/__init__.py": "", "extra/__init__.py": ""}
    wheel = str(make_wheel(files))

    def codes(*args: str) -> set[str]:
        result = runner.invoke(cli, ["check", "--format", "json", *args, wheel])
        assert result.exit_code in (0, 1), result.output
        (one,) = json.loads(result.stdout)["results"]
        return {f["code"] for f in one["findings"]}

    assert "WF416" in codes("--no-config")
    declared = codes("--no-config", "--toplevel", "demo")
    assert {"WF416", "WF420"}.isdisjoint(declared)
    assert "WF421" in declared
    package = tmp_path / "src" / "demo"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "new.py").write_text("")
    assert "WF418" in codes("--no-config", "--package", str(package))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "pyproject.toml").write_text('[tool.wheelfix]\ntoplevel = ["demo", "gone"]\n')
    assert "WF420" in codes()
