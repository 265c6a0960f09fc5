"""Reading a Dockerfile for the size lessons, before anything is built.

Not a general linter (hadolint does that well): only what makes Python images big — the
build context copied whole, a full base image, pip's cache kept, cleanup in a later RUN,
build tools in the final stage, Alpine with manylinux-only wheels. Each finding names the
line and the rewrite.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path

from packaging.utils import InvalidWheelFilename, parse_wheel_filename

from wheelfix.errors import UsageError
from wheelfix.findings import Check, Finding, Selection, Severity
from wheelfix.formats.bounded import MalformedInputError, decode_text, read_regular
from wheelfix.reports import FindingsReport, findings_json

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
_CLEANUP_TARGETS = (
    "/root/.cache",
    "/var/lib/apt/lists",
    "/var/cache/apt",
    "/tmp",  # noqa: S108
    "/wheelhouse",
    "/wheels",
    "/build",
    "~/.cache",
)
_TRUE = ("1", "true", "on", "yes")
#: What each installer needs to keep its cache out of the layer: its cache folder under
#: ~/.cache, the option, and the environment variable.
_CACHES = {
    "pip": ("pip", "--no-cache-dir", "PIP_NO_CACHE_DIR"),
    "uv": ("uv", "--no-cache", "UV_NO_CACHE"),
}
#: Names shown before a list is cut with "and N more".
_SHOWN = 5


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
class DockerfileReport(FindingsReport):
    path: str
    stages: int
    findings: tuple[Finding, ...]
    fail_on: Severity | None = Severity.ERROR

    def json_body(self) -> dict[str, object]:
        return {
            "path": self.path,
            "stages": self.stages,
            "findings": findings_json(self.findings),
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
    select: Iterable[str] = (),
    ignore: Iterable[str] = (),
) -> DockerfileReport:
    """Read a Dockerfile and report the size lessons (codes WF8xx).

    ``select``/``ignore`` filter the findings as in :func:`wheelfix.check`. Raises
    :class:`~wheelfix.UsageError` for a file that cannot be read or is not a Dockerfile."""
    selection = Selection.resolve(select, ignore)
    fail_on = Severity.gate(fail_on)
    dockerfile = Path(path)
    try:
        text = _read_dockerfile(dockerfile)
    except MalformedInputError as exc:  # the API promises UsageError for an unreadable file
        raise UsageError(str(exc)) from None
    instructions = parse_dockerfile(text)
    if not any(i.keyword == "FROM" for i in instructions):
        raise UsageError(f"{dockerfile}: no FROM instruction: not a Dockerfile")
    report = _analyze(
        str(dockerfile), instructions, _dockerignore(dockerfile.parent), wheelhouse, fail_on
    )
    return replace(report, findings=tuple(selection.keep(report.findings)))


@dataclass(slots=True)
class _Stage:
    """What a stage has at a point: caches switched off by ENV, and the paths earlier layers
    filled (path prefix -> line and what did it). ``FROM <stage>`` starts from a copy of
    that stage's state at its end, as BuildKit starts from its image (ENV and layers)."""

    no_cache: set[str] = field(default_factory=set)
    created: dict[str, tuple[int, str]] = field(default_factory=dict)
    copied: set[int] = field(default_factory=set)  # lines of COPY/ADD among ``created``

    def fork(self) -> _Stage:
        return _Stage(set(self.no_cache), dict(self.created), set(self.copied))


def _analyze(
    name: str,
    instructions: list[Instruction],
    ignore: set[str] | None,
    wheelhouse: str | Path | None,
    fail_on: Severity | None,
) -> DockerfileReport:
    findings: list[Finding] = []
    stages = max((i.stage for i in instructions), default=0) + 1
    final = stages - 1
    named: dict[str, _Stage] = {}  # stage name (lower case) -> its state
    state = _Stage()
    for ins in instructions:
        if ins.keyword == "FROM":
            words = [w for w in _words(ins.arguments) if not w.startswith("--")]
            image = words[0] if words else ""
            parent = named.get(image.lower())
            state = parent.fork() if parent is not None else _Stage()
            if len(words) >= 3 and words[1].lower() == "as":
                named[words[2].lower()] = state
            findings += _base_findings(name, ins, image, final, wheelhouse)
        elif ins.keyword == "ENV":
            _apply_env(state, ins.arguments)
        elif ins.keyword in ("COPY", "ADD"):
            findings += _copy_findings(name, ins, state, ignore)
        elif ins.keyword == "RUN":
            # RUN --mount=... --network=...: BuildKit flags come before the command.
            arguments = re.sub(r"^(\s*--[a-z-]+=\S+)+\s*", "", ins.arguments)
            commands = _commands(arguments)
            purged = _removed_in(commands)
            for command in commands:
                findings += _run_findings(name, ins, command, final, state, purged)
    return DockerfileReport(
        path=name,
        stages=stages,
        findings=tuple(sorted(findings, key=lambda f: (-f.level, f.code, f.path or ""))),
        fail_on=fail_on,
    )


def _apply_env(state: _Stage, arguments: str) -> None:
    """``ENV K=V ...`` or the legacy ``ENV K V``: note the cache switches."""
    words = _words(arguments)
    if words and "=" not in words[0]:
        pairs = [(words[0], " ".join(words[1:]))]
    else:
        pairs = [(w.partition("=")[0], w.partition("=")[2]) for w in words if "=" in w]
    for key, value in pairs:
        for tool, (_folder, _option, variable) in _CACHES.items():
            if key == variable and value.strip().lower() in _TRUE:
                state.no_cache.add(tool)
            elif key == variable:
                state.no_cache.discard(tool)


def _listed(items: list[str]) -> str:
    """``a, b, c`` — or the first few ``and N more`` when the list is long."""
    if len(items) <= _SHOWN:
        return ", ".join(items)
    return f"{', '.join(items[:_SHOWN])} and {len(items) - _SHOWN} more"


def _copy_findings(
    name: str, ins: Instruction, state: _Stage, ignore: set[str] | None
) -> list[Finding]:
    out = []
    args = [w for w in _words(ins.arguments) if not w.startswith("--")]
    sources, target = args[:-1], (args[-1] if args else "")
    from_stage = "--from" in ins.arguments
    if not from_stage and any(s in (".", "./") for s in sources):
        missing = [p for p in (".git", "venv", ".venv", "*.ipynb") if p not in (ignore or ())]
        if missing:
            if ignore is None:
                why = "no .dockerignore"
            elif not ignore:
                why = "the .dockerignore excludes nothing"
            else:
                why = f".dockerignore does not exclude {', '.join(missing)}"
            out.append(
                _finding(
                    Check.COPY_WHOLE_CONTEXT,
                    name,
                    ins.line,
                    f"{ins.keyword} {ins.arguments} copies the whole build context and "
                    f"{why}: .git, virtual environments and notebooks end up in the image",
                )
            )
    for prefix in _CLEANUP_TARGETS:
        if target.rstrip("/").startswith(prefix.rstrip("/")):
            state.created[prefix] = (ins.line, ins.keyword)
            state.copied.add(ins.line)
    return out


def _read_dockerfile(dockerfile: Path) -> str:
    """The Dockerfile's text: a regular file (a FIFO or device is refused without waiting),
    at most ``MAX_DOCKERFILE_BYTES``, strict UTF-8."""
    return decode_text(read_regular(dockerfile, MAX_DOCKERFILE_BYTES), str(dockerfile))


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


def _dockerignore(folder: Path) -> set[str] | None:
    """The patterns of ``.dockerignore`` (empty when it excludes nothing); ``None`` when
    there is no such file."""
    ignore_file = folder / ".dockerignore"
    try:
        data = read_regular(ignore_file, MAX_DOCKERFILE_BYTES)
    except MalformedInputError as exc:
        if exc.reason == "no such file":
            return None
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
        out.append(
            _finding(
                Check.FULL_BASE_IMAGE,
                name,
                ins.line,
                f"FROM {image}: the full image carries compilers and -dev packages (about 1 GB); "
                f"use python:{tag.split('-')[0]}-slim for the runtime stage",
            )
        )
    if "alpine" in image and wheelhouse is not None:
        if not Path(wheelhouse).is_dir():
            raise UsageError(f"{wheelhouse}: --wheelhouse is not a folder")
        manylinux_only = _manylinux_only(Path(wheelhouse))
        if manylinux_only:
            out.append(
                _finding(
                    Check.ALPINE_MANYLINUX,
                    name,
                    ins.line,
                    f"FROM {image} is musl-based, but {_listed(manylinux_only)} "
                    "have only manylinux (glibc) wheels here: pip there will compile them from "
                    "source or fail",
                )
            )
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


def _installer(command: list[str]) -> str | None:
    """``pip`` or ``uv`` when the command installs packages with it, else ``None``."""
    program = command[0].rsplit("/", 1)[-1]
    pip = program in ("pip", "pip3") or (
        program.startswith("python") and command[1:3] == ["-m", "pip"]
    )
    if pip and "install" in command:
        return "pip"
    uv_installs = command[1:2] == ["sync"] or command[1:3] in (
        ["pip", "install"],
        ["pip", "sync"],
        ["tool", "install"],
    )
    if program == "uv" and uv_installs:
        return "uv"
    return None


def _cache_mounted(ins: Instruction, tool: str) -> bool:
    """``RUN --mount=type=cache,target=/root/.cache/TOOL`` (or all of ``~/.cache``): the
    cache lives in BuildKit's cache, never in the layer."""
    mounts = re.findall(r"--mount=(\S+)", ins.arguments)
    return any("type=cache" in m and re.search(rf"\.cache(/{tool})?/?(,|$)", m) for m in mounts)


def _run_findings(
    name: str,
    ins: Instruction,
    command: list[str],
    final: int,
    state: _Stage,
    purged: set[str],
) -> list[Finding]:
    out: list[Finding] = []
    program = command[0].rsplit("/", 1)[-1]
    tool = _installer(command)
    if tool is not None:
        folder, option, variable = _CACHES[tool]
        if option not in command and tool not in state.no_cache and not _cache_mounted(ins, tool):
            verb = "pip install" if tool == "pip" else f"uv {command[1]}"
            out.append(
                _finding(
                    Check.PIP_CACHE,
                    name,
                    ins.line,
                    f"{verb} keeps its cache in the layer (~/.cache/{folder}): add {option} "
                    f"or ENV {variable}=1",
                )
            )
        for prefix in ("/root/.cache", "~/.cache"):
            state.created[prefix] = (ins.line, f"{tool} install")
    if program in ("apt-get", "apt") and "update" in command:
        state.created["/var/lib/apt/lists"] = (ins.line, f"{program} update")
    if program in ("apt-get", "apt") and "install" in command:
        state.created["/var/cache/apt"] = (ins.line, f"{program} install")
        tools = [w for w in command if _BUILD_PACKAGES.search(w) and w not in purged]
        if tools and ins.stage == final:
            out.append(
                _finding(
                    Check.BUILD_TOOLS_FINAL_STAGE,
                    name,
                    ins.line,
                    f"installs {_listed(tools)} in the final stage: build in a builder "
                    "stage and copy the wheels over (see docs/docker.md)",
                )
            )
    if program == "apk" and "add" in command:
        tools = [w for w in command if _BUILD_PACKAGES.search(w) and w not in purged]
        if tools and ins.stage == final and "--virtual" not in " ".join(command):
            out.append(
                _finding(
                    Check.BUILD_TOOLS_FINAL_STAGE,
                    name,
                    ins.line,
                    f"installs {_listed(tools)} in the final stage: use a builder stage",
                )
            )
    if program == "rm":
        out += _late_cleanup(name, ins, command, state)
    return out


def _late_cleanup(name: str, ins: Instruction, command: list[str], state: _Stage) -> list[Finding]:
    out = []
    for target in (w for w in command[1:] if not w.startswith("-")):
        for prefix, (line, what) in state.created.items():
            if target.rstrip("/*").startswith(prefix.rstrip("/")) and line != ins.line:
                how = (
                    "mount them into the one RUN that needs them instead of copying "
                    "(RUN --mount=type=bind,...), so they never enter a layer"
                    if line in state.copied
                    else "delete them in the same RUN"
                )
                out.append(
                    _finding(
                        Check.LATE_CLEANUP,
                        name,
                        ins.line,
                        f"rm {target} comes after line {line} ({what}), which created it in a "
                        f"layer of its own: the bytes stay in that layer; {how}",
                    )
                )
                break
    return out
