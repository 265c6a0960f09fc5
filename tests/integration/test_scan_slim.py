"""scan and slim on small real environments made with pip from the sample wheels."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import venv
from pathlib import Path

import pytest
from click.testing import CliRunner
from killslim import killed_slim
from wheelmaker import add_dist

from wheelfix.cli.app import cli
from wheelfix.errors import UsageError
from wheelfix.installed.scan import scan
from wheelfix.installed.slim import recover, slim
from wheelfix.installed.tree import JOURNAL_DIR

REPO = Path(__file__).resolve().parents[2]


def sample(prefix: str) -> Path:
    (path,) = (REPO / "sample_wheels").glob(f"{prefix}-*.whl")
    return path


def snapshot(root: Path) -> dict[str, str]:
    out = {}
    for path in sorted(root.rglob("*")):
        if path.is_file() and not path.is_symlink():
            out[path.relative_to(root).as_posix()] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


@pytest.fixture
def env(tmp_path: Path) -> Path:
    root = tmp_path / "site"
    wheels = [
        str(sample(p)) for p in ("wfdemo_debug", "wfdemo_pure", "wfdemo_clean", "wfdemo_extlib")
    ]
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--no-index",
            "--target",
            str(root),
            *wheels,
        ],
        check=True,
        env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"},
    )
    return root


def run_python(root: Path, code: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("LD_LIBRARY_PATH", "PYTHONPATH")}
    return subprocess.run(
        [sys.executable, "-c", f"import sys; sys.path.insert(0, {str(root)!r})\n{code}"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )


def test_scan_reports_what_is_there(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LD_LIBRARY_PATH", raising=False)
    big = os.urandom(100_000)
    add_dist(env, "twin_a", {"twin_a/__init__.py": b"", "twin_a/blob.bin": big})
    add_dist(env, "twin_b", {"twin_b/__init__.py": b"", "twin_b/blob.bin": big})
    add_dist(env, "norecord", {"norecord/__init__.py": b""}, record=False)
    report = scan(env)
    by_name = {d.name: d for d in report.distributions}
    codes = {d.name: {f.code for f in d.findings} for d in report.distributions}
    assert "WF202" in codes["wfdemo-extlib"]  # libwfext.so.1: neither in the env nor system
    assert "WF301" in codes["wfdemo-debug"]
    assert by_name["wfdemo-debug"].categories.get("tests", 0) > 0
    assert "WF603" in codes["norecord"]
    assert any(f.code == "WF602" and f.bytes == 100_000 for f in report.findings)
    assert report.savings["dedupe"] >= 100_000
    assert report.exit_code == 1  # WF202 is an error


def test_scan_json_and_special_files(env: Path) -> None:
    os.mkfifo(env / "a-fifo")
    (env / "loop").symlink_to(env / "loop")
    result = CliRunner().invoke(cli, ["scan", "--format", "json", "--fail-on", "never", str(env)])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["schema_version"] == 1
    assert {d["name"] for d in document["distributions"]} >= {"wfdemo-debug", "wfdemo-pure"}


def test_dry_run_changes_nothing(env: Path) -> None:
    before = snapshot(env)
    result = slim(env)
    assert not result.applied
    assert result.by_category["strip"][0] >= 1
    assert snapshot(env) == before


def test_apply_slims_and_keeps_everything_working(env: Path) -> None:
    result = slim(env, apply=True)
    assert result.applied and not result.restored, result.restored
    assert result.after < result.before
    assert not (env / "wfdemo_debug" / "tests").exists()
    assert not (env / "wfdemo_debug" / "src").exists()
    assert (env / "wfdemo_debug-1.0.0.dist-info" / "METADATA").exists()
    assert list((env / "wfdemo_debug").glob("__pycache__/*.pyc"))  # bytecode kept by default
    assert not (env / JOURNAL_DIR).exists()
    proc = run_python(
        env,
        "import importlib.metadata as m, wfdemo_debug\n"
        "assert wfdemo_debug.answer() == 42\nprint(m.version('wfdemo-debug'))",
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "1.0.0"
    # RECORD is true again: every row inside the tree exists with its hash and size.
    (post,) = [d for d in scan(env).distributions if d.name == "wfdemo-debug"]
    assert "WF601" not in {f.code for f in post.findings} - {"WF601"} | set()
    assert post.debug_info == 0 and post.symbol_table == 0
    again = slim(env, apply=True)
    assert again.plan == ()


def test_record_is_rewritten(env: Path) -> None:
    slim(env, apply=True)
    record = (env / "wfdemo_debug-1.0.0.dist-info" / "RECORD").read_text()
    assert "wfdemo_debug/tests/" not in record
    so = next((env / "wfdemo_debug").glob("_debug*.so"))
    import base64

    digest = base64.urlsafe_b64encode(hashlib.sha256(so.read_bytes()).digest()).rstrip(b"=")
    assert f"sha256={digest.decode()},{so.stat().st_size}" in record


def test_keep_pattern_is_respected(env: Path) -> None:
    slim(env, apply=True, keep=["wfdemo_debug/tests/*"])
    assert (env / "wfdemo_debug" / "tests" / "test_debug.py").exists()


def test_a_tests_folder_imported_at_start_up_is_kept(env: Path) -> None:
    add_dist(
        env,
        "trap",
        {
            "trap/__init__.py": b"from trap.tests.helpers import VALUE\n",
            "trap/tests/__init__.py": b"",
            "trap/tests/helpers.py": b"VALUE = 1\n",
            "trap/tests/test_trap.py": b"def test_value(): pass\n",
        },
    )
    planned = slim(env)
    assert any(a.path == "trap/tests/helpers.py" for a in planned.plan)  # the dry run cannot know
    result = slim(env, apply=True)
    assert result.kept == {
        "trap/tests": "imported at start-up: trap/tests/__init__.py, trap/tests/helpers.py"
    }
    assert not any(a.path.startswith("trap/") for a in result.plan)
    assert not result.restored and result.exit_code == 0
    assert (env / "trap" / "tests" / "test_trap.py").exists()  # kept whole
    assert "trap/tests/helpers.py," in (env / "trap-1.0.dist-info" / "RECORD").read_text()
    assert run_python(env, "import trap").returncode == 0
    assert not (env / "wfdemo_debug" / "tests").exists()  # the others are slimmed
    assert slim(env, apply=True).kept == result.kept  # and the next run agrees


def test_a_source_the_package_names_is_kept_by_the_plan(env: Path) -> None:
    add_dist(
        env,
        "jit",
        {
            "jit/__init__.py": b"import os\n"
            b"KERNEL = open(os.path.join(os.path.dirname(__file__), 'kernel.c')).read()\n",
            "jit/kernel.c": b"int kernel(void) { return 1; }\n",
        },
    )
    why = "read at run time: source 'kernel.c' named in jit/__init__.py"
    assert slim(env).kept == {"jit/kernel.c": why}  # a dry run knows it too
    result = slim(env, apply=True)
    assert result.kept == {"jit/kernel.c": why}
    assert not result.restored and result.exit_code == 0
    assert run_python(env, "import jit").returncode == 0
    assert not (env / "wfdemo_debug" / "src").exists()  # an unnamed source still goes


def test_safety_net_restores_a_package_that_reads_a_source_at_import(env: Path) -> None:
    # Not a module, so the baseline cannot see it, and its name is built at run time, so the
    # plan cannot either: only the re-import catches this one.
    add_dist(
        env,
        "trap",
        {
            "trap/__init__.py": b"import os\nNAME = 'kernel'\n"
            b"KERNEL = open(os.path.join(os.path.dirname(__file__), NAME + '.c')).read()\n",
            "trap/kernel.c": b"int kernel(void) { return 1; }\n",
        },
    )
    result = slim(env, apply=True)
    assert set(result.restored) == {"trap-1.0.dist-info"}
    assert "FileNotFoundError" in result.restored["trap-1.0.dist-info"]
    assert not any(a.dist == "trap-1.0.dist-info" for a in result.plan)  # it was undone
    assert (env / "trap" / "kernel.c").exists()
    assert run_python(env, "import trap").returncode == 0
    assert not (env / "wfdemo_debug" / "tests").exists()  # the others stay slimmed
    assert result.exit_code == 1


def test_dedupe_makes_hard_links(env: Path) -> None:
    big = os.urandom(50_000)
    add_dist(env, "twin_a", {"twin_a/__init__.py": b"", "twin_a/blob.bin": big})
    add_dist(env, "twin_b", {"twin_b/__init__.py": b"", "twin_b/blob.bin": big})
    slim(env, apply=True, categories=["dedupe"])
    a, b = env / "twin_a" / "blob.bin", env / "twin_b" / "blob.bin"
    assert a.stat().st_ino == b.stat().st_ino
    assert b.read_bytes() == big


def test_killed_slim_is_rolled_back(env: Path) -> None:
    before = snapshot(env)
    proc = killed_slim(env, 2)
    assert proc.returncode == 137
    assert (env / JOURNAL_DIR).is_dir()
    assert snapshot(env) != before
    # Before it is rolled back, scan and a dry run say so (read-only: the tree stays as is).
    during = snapshot(env)
    (finding,) = [f for f in scan(env).findings if f.code == "WF606"]
    assert "interrupted wheelfix slim left 2 journaled changes" in finding.message
    plan = slim(env)
    assert plan.pending is not None and "--apply rolls it back first" in plan.pending
    text = CliRunner().invoke(cli, ["slim", "--no-config", str(env)])
    assert "interrupted wheelfix slim" in text.output
    assert snapshot(env) == during
    rolled = CliRunner().invoke(cli, ["slim", "--recover", str(env)])
    assert rolled.exit_code == 0, rolled.output
    assert f"{env}: rolled back an interrupted slim" in rolled.output
    assert snapshot(env) == before
    again = CliRunner().invoke(cli, ["slim", "--recover", str(env)])
    assert again.output.strip() == f"{env}: nothing to roll back"
    assert recover(env) is None
    assert not (env / JOURNAL_DIR).exists()


def test_killed_slim_then_rerun_completes(env: Path) -> None:
    assert killed_slim(env, 3).returncode == 137
    result = slim(env, apply=True)
    assert result.recovered is not None
    assert result.applied and not result.restored
    assert not (env / "wfdemo_debug" / "tests").exists()


@pytest.mark.slow
def test_pip_uninstall_and_check_still_work(tmp_path: Path) -> None:
    home = tmp_path / "venv"
    venv.create(home, with_pip=True)
    python = str(home / "bin" / "python")
    pip = [python, "-m", "pip", "-q", "--disable-pip-version-check"]
    subprocess.run(
        [
            *pip,
            "install",
            "--no-index",
            "--no-deps",
            str(sample("wfdemo_debug")),
            str(sample("wfdemo_pure")),
        ],
        check=True,
        cwd=tmp_path,  # never the repository: pip would count its wheelfix.egg-info
    )
    site = next(home.glob("lib/python*/site-packages"))
    result = slim(site, apply=True, python=python)
    assert result.applied and not result.restored
    subprocess.run([*pip, "check"], check=True, cwd=tmp_path)
    subprocess.run([*pip, "uninstall", "-y", "wfdemo-debug"], check=True, cwd=tmp_path)
    assert not (site / "wfdemo_debug").exists()
    assert not list(site.glob("wfdemo_debug-*.dist-info"))


def test_dedupe_never_links_files_with_different_modes(env: Path) -> None:
    data = os.urandom(8192)
    add_dist(env, "plain", {"plain/__init__.py": b"", "plain/data.sh": data})
    add_dist(env, "tool", {"tool/__init__.py": b"", "tool/run": data})
    (env / "tool" / "run").chmod(0o755)
    slim(env, apply=True, categories=["dedupe"])
    run = env / "tool" / "run"
    assert run.stat().st_mode & 0o111
    assert run.stat().st_ino != (env / "plain" / "data.sh").stat().st_ino


def test_missing_root_is_a_usage_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["slim", "--apply", str(tmp_path / "nowhere")])
    assert result.exit_code == 2
    assert "nowhere: no such folder" in result.stderr
    (tmp_path / "file").write_text("x")
    with pytest.raises(UsageError, match="file: not a folder"):
        scan(tmp_path / "file")


def test_facts_are_the_same_on_one_worker_and_on_several(env: Path) -> None:
    from wheelfix.installed.reader import read_facts
    from wheelfix.installed.tree import read_environment

    environment = read_environment(env)
    single = read_facts(environment, threads=1)
    assert read_facts(environment, threads=3) == single  # two forked children
    assert any(f.elf is not None for f in single.values())


def test_only_files_something_needs_are_hashed(env: Path) -> None:
    from wheelfix.installed.reader import files_to_hash, read_facts
    from wheelfix.installed.tree import read_environment

    add_dist(env, "onlypy", {"onlypy/__init__.py": b"X = 1\n"})
    # Bytecode as pip records it: listed without a hash, so drift cannot be checked.
    cache = env / "onlypy" / "__pycache__"
    cache.mkdir()
    (cache / "__init__.cpython-311.pyc").write_bytes(b"\x00" * 12345)
    record = env / "onlypy-1.0.dist-info" / "RECORD"
    record.write_text(record.read_text() + "onlypy/__pycache__/__init__.cpython-311.pyc,,\n")
    (env / "twin_1.bin").write_bytes(b"a" * 777)  # unowned, same size as its twin
    (env / "twin_2.bin").write_bytes(b"b" * 777)

    environment = read_environment(env)
    wanted = files_to_hash(environment)
    assert "onlypy/__init__.py" in wanted  # RECORD has its sha256: drift is checked
    assert "onlypy/__pycache__/__init__.cpython-311.pyc" not in wanted
    assert {"twin_1.bin", "twin_2.bin"} <= wanted  # same size: may be duplicates
    facts = read_facts(environment)
    assert facts["onlypy/__pycache__/__init__.cpython-311.pyc"].sha256 == ""
    assert facts["onlypy/__pycache__/__init__.cpython-311.pyc"].size == 12345
    assert facts["twin_1.bin"].sha256 != facts["twin_2.bin"].sha256 != ""

    (env / "onlypy" / "__init__.py").write_bytes(b"X = 2\n")  # same size, other content
    (report,) = [d for d in scan(env).distributions if d.name == "onlypy"]
    assert "WF601" in {f.code for f in report.findings}


def test_reading_the_tree_in_one_go_agrees_with_listing_then_reading(env: Path) -> None:
    from wheelfix.installed.reader import read_facts, read_tree
    from wheelfix.installed.scan import scan_environment
    from wheelfix.installed.tree import read_environment

    (env / "link.py").symlink_to("wfdemo_pure/__init__.py")  # top-level symlink: special
    os.mkfifo(env / "wfdemo_pure" / "pipe")  # never opened
    (env / JOURNAL_DIR).mkdir()  # slim's journal: skipped
    (env / JOURNAL_DIR / "junk").write_bytes(b"x" * 100)
    listed = read_environment(env)
    tree_env, tree_facts = read_tree(env, threads=3)
    assert tree_env.files == listed.files
    assert tree_env.special == listed.special == ("link.py", "wfdemo_pure/pipe")
    assert tree_env.distributions == listed.distributions
    facts = read_facts(listed, threads=1)
    for path, fact in facts.items():  # read_tree may hash more (small files), never less
        assert tree_facts[path]._replace(sha256="") == fact._replace(sha256="")
        assert not fact.sha256 or tree_facts[path].sha256 == fact.sha256
    assert (
        scan_environment(tree_env, tree_facts).to_json()
        == scan_environment(listed, facts).to_json()
    )


def test_the_command_line_reports_what_the_baseline_kept(env: Path, tmp_path: Path) -> None:
    add_dist(
        env,
        "trap",
        {
            "trap/__init__.py": b"from trap.tests.helpers import VALUE\n",
            "trap/tests/__init__.py": b"",
            "trap/tests/helpers.py": b"VALUE = 1\n",
        },
    )
    copy = tmp_path / "copy"
    import shutil

    shutil.copytree(env, copy, symlinks=True)
    text = CliRunner().invoke(cli, ["slim", "--apply", "--no-config", str(env)])
    assert text.exit_code == 0, text.output
    assert "kept trap/tests: imported at start-up: trap/tests/__init__.py" in text.output
    data = CliRunner().invoke(
        cli, ["slim", "--apply", "--no-config", "--format", "json", str(copy)]
    )
    assert data.exit_code == 0, data.output
    assert list(json.loads(data.stdout)["kept"]) == ["trap/tests"]


def test_scan_says_when_a_slim_is_running(env: Path) -> None:
    import fcntl

    from wheelfix.installed.tree import pending_slim

    journal = env / JOURNAL_DIR / "20261129T000000-1"
    journal.mkdir(parents=True)
    (journal / "journal.jsonl").write_text('{"op": "remove", "path": "x"}\n')
    with (env / JOURNAL_DIR / "lock").open("w") as lock:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)  # as a running slim holds it
        found = pending_slim(env)
        assert found is not None and found.running
        (finding,) = [f for f in scan(env).findings if f.code == "WF606"]
        assert "running on this folder right now" in finding.message
        assert "would fail until it ends" in (slim(env).pending or "")
    found = pending_slim(env)
    assert found is not None and not found.running and found.changes == 1


def test_slim_notes_what_the_user_probably_did_not_mean(env: Path, tmp_path: Path) -> None:
    result = slim(env, keep=["./wfdemo_debug/tests/*", "wfdemo_debug/tests/*"])
    assert result.notes == (
        "--keep './wfdemo_debug/tests/*' matches no file: patterns are matched against "
        "paths relative to the folder, such as 'pkg/tests/*'",
    )
    venv_root = tmp_path / "venv-root"
    (venv_root / "bin").mkdir(parents=True)
    (venv_root / "bin" / "activate").write_text("# not a site-packages\n")
    assert any("no *.dist-info folder here" in n for n in slim(venv_root).notes)
    text = CliRunner().invoke(cli, ["scan", str(venv_root)])
    assert "note: no *.dist-info folder here" in text.output


def test_a_second_apply_says_there_is_nothing_to_slim(env: Path) -> None:
    assert slim(env, apply=True).plan
    again = CliRunner().invoke(cli, ["slim", "--apply", "--no-config", str(env)])
    assert again.exit_code == 0, again.output
    assert f"{env}: nothing to slim (" in again.output


def test_recover_takes_neither_apply_nor_json(env: Path) -> None:
    for extra in (["--apply"], ["--format", "json"]):
        result = CliRunner().invoke(cli, ["slim", "--recover", *extra, str(env)])
        assert result.exit_code == 2, extra
        assert "--recover takes neither" in result.stderr
