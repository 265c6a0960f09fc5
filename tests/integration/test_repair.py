"""wheelfix repair with the real auditwheel and patchelf, on the sample wheels."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from wheelmaker import MakeWheel, tree_digest

import wheelfix
from tools import realwheels
from wheelfix.cli.app import cli
from wheelfix.wheels.repair import repair

REPO = Path(__file__).resolve().parents[2]


def sample(prefix: str) -> Path:
    (path,) = (REPO / "sample_wheels").glob(f"{prefix}-*.whl")
    return path


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def with_libwfext(sample_build: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """libwfext.so.1 findable, as a -dev package would make it in a builder stage."""
    monkeypatch.setenv("LD_LIBRARY_PATH", str(sample_build / "work" / "lib"))


@pytest.fixture
def no_lib_path(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("LD_LIBRARY_PATH", "AUDITWHEEL_LD_LIBRARY_PATH"):
        monkeypatch.delenv(var, raising=False)


@pytest.mark.usefixtures("with_libwfext")
def test_grafts_retags_and_input_is_untouched(tmp_path: Path) -> None:
    source = sample("wfdemo_extlib")
    before = digest(source)
    (result,) = repair(source, tmp_path, strip="unneeded").results
    assert result.error is None, result.error
    assert digest(source) == before
    assert result.auditwheel
    assert set(result.grafted) == {"libwfext.so.1"}
    assert result.tag_out == ("manylinux1_x86_64", "manylinux_2_5_x86_64")
    assert result.output is not None
    (post,) = wheelfix.check(result.output).results
    assert not post.external_libraries
    # nothing left to report but that no SBOM names the grafted library (it is no package's)
    assert [f.code for f in post.findings] == ["WF210"]
    with zipfile.ZipFile(result.output) as zf:
        libs = [n for n in zf.namelist() if ".libs/libwfext" in n]
    assert len(libs) == 1


def test_strip_makes_builder_wheel_smaller(tmp_path: Path, no_lib_path: None) -> None:
    source = sample("wfdemo_debug")
    (result,) = repair(source, tmp_path, strip="unneeded", prune=["tests,sources,bytecode"]).results
    assert result.error is None, result.error
    assert result.size_out < result.size_in * 0.5
    assert set(result.pruned) == {
        "wfdemo_debug/tests/test_debug.py",
        "wfdemo_debug/src/_debug.c",
        "wfdemo_debug/__pycache__/__init__.cpython-311.pyc",
    }
    (post,) = wheelfix.check(result.output or "", fail_on="info").results
    assert post.sizes.debug_info == 0 and post.sizes.symbol_table == 0
    assert post.findings == ()


def test_overclaiming_tag_is_made_honest(tmp_path: Path, no_lib_path: None) -> None:
    (result,) = repair(sample("wfdemo_overclaim"), tmp_path).results
    assert result.error is None, result.error
    assert result.tag_out == ("manylinux_2_26_x86_64",)
    (post,) = wheelfix.check(result.output or "").results
    assert post.findings == ()  # no WF101, and WHEEL still has readable Tag lines (WF511)
    assert post.tags is not None and post.tags.wheel_file == ("cp311-cp311-manylinux_2_26_x86_64",)


def test_pure_and_compliant_wheels_skip_auditwheel(tmp_path: Path, no_lib_path: None) -> None:
    report = repair([sample("wfdemo_pure"), sample("wfdemo_clean")], tmp_path, strip="unneeded")
    assert [r.auditwheel for r in report.results] == [False, False]
    assert [r.tag_out for r in report.results] == [("any",), ("manylinux_2_17_x86_64",)]
    assert report.exit_code == 0


def test_repairing_the_output_again_changes_nothing(tmp_path: Path, no_lib_path: None) -> None:
    first, second = tmp_path / "1", tmp_path / "2"
    first.mkdir()
    second.mkdir()
    (a,) = repair(sample("wfdemo_debug"), first, strip="all").results
    assert a.output is not None
    (b,) = repair(a.output, second, strip="all").results
    assert b.output is not None and not b.auditwheel and not b.stripped
    assert digest(Path(a.output)) == digest(Path(b.output))


def test_missing_library_writes_nothing(tmp_path: Path, no_lib_path: None) -> None:
    (result,) = repair(sample("wfdemo_extlib"), tmp_path).results
    assert result.exit_code == 1
    assert result.error is not None and "libwfext.so.1" in result.error
    assert list(tmp_path.iterdir()) == []


def test_failing_auditwheel_is_exit_3_and_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, with_libwfext: None
) -> None:
    monkeypatch.setenv("WHEELFIX_AUDITWHEEL", "false")
    (result,) = repair(sample("wfdemo_extlib"), tmp_path).results
    assert result.exit_code == 3
    assert result.error is not None and "auditwheel" in result.error
    assert list(tmp_path.iterdir()) == []
    monkeypatch.setenv("WHEELFIX_AUDITWHEEL", "/nonexistent/auditwheel")
    (result,) = repair(sample("wfdemo_extlib"), tmp_path).results
    assert result.exit_code == 3


def test_cli_summary_and_exit_codes(tmp_path: Path, with_libwfext: None) -> None:
    runner = CliRunner()
    out = tmp_path / "wheelhouse"
    args = [
        "repair",
        "--strip",
        "-w",
        str(out),
        str(sample("wfdemo_extlib")),
        str(sample("wfdemo_debug")),
    ]
    result = runner.invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert "grafted libwfext.so.1" in result.stdout
    assert "stripped" in result.stdout
    assert "2 of 2 wheels repaired" in result.stdout
    # Outputs exist: a second run refuses to overwrite, --force does.
    again = runner.invoke(cli, args)
    assert again.exit_code == 2
    assert "already exists" in again.stdout
    assert runner.invoke(cli, [*args, "--force"]).exit_code == 0


def test_cli_strip_level_syntax_and_json(tmp_path: Path, no_lib_path: None) -> None:
    runner = CliRunner()
    # --strip never swallows the next word: here it is a flag followed by a wheel path.
    args = [
        "repair",
        "--format",
        "json",
        "-w",
        str(tmp_path),
        "--strip",
        str(sample("wfdemo_debug")),
        "--strip=debug",
    ]
    result = runner.invoke(cli, args)
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    (entry,) = document["results"]
    assert entry["status"] == "repaired"
    assert entry["stripped"]
    (post,) = wheelfix.check(entry["output"]).results
    assert post.sizes.debug_info == 0 and post.sizes.symbol_table > 0  # debug level keeps .symtab


def test_cli_strip_alone_is_level_all(tmp_path: Path, no_lib_path: None) -> None:
    """``--strip`` means what auditwheel's ``--strip`` means: nothing strippable is left,
    the build's records (``.comment``) included."""
    (before,) = wheelfix.check(sample("wfdemo_debug")).results
    assert before.strip_savings["all"] > before.strip_savings["unneeded"]  # has a .comment
    args = ["repair", "--format", "json", "-w", str(tmp_path), "--strip"]
    result = CliRunner().invoke(cli, [*args, str(sample("wfdemo_debug"))])
    assert result.exit_code == 0, result.output
    (entry,) = json.loads(result.stdout)["results"]
    (post,) = wheelfix.check(entry["output"]).results
    assert post.strip_savings == {"debug": 0, "unneeded": 0, "all": 0}


def test_cli_refuses_output_folder_equal_to_input(tmp_path: Path, no_lib_path: None) -> None:
    wheel = tmp_path / sample("wfdemo_clean").name
    shutil.copy(sample("wfdemo_clean"), wheel)
    result = CliRunner().invoke(cli, ["repair", "-w", str(tmp_path), str(wheel)])
    assert result.exit_code == 2
    assert "must differ" in result.stdout


def test_unreadable_input_is_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad-1.0-py3-none-any.whl"
    bad.write_text("nope")
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["repair", "-w", str(out), str(bad)])
    assert result.exit_code == 2
    assert list(out.iterdir()) == []


@pytest.mark.network
def test_foreign_architecture_wheel_is_stripped(tmp_path: Path) -> None:
    """An aarch64 wheel on this x86-64 host: GNU strip refuses its binaries; we do not."""
    import subprocess

    module = realwheels
    wheel = module.fetch("pyyaml-aarch64")
    (pre,) = wheelfix.check(wheel).results
    assert pre.arch == "aarch64" and pre.sizes.debug_info > 0

    so = tmp_path / "ext.so"
    with zipfile.ZipFile(wheel) as zf:
        (name,) = [n for n in zf.namelist() if n.endswith(".so") and "/_yaml" in n]
        so.write_bytes(zf.read(name))
    if shutil.which("strip"):
        gnu = subprocess.run(["strip", "--strip-debug", str(so)], capture_output=True, check=False)
        assert gnu.returncode != 0  # "Unable to recognise the format of the input file"

    (result,) = repair(wheel, tmp_path / "out", strip="unneeded").results
    assert result.error is None, result.error
    assert not result.auditwheel  # already compliant: nothing to graft
    (post,) = wheelfix.check(result.output or "").results
    assert post.sizes.debug_info == 0 and post.sizes.symbol_table == 0
    assert post.tags is not None and post.tags.consistent == pre.tags.consistent  # type: ignore[union-attr]


def test_excluded_library_is_not_grafted_and_does_not_block(
    tmp_path: Path, with_libwfext: None
) -> None:
    (result,) = repair(sample("wfdemo_extlib"), tmp_path, exclude=["libwfext*"]).results
    assert result.error is None, result.error
    assert result.grafted == {}
    with zipfile.ZipFile(result.output or "") as zf:
        assert not [n for n in zf.namelist() if "libwfext" in n]


def test_two_runs_writing_the_same_output_leave_one_complete_wheel(
    tmp_path: Path, no_lib_path: None
) -> None:
    import subprocess
    import sys

    out = tmp_path / "out"
    command = [
        sys.executable,
        "-m",
        "wheelfix",
        "repair",
        "--strip",
        "--force",
        "-w",
        str(out),
        str(sample("wfdemo_debug")),
    ]
    runs = [subprocess.Popen(command, stdout=subprocess.DEVNULL) for _ in range(3)]
    assert [p.wait() for p in runs] == [0, 0, 0]
    (wheel,) = out.glob("*.whl")  # no temporary files left behind
    (result,) = wheelfix.check(wheel).results
    assert result.error is None and not [f for f in result.findings if f.code.startswith("WF5")]


def test_output_folder_that_is_a_file_is_a_usage_error(tmp_path: Path) -> None:
    target = tmp_path / "not-a-folder"
    target.write_text("x")
    (result,) = repair(sample("wfdemo_clean"), target).results
    assert result.exit_code == 2 and result.error is not None


def test_the_input_wheel_is_decompressed_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from collections import Counter

    from wheelfix.formats.wheelfile import Member, WheelArchive

    reads: Counter[tuple[str, str]] = Counter()
    original = WheelArchive.read

    def counting(self: WheelArchive, member: Member) -> bytes:
        reads[(self.path.name, member.name)] += 1
        return original(self, member)

    monkeypatch.setattr(WheelArchive, "read", counting)
    wheel = sample("wfdemo_debug")
    report = repair([wheel], tmp_path / "out", strip="unneeded", jobs=1)
    assert report.exit_code == 0, report.results
    # The package's files once; only the few small metadata files are read again (the
    # archive checks WHEEL when it opens, RECORD gives the hash algorithms first).
    from_input = {
        name: n
        for (whl, name), n in reads.items()
        if whl == wheel.name and ".dist-info/" not in name
    }
    assert len(from_input) > 3 and set(from_input.values()) == {1}, from_input


@pytest.mark.parametrize("decoy", ["af.dist-info", "zz.dist-info"])
def test_a_file_named_like_a_dist_info_folder_does_not_confuse_repair(
    make_wheel: MakeWheel, tmp_path: Path, decoy: str
) -> None:
    # The wheel reader counts only folders as .dist-info; such a file is just content.
    wheel = make_wheel({"demo/__init__.py": b"X = 1\n", decoy: b"not a folder\n"})
    report = repair([wheel], tmp_path / "out", jobs=1)
    (result,) = report.results
    assert result.error is None and report.exit_code == 0, result
    with zipfile.ZipFile(result.output or "") as zf:
        assert decoy in zf.namelist() and "demo-1.0.dist-info/RECORD" in zf.namelist()


# -- containment: a soname that is a path, --plat below what the wheel reaches ----------------
def absolute_needed_wheel(tmp_path: Path, make_wheel: MakeWheel) -> tuple[Path, Path]:
    """A real extension whose DT_NEEDED is the absolute path of a library on the host (a
    library without SONAME linked by its path records that path), and that library."""
    host = tmp_path / "host"
    host.mkdir()
    (host / "abs.c").write_text("int abs_value(void) { return 42; }\n")
    (host / "ext.c").write_text("int abs_value(void);\nint ext(void) { return abs_value(); }\n")
    library = host / "libabs.so"
    subprocess.run(
        ["gcc", "-g", "-shared", "-fPIC", "-o", str(library), str(host / "abs.c")], check=True
    )
    extension = tmp_path / "ext.so"
    subprocess.run(
        ["gcc", "-g", "-shared", "-fPIC", "-o", str(extension), str(host / "ext.c"), str(library)],
        check=True,
    )
    needed = subprocess.run(
        ["readelf", "-d", str(extension)], capture_output=True, text=True, check=True
    ).stdout
    assert f"[{library}]" in needed  # the DT_NEEDED entry is the host path itself
    wheel = make_wheel(
        {"demo/__init__.py": b"", "demo/ext.so": extension.read_bytes()},
        tag="cp311-cp311-linux_x86_64",
    )
    extension.unlink()
    return wheel, library


@pytest.mark.skipif(shutil.which("gcc") is None, reason="needs gcc")
@pytest.mark.parametrize("strip", [["--strip"], []])
def test_an_absolute_soname_never_writes_outside_the_output(
    tmp_path: Path, make_wheel: MakeWheel, strip: list[str]
) -> None:
    wheel, library = absolute_needed_wheel(tmp_path, make_wheel)
    out = tmp_path / "out"
    before = tree_digest(tmp_path)
    result = CliRunner().invoke(cli, ["repair", *strip, "-w", str(out), str(wheel)])
    assert result.exit_code == 1, result.output
    assert "a DT_NEEDED entry that is a path, not a soname" in result.output
    after = tree_digest(tmp_path)
    outside = {k: v for k, v in after.items() if k != "out" and not k.startswith("out/")}
    assert outside == before  # the output folder (created by the repair) left out
    assert not list(out.glob("*.whl"))
    assert library.exists()


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_plat_below_what_the_wheel_reaches_is_exit_1_naming_the_tag(
    tmp_path: Path, no_lib_path: None, fmt: str
) -> None:
    result = CliRunner().invoke(
        cli,
        [
            "repair",
            "--format",
            fmt,
            "--plat",
            "manylinux_2_17_x86_64",
            "-w",
            str(tmp_path),
            str(sample("wfdemo_overclaim")),
        ],
    )
    assert result.exit_code == 1, result.output
    assert "--plat manylinux_2_17_x86_64: the binaries reach manylinux_2_26_x86_64 at best" in (
        result.output
    )
    assert "usage:" not in result.output.lower()
    assert not list(tmp_path.glob("*.whl"))


@pytest.mark.network
@pytest.mark.slow
def test_prune_sources_keeps_what_cython_reads_when_it_translates(tmp_path: Path) -> None:
    """The real Cython wheel, pruned of sources, still translates a .pyx."""
    import subprocess
    import sys

    module = realwheels
    wheel = module.fetch("cython")

    (result,) = repair(wheel, tmp_path / "out", prune=["sources"]).results
    assert result.error is None, result.error
    assert result.kept["Cython/Utility"].startswith("read at run time: source folder 'Utility'")
    assert "Cython/Runtime/refnanny.pyx" in result.pruned  # unnamed sources still go
    assert not any(p.startswith("Cython/Utility/") for p in result.pruned)

    site = tmp_path / "site"
    with zipfile.ZipFile(result.output or "") as zf:
        zf.extractall(site)
    pyx = tmp_path / "m.pyx"
    pyx.write_text(
        "# cython: language_level=3\n"
        "from libc.math cimport sqrt\n"
        "def norm(double[:] xs):\n"
        "    cdef double total = 0\n"
        "    for x in xs:\n"
        "        total += x * x\n"
        "    return sqrt(total)\n"
    )
    translate = "from Cython.Compiler.Main import compile; import sys; compile(sys.argv[1])"
    done = subprocess.run(
        [sys.executable, "-S", "-B", "-c", translate, str(pyx)],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(site)},
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "__pyx_memoryview" in (tmp_path / "m.c").read_text()


# -- auditwheel handed its input before the check's verdict ---------------------------------
@pytest.fixture
def submissions(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The pid of every child a repair handed auditwheel's command line to early."""
    from wheelfix.wheels import auditwheel
    from wheelfix.wheels import repair as repair_module

    pids: list[int] = []
    real = auditwheel.submit_repair

    def spy(*args: object, **kwargs: object) -> object:
        submitted = real(*args, **kwargs)  # type: ignore[arg-type]
        if submitted is not None:
            pids.append(submitted.standby.pid)
        return submitted

    monkeypatch.setattr(repair_module, "submit_repair", spy)
    return pids


def _reaped(pid: int) -> bool:
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return True
    return False


@pytest.mark.usefixtures("with_libwfext")
def test_handing_over_early_writes_the_same_wheel(
    tmp_path: Path, submissions: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    from wheelfix.wheels import repair as repair_module

    (early,) = repair(sample("wfdemo_extlib"), tmp_path / "early", strip="all").results
    assert len(submissions) == 1 and _reaped(submissions[0])
    monkeypatch.setattr(repair_module, "standby_waiting", lambda: False)
    (late,) = repair(sample("wfdemo_extlib"), tmp_path / "late", strip="all").results
    assert len(submissions) == 1  # not handed over this time
    assert early.error is None and late.error is None
    assert early.output is not None and late.output is not None
    assert Path(early.output).read_bytes() == Path(late.output).read_bytes()
    assert early.grafted == late.grafted and early.stripped == late.stripped


def _tampered(source: Path, folder: Path) -> Path:
    """``source`` with one file changed after its RECORD was written."""
    out = folder / source.name
    with zipfile.ZipFile(source) as zin, zipfile.ZipFile(out, "w") as zout:
        for info in zin.infolist():
            data = zin.read(info)
            if info.filename.endswith("__init__.py"):
                data += b"import os\n"
            zout.writestr(info, data)
    return out


@pytest.mark.usefixtures("with_libwfext")
def test_a_refusal_after_the_hand_over_stops_auditwheel_and_writes_nothing(
    tmp_path: Path, submissions: list[int]
) -> None:
    wheel = _tampered(sample("wfdemo_extlib"), tmp_path)
    out = tmp_path / "out"
    (result,) = repair(wheel, out, strip="all").results
    assert result.exit_code == 1
    assert result.error is not None and "RECORD does not match" in result.error
    assert len(submissions) == 1 and _reaped(submissions[0])
    assert not out.exists() or list(out.iterdir()) == []


def test_a_builder_wheel_without_binaries_stops_auditwheel(
    tmp_path: Path, make_wheel: MakeWheel, submissions: list[int]
) -> None:
    wheel = Path(make_wheel({"demo/__init__.py": b""}, tag="cp311-cp311-linux_x86_64"))
    (result,) = repair(wheel, tmp_path / "out", strip="all").results
    assert result.error is None and not result.auditwheel
    assert len(submissions) == 1 and _reaped(submissions[0])
