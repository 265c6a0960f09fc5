"""Reading a Dockerfile for the size lessons, before anything is built.

Not a general linter (hadolint does that well): only what makes Python images big — the
build context copied whole, a full base image, pip's cache kept, cleanup in a later RUN,
build tools in the final stage, Alpine with manylinux-only wheels. Each finding names the
line and the rewrite.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path

from packaging.utils import InvalidWheelFilename, parse_wheel_filename

from wheelfix import __version__
from wheelfix.errors import UsageError
from wheelfix.findings import Check, Finding, Severity, gate_exit_code
from wheelfix.formats.bounded import MalformedInputError, decode_text, read_regular
from wheelfix.wheels.results import SCHEMA_VERSION

__all__ = [
    "MAX_DOCKERFILE_BYTES",
    "DockerfileReport",
    "Instruction",
    "analyze_dockerfile",
    "parse_dockerfile",
]

#: The largest Dockerfile (and ``.dockerignore``) read; real ones are a few kilobytes.
MAX_DOCKERFILE_BYTES = 1 << 20

_BUILD_PACKAGES = re.compile(
    r"^(gcc|g\+\+|clang|build-essential|build-base|make|cmake|gfortran|musl-dev)([-=:].*)?$"
    r"|-dev([=:].*)?$|-devel$"
)
# Paths inside the image (not on this host) that builds commonly fill and later delete.
_CLEANUP_TARGETS = ("/root/.cache", "/var/lib/apt/lists", "/var/cache/apt", "/tmp",  # noqa: S108
                    "/wheelhouse", "/wheels", "/build", "~/.cache")  # fmt: skip


@dataclass(frozen=True, slots=True)
class Instruction:
    line: int
    keyword: str
    arguments: str
    stage: int


def parse_dockerfile(text: str) -> list[Instruction]:
    """Logical instructions: continuation lines joined, comments dropped, stages counted."""
    out: list[Instruction] = []
    stage = -1
    pending = ""
    start = 0
    escape = "\\"
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if not pending:
            if stripped.lower().startswith("# escape=") and not out:
                escape = stripped.split("=", 1)[1].strip() or "\\"
                continue
            if not stripped or stripped.startswith("#"):
                continue
            start = number
        elif not stripped or stripped.startswith("#"):
            continue  # empty lines and comments inside a continued instruction, as BuildKit
        if stripped.endswith(escape):
            pending += stripped[: -len(escape)] + " "
            continue
        logical = (pending + stripped).strip()
        pending = ""
        keyword, _, arguments = logical.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            stage += 1
        out.append(Instruction(start, keyword, arguments.strip(), max(stage, 0)))
    if pending:
        keyword, _, arguments = pending.strip().partition(" ")
        out.append(Instruction(start, keyword.upper(), arguments.strip(), max(stage, 0)))
    return out


@dataclass(frozen=True, slots=True, kw_only=True)
class DockerfileReport:
    path: str
    stages: int
    findings: tuple[Finding, ...]
    fail_on: Severity | None = Severity.ERROR

    @property
    def exit_code(self) -> int:
        return gate_exit_code(self.findings, self.fail_on)

    def to_json(self) -> dict[str, object]:
        return {
            "schema_version": SCHEMA_VERSION,
            "wheelfix_version": __version__,
            "path": self.path,
            "stages": self.stages,
            "findings": [f.to_json() for f in self.findings],
            "exit_code": self.exit_code,
        }


def _finding(check: Check, path: str, line: int, message: str) -> Finding:
    return Finding(check=check, path=f"{path}:{line}", message=message)


def _words(arguments: str) -> list[str]:
    try:
        return shlex.split(arguments, posix=True)
    except ValueError:
        return arguments.split()


def _commands(arguments: str) -> list[list[str]]:
    """A RUN's shell commands, split on && ; || and |."""
    words = _words(arguments.replace("&&", " && ").replace(";", " ; ").replace("||", " || "))
    commands: list[list[str]] = [[]]
    for word in words:
        if word in ("&&", ";", "||", "|"):
            commands.append([])
        else:
            commands[-1].append(word)
    return [c for c in commands if c]


def analyze_dockerfile(
    path: str | Path,
    *,
    wheelhouse: str | Path | None = None,
    fail_on: Severity | str | None = Severity.ERROR,
) -> DockerfileReport:
    fail_on = Severity.gate(fail_on)
    dockerfile = Path(path)
    text = _read_dockerfile(dockerfile)
    instructions = parse_dockerfile(text)
    if not any(i.keyword == "FROM" for i in instructions):
        raise UsageError(f"{dockerfile}: no FROM instruction: not a Dockerfile")
    name = str(dockerfile)
    findings: list[Finding] = []
    stages = max((i.stage for i in instructions), default=0) + 1
    final = stages - 1
    ignore = _dockerignore(dockerfile.parent)
    pip_cache_off = False
    created: dict[str, int] = {}  # path prefix -> line of the RUN/COPY that filled it
    copied: set[int] = set()  # lines of COPY/ADD instructions among those
    for ins in instructions:
        # Possessive quantifiers: a run of spaces is never re-split (quadratic otherwise).
        if ins.keyword == "ENV" and re.search(r"PIP_NO_CACHE_DIR(?:\s*+=|\s)\s*+(1|true|on|yes)",
                                              ins.arguments, re.IGNORECASE):  # fmt: skip
            pip_cache_off = True
        if ins.keyword == "FROM":
            created.clear()  # layers of another stage never reach this one
            pip_cache_off = False
            words = [w for w in _words(ins.arguments) if not w.startswith("--")]
            image = words[0] if words else ""
            findings += _base_findings(name, ins, image, final, wheelhouse)
        elif ins.keyword in ("COPY", "ADD"):
            args = [w for w in _words(ins.arguments) if not w.startswith("--")]
            sources, target = args[:-1], (args[-1] if args else "")
            from_stage = "--from" in ins.arguments
            if not from_stage and any(s in (".", "./") for s in sources):
                missing = [p for p in (".git", "venv", ".venv", "*.ipynb") if p not in ignore]
                if missing:
                    why = "no .dockerignore" if not ignore else (
                        f".dockerignore does not exclude {', '.join(missing)}")  # fmt: skip
                    findings.append(_finding(
                        Check.COPY_WHOLE_CONTEXT, name, ins.line,
                        f"{ins.keyword} {ins.arguments} copies the whole build context and "
                        f"{why}: .git, virtual environments and notebooks end up in the image",
                    ))  # fmt: skip
            for prefix in _CLEANUP_TARGETS:
                if target.rstrip("/").startswith(prefix.rstrip("/")):
                    created.setdefault(prefix, ins.line)
                    copied.add(ins.line)
        elif ins.keyword == "RUN":
            # RUN --mount=... --network=...: BuildKit flags come before the command.
            arguments = re.sub(r"^(\s*--[a-z-]+=\S+)+\s*", "", ins.arguments)
            # A cache mount on pip's cache keeps it out of the layer by design.
            cached = _pip_cache_mount(ins.arguments)
            commands = _commands(arguments)
            purged = _removed_in(commands)
            for command in commands:
                findings += _run_findings(
                    name, ins, command, final, pip_cache_off or cached, created, copied, purged
                )
    return DockerfileReport(
        path=name, stages=stages,
        findings=tuple(sorted(findings, key=lambda f: (-f.level, f.code, f.path or ""))),
        fail_on=fail_on,
    )  # fmt: skip


def _read_dockerfile(dockerfile: Path) -> str:
    """The Dockerfile's text: a regular file (a FIFO or device is refused without waiting),
    at most ``MAX_DOCKERFILE_BYTES``, strict UTF-8."""
    return decode_text(read_regular(dockerfile, MAX_DOCKERFILE_BYTES), str(dockerfile))


def _pip_cache_mount(arguments: str) -> bool:
    """``--mount=...type=cache...`` naming ``.cache/pip`` in one word (no regex: a long
    word full of ``type=cache`` made the pattern backtrack quadratically)."""
    for word in arguments.split():
        start = word.find("--mount=")
        if start < 0:
            continue
        rest = word[start + len("--mount=") :]
        cache = rest.find("type=cache")
        if cache >= 0 and ".cache/pip" in rest[cache + len("type=cache") :]:
            return True
    return False


def _removed_in(commands: list[list[str]]) -> set[str]:
    """Packages one RUN removes again (``apt-get purge gcc``, ``apk del gcc``): installed
    and removed in one layer, they never reach the image."""
    out: set[str] = set()
    for command in commands:
        program = command[0].rsplit("/", 1)[-1] if command else ""
        apt_removes = program in ("apt-get", "apt") and bool({"purge", "remove"} & set(command))
        if apt_removes or (program == "apk" and "del" in command):
            out.update(w for w in command[1:] if not w.startswith("-"))
    return out


def _dockerignore(folder: Path) -> set[str]:
    ignore_file = folder / ".dockerignore"
    try:
        data = read_regular(ignore_file, MAX_DOCKERFILE_BYTES)
    except MalformedInputError as exc:
        if exc.reason == "no such file":
            return set()
        raise
    patterns = set()
    for raw in data.decode("utf-8", errors="replace").splitlines():
        line = raw.strip()
        if line and not line.startswith(("#", "!")):
            patterns.add(line.strip("/").removeprefix("**/"))
    return patterns


def _base_findings(
    name: str, ins: Instruction, image: str, final: int, wheelhouse: str | Path | None
) -> list[Finding]:
    out = []
    repo, _, tag = image.partition(":")
    if (
        ins.stage == final
        and repo.split("/")[-1] == "python"
        and tag
        and not re.search(r"slim|alpine", tag)
    ):
        out.append(_finding(
            Check.FULL_BASE_IMAGE, name, ins.line,
            f"FROM {image}: the full image carries compilers and -dev packages (about 1 GB); "
            f"use python:{tag.split('-')[0]}-slim for the runtime stage",
        ))  # fmt: skip
    if "alpine" in image and wheelhouse is not None:
        if not Path(wheelhouse).is_dir():
            raise UsageError(f"{wheelhouse}: --wheelhouse is not a folder")
        manylinux_only = _manylinux_only(Path(wheelhouse))
        if manylinux_only:
            out.append(_finding(
                Check.ALPINE_MANYLINUX, name, ins.line,
                f"FROM {image} is musl-based, but {', '.join(manylinux_only[:5])} "
                "have only manylinux (glibc) wheels here: pip there will compile them from "
                "source or fail",
            ))  # fmt: skip
    return out


def _manylinux_only(folder: Path) -> list[str]:
    platforms: dict[str, set[str]] = {}
    for wheel in sorted(folder.glob("*.whl")):
        try:
            project, _version, _build, tags = parse_wheel_filename(wheel.name)
        except InvalidWheelFilename:
            continue
        kinds = platforms.setdefault(str(project), set())
        for tag in tags:
            if tag.platform.startswith("manylinux"):
                kinds.add("glibc")
            elif tag.platform.startswith("musllinux") or tag.platform == "any":
                kinds.add("musl")
    return sorted(p for p, kinds in platforms.items() if kinds == {"glibc"})


def _run_findings(
    name: str,
    ins: Instruction,
    command: list[str],
    final: int,
    pip_cache_off: bool,
    created: dict[str, int],
    copied: set[int],
    purged: set[str],
) -> list[Finding]:
    out: list[Finding] = []
    program = command[0].rsplit("/", 1)[-1]
    pip = program in ("pip", "pip3") or (
        program.startswith("python") and command[1:3] == ["-m", "pip"]
    )
    if pip and "install" in command:
        if "--no-cache-dir" not in command and not pip_cache_off:
            out.append(_finding(
                Check.PIP_CACHE, name, ins.line,
                "pip install keeps its cache in the layer (~/.cache/pip): add --no-cache-dir "
                "or ENV PIP_NO_CACHE_DIR=1",
            ))  # fmt: skip
        created.setdefault("/root/.cache", ins.line)
        created.setdefault("~/.cache", ins.line)
    if program in ("apt-get", "apt") and "install" in command:
        created.setdefault("/var/lib/apt/lists", ins.line)
        created.setdefault("/var/cache/apt", ins.line)
        tools = [w for w in command if _BUILD_PACKAGES.search(w) and w not in purged]
        if tools and ins.stage == final:
            out.append(_finding(
                Check.BUILD_TOOLS_FINAL_STAGE, name, ins.line,
                f"installs {', '.join(tools[:5])} in the final stage: build in a builder "
                "stage and copy the wheels over (see docs/docker.md)",
            ))  # fmt: skip
    if program == "apk" and "add" in command:
        tools = [w for w in command if _BUILD_PACKAGES.search(w) and w not in purged]
        if tools and ins.stage == final and "--virtual" not in " ".join(command):
            out.append(_finding(
                Check.BUILD_TOOLS_FINAL_STAGE, name, ins.line,
                f"installs {', '.join(tools[:5])} in the final stage: use a builder stage",
            ))  # fmt: skip
    if program == "rm":
        for target in (w for w in command[1:] if not w.startswith("-")):
            for prefix, line in created.items():
                if target.rstrip("/*").startswith(prefix.rstrip("/")) and line != ins.line:
                    how = (
                        "mount them into the one RUN that needs them instead of copying "
                        "(RUN --mount=type=bind,...), so they never enter a layer"
                        if line in copied
                        else "delete them in the same RUN"
                    )
                    out.append(_finding(
                        Check.LATE_CLEANUP, name, ins.line,
                        f"rm {target} comes after line {line}, which created it in a layer of "
                        f"its own: the bytes stay in that layer; {how}",
                    ))  # fmt: skip
                    break
    return out
