"""slim: narrowing a plan by what the baseline import loaded, keeping the sources a package
reads at run time, and containment: journals that are not its own, a folder swapped for a
symlink mid-run, hostile RECORDs."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import threading
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner
from killslim import killed_slim
from unprivileged import NOBODY, as_nobody, shared_folder
from wheelmaker import record_text, tree_digest

import wheelfix
import wheelfix.installed.slim as slim_module
from wheelfix.cli.app import cli
from wheelfix.errors import UsageError
from wheelfix.installed.slim import (
    JournalError,
    SlimAction,
    _spare_loaded,
    journal_key,
    recover,
    slim,
)
from wheelfix.installed.tree import JOURNAL_DIR

REPO = Path(__file__).resolve().parents[3]


def remove(path: str, category: str = "tests") -> SlimAction:
    return SlimAction("remove", path, category, 100, "pkg-1.0.dist-info")


def test_a_loaded_tests_module_keeps_its_whole_tests_folder() -> None:
    plan = (
        remove("pkg/tests/__init__.py"),
        remove("pkg/tests/runner.py"),
        remove("pkg/tests/data/big.bin"),
        remove("pkg/sub/tests/test_sub.py"),
        SlimAction("strip", "pkg/_ext.so", "strip", 50, "pkg-1.0.dist-info"),
    )
    narrowed, kept = _spare_loaded(
        plan, frozenset({"pkg/__init__.py", "pkg/tests/__init__.py", "pkg/tests/runner.py"})
    )
    assert kept == {"pkg/tests": "imported at start-up: pkg/tests/__init__.py, pkg/tests/runner.py"}
    assert [a.path for a in narrowed] == ["pkg/sub/tests/test_sub.py", "pkg/_ext.so"]


def test_any_other_loaded_file_is_spared_alone() -> None:
    plan = (remove("pkg/gen.pyx", "sources"), remove("pkg/_impl.py", "bytecode"))
    narrowed, kept = _spare_loaded(plan, frozenset({"pkg/_impl.py"}))
    assert kept == {"pkg/_impl.py": "imported at start-up"}
    assert [a.path for a in narrowed] == ["pkg/gen.pyx"]


def test_nothing_loaded_changes_nothing() -> None:
    plan = (remove("pkg/tests/test_a.py"),)
    assert _spare_loaded(plan, frozenset()) == (plan, {})


# -- containment: journals, races, hostile RECORDs --------------------------------------------
def add_dist(root: Path, name: str, files: dict[str, bytes], *, record: str | None = None) -> None:
    """A hand-made installed distribution with a correct RECORD (or ``record`` as given)."""
    dist_info = root / f"{name}-1.0.dist-info"
    dist_info.mkdir(parents=True)
    (dist_info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    rows = []
    for rel, data in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        rows.append(f"{rel},sha256={digest},{len(data)}")
    rows.append(f"{dist_info.name}/METADATA,,")
    rows.append(f"{dist_info.name}/RECORD,,")
    (dist_info / "RECORD").write_text(record if record is not None else "\n".join(rows) + "\n")


def digests(folder: Path) -> dict[str, str]:
    """Everything under ``folder`` (slim's empty lock file left out: a refused run leaves it
    beside the journal it refused)."""
    out = tree_digest(folder)
    out.pop(f"{JOURNAL_DIR}/lock", None)
    return out


@pytest.fixture(autouse=True)
def private_state(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The journal key in a folder of its own, outside every tree a test hashes."""
    monkeypatch.setenv("WHEELFIX_STATE_DIR", str(tmp_path_factory.mktemp("state") / "wheelfix"))


@pytest.fixture
def site(tmp_path: Path) -> Path:
    root = tmp_path / "site"
    add_dist(
        root,
        "pkg",
        {
            "pkg/__init__.py": b"",
            "pkg/tests/__init__.py": b"",
            **{f"pkg/tests/test_{i}.py": b"def test(): pass\n" for i in range(20)},
        },
    )
    outside = tmp_path / "outside"
    outside.mkdir()
    for i in range(20):
        (outside / f"test_{i}.py").write_text("precious")
    (outside / "__init__.py").write_text("precious")
    (tmp_path / "sibling.txt").write_text("precious")
    return root


def outside_of(tmp_path: Path, root: Path) -> dict[str, str]:
    """Digests of the whole tmp tree except the root itself."""
    return {k: v for k, v in digests(tmp_path).items() if not f"{k}/".startswith(f"{root.name}/")}


def plant_journal(root: Path, lines: list[dict[str, str]], backup: dict[str, bytes]) -> Path:
    """A journal as a wheel could ship one (``pip install --target`` puts it in place)."""
    folder = root / JOURNAL_DIR / "20240101T000000-1"
    (folder / "backup").mkdir(parents=True)
    (folder / "journal.jsonl").write_text("".join(json.dumps(e) + "\n" for e in lines))
    for rel, data in backup.items():
        (folder / "backup" / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / "backup" / rel).write_bytes(data)
    return folder


@pytest.mark.parametrize(
    "entry",
    [
        {"op": "remove", "path": "../sibling.txt"},
        {"op": "remove", "path": "pkg/../../sibling.txt"},
        {"op": "remove", "path": "/etc/hostname"},
        {"op": "remove", "path": "SIBLING"},  # absolute, filled in below
    ],
)
def test_a_journal_entry_outside_the_root_is_never_replayed(
    site: Path, tmp_path: Path, entry: dict[str, str]
) -> None:
    if entry["path"] == "SIBLING":
        entry = {"op": "remove", "path": str(tmp_path / "sibling.txt")}
    entry = {**entry, "mac": "0" * 64}
    backup = {"sibling.txt": b"attacker", "etc/hostname": b"attacker"}
    plant_journal(site, [entry], backup)
    before, inside_before = outside_of(tmp_path, site), digests(site)
    for action in (lambda: recover(site), lambda: slim(site, apply=True, verify=False)):
        with pytest.raises(JournalError, match="line 1 names a path outside the root"):
            action()
    assert outside_of(tmp_path, site) == before
    assert digests(site) == inside_before


def test_a_journal_wheelfix_did_not_write_is_never_replayed(site: Path, tmp_path: Path) -> None:
    # Inside the root and well formed, but unsigned: a shipped journal that would replace
    # pkg/__init__.py with its own backup.
    plant_journal(
        site,
        [{"op": "remove", "path": "pkg/__init__.py", "mac": "0" * 64}],
        {"pkg/__init__.py": b"import os; os.system('id')\n"},
    )
    journal_key(site, create=True)  # this user has slimmed before: a key exists
    before = digests(site)
    with pytest.raises(JournalError, match="not written by this wheelfix"):
        recover(site)
    result = CliRunner().invoke(cli, ["slim", "--apply", "--no-config", str(site)])
    assert result.exit_code == 2, result.output
    assert "not written by this wheelfix" in result.stderr
    assert "remove that folder and run again" in result.stderr
    assert digests(site) == before
    assert (site / "pkg" / "__init__.py").read_bytes() == b""


@pytest.mark.parametrize(
    "text",
    [
        "not json\n",
        '{"op": "remove"}\n',
        pytest.param("[" * 100_000 + "\n", id="deep-nesting"),
        pytest.param('{"op": "remove", "path": "pkg/__init__.py", "mac": "\u00e9"}\n', id="mac"),
        pytest.param("\udcff\udcfe\n", id="not-utf8"),
    ],
)
def test_a_corrupt_journal_is_exit_2_with_what_to_do(site: Path, text: str) -> None:
    folder = plant_journal(site, [], {})
    (folder / "journal.jsonl").write_text(text, encoding="utf-8", errors="surrogateescape")
    before = digests(site)
    result = CliRunner().invoke(cli, ["slim", "--recover", str(site)])
    assert result.exit_code == 2, result.output
    assert "nothing was replayed or changed" in result.stderr
    assert "Traceback" not in result.output
    assert digests(site) == before


def test_a_shipped_lock_symlink_is_not_written_through(site: Path, tmp_path: Path) -> None:
    (site / JOURNAL_DIR).mkdir()
    (site / JOURNAL_DIR / "lock").symlink_to(tmp_path / "sibling.txt")
    before = outside_of(tmp_path, site)
    with pytest.raises(JournalError, match="lock: not a plain file"):
        slim(site, apply=True, verify=False)
    assert outside_of(tmp_path, site) == before


def test_a_symlinked_journal_folder_is_refused(site: Path, tmp_path: Path) -> None:
    (tmp_path / "elsewhere" / "x").mkdir(parents=True)
    (site / JOURNAL_DIR).symlink_to(tmp_path / "elsewhere")
    before = outside_of(tmp_path, site)
    with pytest.raises(JournalError, match="a symlink or not a folder"):
        recover(site)
    assert outside_of(tmp_path, site) == before


def test_a_folder_swapped_for_a_symlink_mid_apply_redirects_nothing(
    site: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The race from the issue, made deterministic: after the first change, pkg/tests becomes
    a symlink to a folder outside holding files of the same names."""
    real = slim_module._apply_one
    calls: list[tuple[object, ...]] = []

    def swap_then_apply(*args: object, **kwargs: object) -> None:
        if len(calls) == 1:
            (site / "pkg" / "tests").rename(site / "pkg" / "moved")
            (site / "pkg" / "tests").symlink_to(tmp_path / "outside")
        calls.append(args)
        real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(slim_module, "_apply_one", swap_then_apply)
    before = outside_of(tmp_path, site)
    result = slim(site, apply=True, verify=False, categories=["tests"])
    assert outside_of(tmp_path, site) == before
    assert len(calls) == 21
    assert len(result.refused) == 20
    assert all("'tests' is a symlink or not a folder" in why for why in result.refused.values())
    assert result.exit_code == 1
    assert [a.path for a in result.plan] == ["pkg/tests/__init__.py"]
    document = json.loads(json.dumps(result.to_json()))
    assert document["refused"] == result.refused and document["exit_code"] == 1
    schema = json.loads((REPO / "docs" / "schema" / "slim.schema.json").read_text())
    jsonschema.Draft202012Validator(schema).validate(document)
    # The refused files are where they were (inside the moved folder), nothing lost.
    assert len(list((site / "pkg" / "moved").iterdir())) == 20
    assert not (site / JOURNAL_DIR).exists()


def test_a_killed_run_is_recovered_only_with_its_own_key(site: Path, tmp_path: Path) -> None:
    before = digests(site)
    killed = killed_slim(site, 5, args=["--no-verify", "--no-config"])
    assert killed.returncode == 137, killed.stderr
    assert digests(site) != before
    signed = digests(site)
    key = Path(os.environ["WHEELFIX_STATE_DIR"]) / "slim-journal.key"
    key.rename(key.with_name("elsewhere"))  # another machine, another user: no key
    with pytest.raises(JournalError, match="no journal key"):
        recover(site)
    assert digests(site) == signed
    key.with_name("elsewhere").rename(key)
    assert recover(site) is not None
    assert digests(site) == before


@pytest.mark.parametrize("name", ["shake_128", "nosuchhash", "md5"])
def test_non_utf8_record_and_unknown_hash_names_do_not_crash(site: Path, name: str) -> None:
    data = b"print('x')\n"
    blob = bytes(range(256)) * 32  # 8 KiB: big enough to be deduplicated
    record = (
        "weird/__init__.py,shake_128=abc,1\n"
        f"weird/tests/test_a.py,{name}=abc,3\n"
        f"weird/a.bin,{name}=abc,3\n"
        f"weird/b.bin,{name}=abc,3\n"
        "weird/caf\udce9.py,sha256=abc,1\n"
        "weird-1.0.dist-info/RECORD,,\n"
    )
    root = site
    (root / "weird" / "tests").mkdir(parents=True)
    (root / "weird" / "__init__.py").write_bytes(data)
    (root / "weird" / "tests" / "test_a.py").write_bytes(data)
    (root / "weird" / "a.bin").write_bytes(blob)
    (root / "weird" / "b.bin").write_bytes(blob)
    (root / "weird-1.0.dist-info").mkdir()
    (root / "weird-1.0.dist-info" / "RECORD").write_bytes(record.encode("utf-8", "surrogateescape"))
    (root / "weird-1.0.dist-info" / "METADATA").write_text("Name: weird\nVersion: 1.0\n")
    result = slim(root, apply=True, verify=False, categories=["tests", "dedupe"])
    assert result.exit_code == 0
    assert {(a.kind, a.path) for a in result.plan if a.dist == "weird-1.0.dist-info"} == {
        ("remove", "weird/tests/test_a.py"),
        ("link", "weird/b.bin"),
    }
    assert not (root / "weird" / "tests").exists()
    assert (root / "weird" / "a.bin").stat().st_ino == (root / "weird" / "b.bin").stat().st_ino
    rewritten = (root / "weird-1.0.dist-info" / "RECORD").read_bytes()
    assert b"weird/caf\xe9.py,sha256=abc,1" in rewritten  # undecodable bytes kept as they were
    assert b"weird/__init__.py,shake_128=abc,1" in rewritten  # untouched rows unchanged
    assert f"weird/a.bin,{name}=abc,3".encode() in rewritten
    digest = base64.urlsafe_b64encode(hashlib.sha256(blob).digest()).rstrip(b"=").decode()
    assert f"weird/b.bin,sha256={digest},8192".encode() in rewritten  # the linked file
    assert b"tests/" not in rewritten


def test_a_thread_swapping_a_folder_for_a_symlink_during_apply_reaches_nothing_outside(
    tmp_path: Path,
) -> None:
    """The issue's race as it happened (7 of 16 runs removed files outside): a thread swaps
    the planned folder for a symlink to an outside folder, back and forth, while a 400-file
    plan is applied. Whatever the timing, nothing outside the root changes."""
    for attempt in range(3):
        base = tmp_path / str(attempt)
        root = base / "site"
        add_dist(
            root,
            "pkg",
            {
                "pkg/__init__.py": b"",
                **{f"pkg/tests/test_{i}.py": b"x = 1\n" for i in range(400)},
            },
        )
        outside = base / "outside"
        outside.mkdir()
        for i in range(400):
            (outside / f"test_{i}.py").write_text("precious")
        before = digests(outside)
        done = threading.Event()

        def swap(root: Path = root, outside: Path = outside, done: threading.Event = done) -> None:
            real, aside = root / "pkg" / "tests", root / "pkg" / "aside"
            while not done.is_set():
                with contextlib.suppress(OSError):
                    real.rename(aside)
                    real.symlink_to(outside)
                    real.unlink()
                    aside.rename(real)

        swapper = threading.Thread(target=swap)
        swapper.start()
        try:
            result = slim(root, apply=True, verify=False, categories=["tests"])
        finally:
            done.set()
            swapper.join()
        assert digests(outside) == before
        assert not (result.refused and result.exit_code == 0)


def test_a_changed_line_in_a_real_journal_is_refused(site: Path) -> None:
    before = digests(site)
    assert killed_slim(site, 3, args=["--no-verify", "--no-config"]).returncode == 137
    (folder,) = [p for p in (site / JOURNAL_DIR).iterdir() if p.is_dir()]
    journal = folder / "journal.jsonl"
    lines = journal.read_text().splitlines()
    entry = json.loads(lines[0])
    assert set(entry) == {"op", "path", "mac"} and len(entry["mac"]) == 64
    signed = journal.read_bytes()
    # Same MAC, another path inside the root: the line no longer verifies.
    journal.write_text(
        "\n".join([json.dumps({**entry, "path": "pkg/__init__.py"}), *lines[1:]]) + "\n"
    )
    during = digests(site)
    with pytest.raises(JournalError, match="line 1 was not written by this wheelfix"):
        recover(site)
    assert digests(site) == during
    journal.write_bytes(signed)
    assert recover(site) is not None
    assert digests(site) == before


def test_the_journal_key_is_private_and_outside_the_root(
    site: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = journal_key(site, create=True)
    assert key is not None and len(key) == 32
    path = Path(os.environ["WHEELFIX_STATE_DIR"]) / "slim-journal.key"
    assert path.stat().st_mode & 0o777 == 0o600
    assert journal_key(site, create=True) == key  # made once
    path.chmod(0o644)
    with pytest.raises(UsageError, match="no one else can read"):
        journal_key(site, create=False)
    monkeypatch.setenv("WHEELFIX_STATE_DIR", str(site / "pkg" / "state"))
    with pytest.raises(UsageError, match="inside"):
        slim(site, apply=True, verify=False)
    assert not (site / "pkg" / "state").exists()


def test_a_record_the_csv_module_cannot_read_is_left_and_reported(site: Path) -> None:
    record = site / "pkg-1.0.dist-info" / "RECORD"
    text = record.read_text()
    record.write_text(text + "pkg/huge.txt,sha256=" + "A" * 200_000 + ",1\n")  # over csv's limit
    result = slim(site, apply=True, verify=False, categories=["tests"])
    assert not (site / "pkg" / "tests").exists()  # the removals themselves are done
    why = result.refused["pkg-1.0.dist-info/RECORD"]
    assert why.startswith("not rewritten: not CSV the csv module reads")
    assert result.exit_code == 1
    assert record.read_text() == text + "pkg/huge.txt,sha256=" + "A" * 200_000 + ",1\n"
    assert not (site / JOURNAL_DIR).exists()


def test_a_dry_run_says_apply_would_refuse_a_foreign_journal(site: Path) -> None:
    plant_journal(site, [{"op": "remove", "path": "../x", "mac": "0" * 64}], {})
    before = digests(site)
    result = slim(site)
    assert result.pending is not None
    assert "--apply and --recover refuse it (exit 2)" in result.pending
    assert "names a path outside the root" in result.pending
    assert digests(site) == before


def installed_tree(root: Path, files: dict[str, str]) -> Path:
    """A site-packages folder with one distribution ``pkg 1.0`` owning ``files``."""
    dist_info = "pkg-1.0.dist-info"
    entries = [(path, text.encode()) for path, text in files.items()]
    entries.append((f"{dist_info}/METADATA", b"Metadata-Version: 2.1\nName: pkg\nVersion: 1.0\n"))
    for path, data in entries:
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_bytes(data)
    (root / dist_info / "RECORD").write_text(record_text(entries, f"{dist_info}/RECORD"))
    return root


RUNTIME_TREE = {
    "pkg/__init__.py": "",
    "pkg/build.py": 'TEMPLATE = Path(__file__).parent / "templates" / "module.c"\n',
    "pkg/templates/module.c": "/* compiled on first use */",
    "pkg/templates/shim.cpp": "// read with module.c",
    "pkg/loader.py": "open(os.path.join(HERE, 'jit.c')).read()",
    "pkg/jit.c": "int jit;",
    "pkg/_speedups.c": "/* generated by Cython: nobody reads it */",
}


def test_sources_the_package_names_are_kept_and_the_report_says_why(tmp_path: Path) -> None:
    tree = installed_tree(tmp_path, RUNTIME_TREE)
    result = slim(tree)  # a dry run plans the same as --apply before its baseline import
    removed = {a.path for a in result.plan if a.kind == "remove"}
    assert removed == {"pkg/_speedups.c"}
    assert result.by_category == {"sources": (1, len(RUNTIME_TREE["pkg/_speedups.c"]))}
    assert result.kept == {
        "pkg/jit.c": "read at run time: source 'jit.c' named in pkg/loader.py",
        "pkg/templates": "read at run time: source folder 'templates' (2 files) named in "
        "pkg/build.py",
    }
    assert result.to_json()["kept"] == result.kept


def test_without_the_sources_category_nothing_is_looked_up(tmp_path: Path) -> None:
    tree = installed_tree(tmp_path, RUNTIME_TREE)
    result = slim(tree, categories=["tests"])
    assert result.plan == () and result.kept == {}


def test_apply_keeps_run_time_sources_and_removes_the_rest(tmp_path: Path) -> None:
    tree = installed_tree(tmp_path, RUNTIME_TREE)
    result = slim(tree, apply=True, categories=["sources"])
    assert result.applied and not result.restored
    assert not (tree / "pkg/_speedups.c").exists()
    for kept in ("pkg/jit.c", "pkg/templates/module.c", "pkg/templates/shim.cpp"):
        assert (tree / kept).read_text() == RUNTIME_TREE[kept]
    assert set(result.kept) == {"pkg/jit.c", "pkg/templates"}
    assert "pkg/_speedups.c" not in (tree / "pkg-1.0.dist-info/RECORD").read_text()


def test_a_folder_slim_may_not_write_is_refused_and_left_whole(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with shared_folder() as root, shared_folder() as state_parent:
        add_dist(root, "demo", {"demo/__init__.py": b"X = 1\n", "demo/tests/test_a.py": b"T = 1\n"})
        assert wheelfix.slim(root, categories=["tests"]).by_category  # loads what slim loads
        for path in root.rglob("*"):
            path.chmod(0o755 if path.is_dir() else 0o644)
        os.chown(root, NOBODY, NOBODY)  # nobody may write the top, not demo/tests (root's)
        state = state_parent / "state"
        state.mkdir(mode=0o700)
        os.chown(state, NOBODY, NOBODY)
        monkeypatch.setenv("WHEELFIX_STATE_DIR", str(state))
        before = {str(p): p.read_bytes() for p in root.rglob("*") if p.is_file()}

        def apply() -> tuple[int, dict[str, str]]:
            result = wheelfix.slim(root, categories=["tests"], apply=True, verify=False)
            return result.exit_code, dict(result.refused)

        code, refused = as_nobody(apply)
        assert code == 1
        assert list(refused) == ["demo/tests/test_a.py"]
        assert "ermission denied" in refused["demo/tests/test_a.py"]
        after = {
            str(p): p.read_bytes()
            for p in root.rglob("*")
            if p.is_file() and JOURNAL_DIR not in str(p)
        }
        assert after == before
