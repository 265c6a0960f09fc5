"""Platform verdicts: which tag the binaries satisfy, which they could reach, what must be grafted.

The arithmetic follows ``auditwheel show`` so that the two agree (tests compare them on real
wheels), but every verdict here carries its reason: the file and the symbol version,
library, forbidden symbol or ISA note that forces it.
"""

from __future__ import annotations

import functools
import posixpath
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatchcase

from packaging.utils import canonicalize_name

from wheelfix.findings import Check, Finding, Severity
from wheelfix.formats.elf import ElfInfo
from wheelfix.linux.libraries import (
    LIBPYTHON_RE,
    HostLibraries,
    LibraryTree,
    Outside,
    is_loader,
    needed_through,
    resolve_tree,
)
from wheelfix.linux.loadable import is_extension
from wheelfix.linux.policy import (
    Libc,
    Policy,
    PolicySet,
    TagInfo,
    parse_platform_tag,
    policies_for,
)
from wheelfix.wheels.checks import WheelView

__all__ = ["PlatformVerdict", "analyze_platform"]

#: Native code for other platforms, recognised by name (their formats are not read here).
_NATIVE_SUFFIXES = {
    ".pyd": "Windows extension module (.pyd)",
    ".dll": "Windows library (.dll)",
    ".dylib": "macOS library (.dylib)",
}
_CPYTHON_RE = re.compile(r"\.cpython-(3)(\d+)")
_SUFFIX_LIBC_RE = re.compile(r"-linux-(?P<libc>gnu|musl|android)[a-z0-9_]*\.so$")
_LIBC_SONAMES = ("libc.musl-", "ld-musl-", "libc.so.6", "ld-linux", "ld64.so.")
_PYFPE = frozenset({"PyFPE_jbuf", "PyFPE_dummy", "PyFPE_counter"})


@dataclass(frozen=True, slots=True, kw_only=True)
class PlatformVerdict:
    consistent: str | None
    repairable: str | None
    libc: str | None
    arch: str | None
    external_libraries: Mapping[str, tuple[str, ...]]
    external_paths: Mapping[str, str | None]
    external_sizes: Mapping[str, int]
    findings: tuple[Finding, ...]


@dataclass(slots=True)
class _Constraint:
    """Why a policy is out of reach."""

    policy: Policy
    reason: str
    path: str | None


@dataclass(slots=True)
class _Analysis:
    policies: PolicySet
    externals: dict[str, dict[str, tuple[str, ...]]] = field(default_factory=dict)
    constraints: list[_Constraint] = field(default_factory=list)
    #: (file, library, symbol) -> the policies that forbid it
    forbidden: dict[tuple[str, str, str], list[Policy]] = field(default_factory=dict)
    #: external soname -> the libraries it is needed by, when no wheel file needs it itself
    via: dict[str, tuple[str, ...]] = field(default_factory=dict)
    #: soname patterns never external (``check --exclude``)
    exclude: tuple[str, ...] = ()
    #: soname -> (distribution, site-packages path, wheel file that needs it)
    supplied: dict[str, tuple[str, str, str]] = field(default_factory=dict)


def _suffix_libc(path: str) -> Libc | None:
    """The libc an extension module's suffix names (``.cpython-312-x86_64-linux-musl.so``,
    ``-arm-linux-musleabihf.so``, ``-linux-gnu.so``), as CPython's EXT_SUFFIX spells it."""
    name = posixpath.basename(path)
    m = _SUFFIX_LIBC_RE.search(name)
    if m is None:
        return None
    if m["libc"] in ("musl", "android"):
        return Libc(m["libc"])
    # CPython before 3.13 may say -linux-gnu on musl too (3.10 and older always did:
    # bpo-43112), so only a newer suffix proves glibc.
    version = _CPYTHON_RE.search(name)
    if version is None or (int(version[1]), int(version[2])) < (3, 13):
        return None
    return Libc.GLIBC


def _elf_libc(elf: ElfInfo) -> Libc | None:
    """What the file itself says; Android's loader is ``/system/bin/linker[64]``."""
    if elf.interpreter is not None and elf.interpreter.startswith("/system/bin/linker"):
        return Libc.ANDROID
    return Libc(elf.libc) if elf.libc is not None else None


def _file_libc(path: str, elf: ElfInfo) -> tuple[Libc, str] | None:
    """One file's own evidence: its interpreter, its DT_NEEDED libc, its suffix."""
    own = _elf_libc(elf)
    if own is not None:
        what = f"the interpreter of {path}" if elf.interpreter else f"DT_NEEDED of {path}"
        return own, what
    by_suffix = _suffix_libc(path)
    if by_suffix is not None:
        return by_suffix, f"the extension suffix of {posixpath.basename(path)}"
    return None


def decide_libc(elves: Mapping[str, ElfInfo], tag_infos: Sequence[TagInfo]) -> tuple[Libc, str]:
    """The wheel's C library and what decided it, strongest evidence first: a program
    interpreter, a DT_NEEDED libc soname, an extension-module suffix (``-linux-musl``; a
    ``-linux-gnu`` one only from CPython 3.13 on), the filename's tag, else glibc."""
    for path, elf in elves.items():
        own = _elf_libc(elf)
        if elf.interpreter is not None and own is not None:
            return own, f"the interpreter {elf.interpreter} of {path}"
    for path, elf in elves.items():
        own = _elf_libc(elf)
        if own is not None:
            soname = next(n for n in elf.needed if n.startswith(_LIBC_SONAMES))
            return own, f"{path} needing {soname}"
    for path in elves:
        by_suffix = _suffix_libc(path)
        if by_suffix is not None:
            return by_suffix, f"the extension suffix of {posixpath.basename(path)}"
    claims = {t.libc: t.tag for t in tag_infos if t.libc is not None}
    if len(claims) == 1:
        ((libc, tag),) = claims.items()
        return libc, f"the filename's {tag} tag"
    return Libc.GLIBC, "default (nothing in the wheel names a C library)"


def _libc_claim_findings(tag_infos: Sequence[TagInfo], libc: Libc, evidence: str) -> list[Finding]:
    wrong = sorted(t.tag for t in tag_infos if t.libc is not None and t.libc is not libc)
    if not wrong:
        return []
    return [
        Finding(
            check=Check.WRONG_LIBC,
            message=f"filename claims {', '.join(wrong)}, but the binaries are for "
            f"{libc.value} (decided by {evidence}); use {libc.prefix} tags",
        )
    ]


def _runs_on(elf_arch: str, wheel_arch: str) -> bool:
    """Whether a binary for ``elf_arch`` loads on a ``wheel_arch`` machine: the same
    architecture, or ARMv6 hard-float code on an ARMv7 (armv7l) machine."""
    return elf_arch == wheel_arch or (elf_arch, wheel_arch) == ("armv6l", "armv7l")


def analyze_platform(
    view: WheelView,
    host: HostLibraries,
    *,
    target: str | None = None,
    root_is_purelib: bool = False,
    exclude: tuple[str, ...] = (),
    siblings: Mapping[str, str] | None = None,
) -> PlatformVerdict:
    """The tags the wheel's binaries satisfy as they are and after a repair, the libraries
    a repair must graft, and the findings that explain both.

    ``exclude``: soname patterns (fnmatch) provided at run time by something else, never
    external (``check --exclude``). ``siblings``: site-packages path of each shared library
    in the other wheels of the same run -> that wheel's distribution name."""
    findings = _purelib_findings(view, root_is_purelib) + _unreadable_findings(view)
    tag_infos = [t for t in (parse_platform_tag(p) for p in view.name.platforms) if t]
    elves = dict(sorted(view.elves.items()))
    if not elves:
        # A wheel without binaries installs anywhere its Python tag allows: no target verdict.
        return _no_verdict(None, None, findings)
    arch = _arch_of(tag_infos, elves)
    libc, evidence = decide_libc(elves, tag_infos)
    findings += _libc_claim_findings(tag_infos, libc, evidence)
    considered = _loadable_together(elves, arch, libc, evidence, findings)
    if arch is None or not considered:
        return _no_verdict(libc.value, arch, findings)
    # musl and Android keep one policy: the claimed musllinux version or API level
    musl_base = next((t.base for t in tag_infos if t.libc is libc is not Libc.GLIBC), None)
    policies = policies_for(libc, arch, musl_base)
    roots = _roots(considered)
    outside = _outside_provider(view, siblings or {})
    trees = {
        p: resolve_tree(p, considered[p], considered, host, libc=libc.value, outside=outside)
        for p in roots
    }
    analysis = _Analysis(policies, exclude=exclude)
    sym_policy = _symbol_policy(analysis, considered, trees)
    # the best tag with nothing external, as the symbol analysis found the externals
    ref_policy = max(p for p in policies.policies if not analysis.externals.get(p.name))
    repairable = min(
        sym_policy,
        _blacklist_policy(analysis, considered, roots),
        _machine_policy(analysis, considered, trees, roots),
        _pyfpe_policy(analysis, considered, roots, findings),
    )
    consistent = min(repairable, ref_policy)
    highest_ext = analysis.externals.get(policies.highest.name, {})
    external_paths, external_sizes = _external_copies(highest_ext, trees)
    # Findings name what a repair to the best reachable tag would have to graft: a library
    # that the oldest policy forbids but that tag allows (libmvec, libexpat) is no problem.
    graft_policy = repairable if not repairable.is_linux else policies.highest
    to_graft = analysis.externals.get(graft_policy.name, {})
    findings += _library_findings(
        to_graft, external_paths, external_sizes, considered, graft_policy.name, analysis.via
    )
    findings += _supplied_findings(analysis.supplied)
    if libc is Libc.ANDROID:
        findings += _android_level_findings(tag_infos, considered)
    missing = sorted(s for s in to_graft if external_paths.get(s) is None)
    findings += _claim_findings(
        view.name.platforms, analysis, consistent, repairable, missing,
        f"{libc.value}, decided by {evidence}",
    )  # fmt: skip
    findings += _forbidden_symbol_findings(analysis)
    if target is not None:
        findings += _target_findings(target, arch, libc, consistent, repairable, considered)
    return PlatformVerdict(
        consistent=consistent.name,
        repairable=repairable.name,
        libc=libc.value,
        arch=arch,
        external_libraries=dict(sorted(highest_ext.items())),
        external_paths=dict(sorted(external_paths.items())),
        external_sizes=external_sizes,
        findings=tuple(findings),
    )


def _arch_of(tag_infos: Sequence[TagInfo], elves: Mapping[str, ElfInfo]) -> str | None:
    """The architecture the filename claims when it claims one, else the first binary's."""
    tag_arches = sorted({t.arch for t in tag_infos})
    if len(tag_arches) == 1:
        return tag_arches[0]
    return next((e.arch for e in elves.values() if e.arch), None)


def _roots(considered: Mapping[str, ElfInfo]) -> list[str]:
    """Where the loader starts: extension modules, and libraries no other binary needs."""
    all_needed = {soname for elf in considered.values() for soname in elf.needed}
    return [
        p
        for p, e in considered.items()
        if is_extension(p, e) or posixpath.basename(p) not in all_needed
    ]


def _no_verdict(libc: str | None, arch: str | None, findings: list[Finding]) -> PlatformVerdict:
    return PlatformVerdict(
        consistent=None,
        repairable=None,
        libc=libc,
        arch=arch,
        external_libraries={},
        external_paths={},
        external_sizes={},
        findings=tuple(findings),
    )


def _loadable_together(
    elves: dict[str, ElfInfo], arch: str | None, libc: Libc, evidence: str, out: list[Finding]
) -> dict[str, ElfInfo]:
    """The binaries of the wheel's architecture and C library; WF104/WF105 for the rest."""
    considered: dict[str, ElfInfo] = {}
    for path, elf in elves.items():
        if elf.arch is None or arch is None or not _runs_on(elf.arch, arch):
            what = elf.arch_problem or f"built for {elf.arch}"
            out.append(
                Finding(
                    check=Check.WRONG_ARCH,
                    path=path,
                    bytes=elf.file_size,
                    message=f"{elf.identity} ({what}), but the wheel is for {arch}",
                )
            )
            continue
        own = _file_libc(path, elf)
        if own is not None and own[0] is not libc:
            out.append(
                Finding(
                    check=Check.WRONG_LIBC,
                    path=path,
                    bytes=elf.file_size,
                    message=f"{own[1]} says {own[0].value}, but the wheel's binaries are "
                    f"{libc.value} (decided by {evidence})",
                )
            )
            continue
        considered[path] = elf
    return considered


def _pyfpe_policy(
    analysis: _Analysis, considered: dict[str, ElfInfo], roots: list[str], out: list[Finding]
) -> Policy:
    """``linux`` when a root uses PyFPE_jbuf (no manylinux tag allows it), else the best."""
    policies = analysis.policies
    best = policies.highest
    for path in roots:
        if considered[path].undefined & _PYFPE:
            best = policies.linux
            why = "uses PyFPE_jbuf (a Python built with --with-fpectl)"
            analysis.constraints.append(_Constraint(policies.linux, why, path))
            out.append(
                Finding(
                    check=Check.PYFPE,
                    path=path,
                    message="references PyFPE_jbuf: no manylinux tag allows it",
                )
            )
    return best


def _external_copies(
    external: Mapping[str, object], trees: Mapping[str, LibraryTree]
) -> tuple[dict[str, str | None], dict[str, int]]:
    """Where each external library was found outside the wheel, and its size. Only a copy
    found outside the wheel counts: a tree that reached the wheel's own copy did not make
    the library external."""
    paths: dict[str, str | None] = {}
    sizes: dict[str, int] = {}
    for soname in external:
        lib = next(
            (
                t.libraries[soname]
                for t in trees.values()
                if soname in t.libraries and not t.libraries[soname].in_wheel
            ),
            None,
        )
        paths[soname] = lib.path if lib is not None else None
        if lib is not None and lib.elf is not None:
            sizes[soname] = lib.elf.file_size
    return paths, sizes


def _forbidden_symbol_findings(analysis: _Analysis) -> list[Finding]:
    out = []
    for (path, provider, sym), forbidding in sorted(analysis.forbidden.items()):
        newest = min(forbidding)
        policies = "policy" if len(forbidding) == 1 else "policies"
        out.append(
            Finding(
                check=Check.BLACKLISTED_SYMBOL,
                path=path,
                message=f"uses {sym} from {provider}, which {len(forbidding)} {policies} up "
                f"to {newest.name} forbid",
            )
        )
    return out


def _excluded(tree: LibraryTree, patterns: tuple[str, ...]) -> frozenset[str]:
    return frozenset(s for s in tree.libraries if any(fnmatchcase(s, p) for p in patterns))


def _requirement_names(metadata: str | None) -> list[str]:
    """Distribution names in ``Requires-Dist`` (malformed lines are skipped)."""
    # Imported here: packaging's requirement grammar costs every run ~15 ms of imports, and
    # only a wheel with a library outside itself asks for these names.
    from packaging.requirements import InvalidRequirement, Requirement  # noqa: PLC0415

    names = []
    for line in (metadata or "").splitlines():
        if not line:
            break  # the headers end at the first empty line
        if line.lower().startswith("requires-dist:"):
            try:
                names.append(Requirement(line.split(":", 1)[1].strip()).name)
            except InvalidRequirement:
                continue
    return names


def _outside_provider(view: WheelView, siblings: Mapping[str, str]) -> Outside:
    """Who installs a library at a site-packages path this wheel has no file at: a wheel of
    the same run, else a Requires-Dist whose name starts with the path's folders
    (``nvidia/cublas/lib`` -> ``nvidia-cublas-cu12``); never a path under this wheel's own
    top-level folders."""
    own_tops = {m.name.split("/", 1)[0] for m in view.members}

    @functools.cache
    def requires() -> list[tuple[str, str]]:
        text = view.dist_info_text("METADATA")
        return [(canonicalize_name(n), n) for n in _requirement_names(text)]

    def provider(path: str) -> str | None:
        if path in siblings:
            return siblings[path]
        folders = path.split("/")[:-1]
        if not folders or folders[0] in own_tops:
            return None
        stem = canonicalize_name("-".join(f for f in folders if f not in ("lib", "lib64")))
        for canonical, name in requires():
            if stem and (canonical == stem or canonical.startswith(stem + "-")):
                return f"{name} (Requires-Dist)"
        return None

    return provider


def _closure(tree: LibraryTree, whitelist: frozenset[str], start: tuple[str, ...]) -> set[str]:
    todo = [s for s in start if not is_loader(s) and s not in whitelist]
    seen: set[str] = set()
    while todo:
        soname = todo.pop()
        if soname in seen:
            continue
        seen.add(soname)
        lib = tree.libraries.get(soname)
        if lib is not None and lib.elf is not None:
            todo += [s for s in lib.elf.needed if not is_loader(s) and s not in whitelist]
    return seen


def _symbol_policy(
    analysis: _Analysis, considered: Mapping[str, ElfInfo], trees: Mapping[str, LibraryTree]
) -> Policy:
    policies = analysis.policies
    # Version needs of every ELF in the wheel, remembering who needs what for explanations.
    wheel_versions: dict[str, set[tuple[str, str]]] = {}
    for path, elf in considered.items():
        for needed_lib, needed_versions in elf.version_needs:
            if is_loader(needed_lib):
                continue
            for v in needed_versions:
                wheel_versions.setdefault(v, set()).add((path, f"from {needed_lib}"))
    best = policies.linux
    for policy in reversed(policies.policies):
        if policy.is_linux:
            continue
        externals: dict[str, set[str]] = {}
        versions = {k: set(v) for k, v in wheel_versions.items()}
        for root, tree in trees.items():
            allowed = policy.whitelist | _excluded(tree, analysis.exclude)
            if policy.libc is Libc.ANDROID:  # an Android app ships libpython itself
                allowed |= {s for s in tree.libraries if LIBPYTHON_RE.match(s)}
            for soname in _closure(tree, allowed, considered[root].needed):
                lib = tree.libraries.get(soname)
                if lib is not None and lib.in_wheel:
                    continue
                if lib is not None and lib.supplied_by is not None and lib.path is not None:
                    needer = sorted(tree.needed_by.get(soname, {root}))[0]
                    analysis.supplied.setdefault(soname, (lib.supplied_by, lib.path, needer))
                    continue
                requesters = tree.needed_by.get(soname, {root}) & set(considered) or {root}
                externals.setdefault(soname, set()).update(requesters)
                via = needed_through(tree, soname, set(considered))
                if via:
                    analysis.via.setdefault(soname, via)
                if lib is not None and lib.elf is not None:
                    needer = sorted(requesters)[0]
                    for dep, vers in lib.elf.version_needs:
                        if is_loader(dep):
                            continue
                        for v in vers:
                            note = f"through {soname}, found at {lib.path}"
                            versions.setdefault(v, set()).add((needer, note))
        analysis.externals[policy.name] = {k: tuple(sorted(v)) for k, v in externals.items()}
        for soname, paths in sorted(externals.items()):
            analysis.constraints.append(
                _Constraint(
                    policy,
                    f"needs {soname}, which is not in the wheel and not allowed by {policy.name}",
                    sorted(paths)[0],
                )
            )
        found = policies.best_for_versions(versions)
        found = min(policy, found)
        for v in policy.missing_versions(versions):
            where, note = sorted(versions[v])[0]
            analysis.constraints.append(
                _Constraint(policy, f"{where} requires symbol version {v} ({note})", where)
            )
        best = max(best, found)
    return best


def _blacklist_policy(
    analysis: _Analysis, considered: Mapping[str, ElfInfo], roots: list[str]
) -> Policy:
    policies = analysis.policies
    best = policies.linux
    for policy in reversed(policies.policies):
        if policy.is_linux:
            best = max(best, policy)
            continue
        hits: list[tuple[str, str, str]] = []
        for path in roots:
            elf = considered[path]
            for lib in sorted(set(policy.blacklist) & set(elf.needed)):
                for sym in sorted(policy.blacklist[lib] & elf.undefined):
                    hits.append((path, lib, sym))
        for path, lib, sym in hits:
            analysis.forbidden.setdefault((path, lib, sym), []).append(policy)
            analysis.constraints.append(
                _Constraint(policy, f"uses {sym} from {lib}, which {policy.name} forbids", path)
            )
        if not hits:
            best = max(best, policy)
    return best


def _machine_policy(
    analysis: _Analysis,
    considered: Mapping[str, ElfInfo],
    trees: Mapping[str, LibraryTree],
    roots: list[str],
) -> Policy:
    policies = analysis.policies
    result = policies.highest
    checked: dict[str, ElfInfo] = {p: considered[p] for p in roots}
    grafted = {soname for ext in analysis.externals.values() for soname in ext}
    for tree in trees.values():
        for soname, lib in tree.libraries.items():
            # System libraries a policy allows are the user's, not the wheel's: only those a
            # repair would copy in can raise the ISA bar, as in auditwheel.
            if soname in grafted and not lib.in_wheel and lib.path and lib.elf is not None:
                checked.setdefault(lib.path, lib.elf)
    for path, elf in checked.items():
        if elf.isa_level >= 2:
            in_wheel = path if path in considered else sorted(roots)[0]
            analysis.constraints.append(
                _Constraint(
                    policies.linux,
                    f"{path} requires x86-64-v{elf.isa_level} instructions (GNU property note)",
                    in_wheel,
                )
            )
            result = policies.linux
    return result


def _unreadable_findings(view: WheelView) -> list[Finding]:
    out = [
        Finding(check=Check.CORRUPT_ELF, path=path, message=reason)
        for path, reason in sorted(view.elf_errors.items())
    ]
    for member in view.members:
        base = posixpath.basename(member.name)
        looks_shared = base.endswith(".so") or ".so." in base
        native = (view.machos, view.macho_errors, view.pes, view.pe_errors)
        if any(member.name in found for found in native):
            continue  # a macOS/Windows binary: the native checks read it
        if looks_shared and member.name not in view.elves and member.name not in view.elf_errors:
            out.append(
                Finding(
                    check=Check.NOT_ELF,
                    path=member.name,
                    bytes=member.size,
                    message="named like a shared library but is not an ELF file",
                )
            )
    return out


def _purelib_findings(view: WheelView, root_is_purelib: bool) -> list[Finding]:
    out = []
    pure_tag = all(t.platform == "any" for t in view.name.tags)
    for path, elf in sorted(view.elves.items()):
        in_purelib = ".data/purelib/" in path or (root_is_purelib and ".data/" not in path)
        if in_purelib or pure_tag:
            why = "a pure-Python ('any') wheel" if pure_tag else "purelib"
            out.append(
                Finding(
                    check=Check.ELF_IN_PURELIB,
                    path=path,
                    bytes=elf.file_size,
                    message=f"{elf.identity} binary in {why}: installers treat it as portable",
                )
            )
    for member in view.members:
        kind = _NATIVE_SUFFIXES.get(posixpath.splitext(member.name)[1].lower())
        if kind is None or member.name in view.elves:
            continue
        in_purelib = ".data/purelib/" in member.name or (
            root_is_purelib and ".data/" not in member.name
        )
        if in_purelib or pure_tag:
            why = "a pure-Python ('any') wheel" if pure_tag else "purelib"
            out.append(
                Finding(
                    check=Check.ELF_IN_PURELIB,
                    path=member.name,
                    bytes=member.size,
                    message=f"{kind} in {why}: installers treat it as portable",
                )
            )
    return out


def _library_findings(
    externals: Mapping[str, tuple[str, ...]],
    paths: Mapping[str, str | None],
    sizes: Mapping[str, int],
    considered: Mapping[str, ElfInfo],
    policy_name: str,
    via: Mapping[str, tuple[str, ...]],
) -> list[Finding]:
    out = []
    for soname, needers in sorted(externals.items()):
        needs, also = _needs_wording(soname, needers, via.get(soname, ()))
        host_path = paths.get(soname)
        if LIBPYTHON_RE.match(soname):
            out.append(
                Finding(
                    check=Check.LIBPYTHON_LINKED,
                    path=needers[0],
                    message=f"links {soname}{also}",
                )
            )
        elif host_path is None:
            copies = sorted(p for p in considered if posixpath.basename(p) == soname)
            where = (
                f"a copy is in the wheel at {copies[0]}, but the RPATH/RUNPATH of "
                f"{needers[0]} does not lead there, and it is not found on this host"
                if copies
                else "not in the wheel and not found on this host"
            )
            out.append(
                Finding(
                    check=Check.LIBRARY_NOT_FOUND,
                    path=needers[0],
                    message=f"{needs}{also}: {where}, so the loader "
                    "will not find it and repair cannot graft it",
                )
            )
        else:
            out.append(
                Finding(
                    check=Check.EXTERNAL_LIBRARY,
                    path=needers[0],
                    bytes=sizes.get(soname),
                    message=f"{needs}{also}, found at {host_path}: it is not "
                    f"in the wheel and {policy_name} does not allow it, so the runner needs it "
                    "installed",
                )
            )
    return out + _binary_findings(considered)


def _needs_wording(
    soname: str, needers: tuple[str, ...], chain: tuple[str, ...]
) -> tuple[str, str]:
    """``("needs X", "")`` for a direct need of one file; with ``chain``, "needs X
    indirectly: needed by A, needed by B, ..."; and " (also needed by ...)" naming the
    other files that need it (the finding's path is the first)."""
    needs = (
        f"needs {soname} indirectly: needed by " + ", needed by ".join(chain) + ","
        f" needed by {posixpath.basename(needers[0])}"
        if chain
        else f"needs {soname}"
    )
    others = needers[1:]
    also = (
        " (also needed by "
        + ", ".join(others[:3])
        + (f" and {len(others) - 3} more" if len(others) > 3 else "")
        + ")"
        if others
        else ""
    )
    return needs, also


def _binary_findings(considered: Mapping[str, ElfInfo]) -> list[Finding]:
    """Absolute RPATH/RUNPATH entries and x86-64 ISA levels above the baseline."""
    out = []
    for path, elf in considered.items():
        for kind, entries in (("RPATH", elf.rpath), ("RUNPATH", elf.runpath)):
            absolute = [e for e in entries if e.startswith("/")]
            if absolute:
                out.append(
                    Finding(
                        check=Check.ABSOLUTE_RPATH,
                        path=path,
                        message=f"{kind} has absolute entries {':'.join(absolute)} "
                        "(a path on the build machine)",
                    )
                )
        if elf.isa_level >= 2:
            out.append(
                Finding(
                    check=Check.ISA_EXTENSION,
                    path=path,
                    message=f"requires x86-64-v{elf.isa_level} instructions; it will crash with "
                    "SIGILL on older CPUs",
                )
            )
    return out


def _android_level_findings(
    tag_infos: Sequence[TagInfo], considered: Mapping[str, ElfInfo]
) -> list[Finding]:
    """WF101 when a binary's minimum API level (``.note.android.ident``) is above the one
    the filename claims: devices at the claimed level cannot load it."""
    levels = [(e.android_api, p) for p, e in considered.items() if e.android_api is not None]
    if not levels:
        return []
    level, path = max(levels)
    out = []
    for info in tag_infos:
        claimed = int(info.base.removeprefix("android_")) if info.libc is Libc.ANDROID else None
        if claimed is not None and level > claimed:
            out.append(
                Finding(
                    check=Check.TAG_OVERCLAIMS,
                    path=path,
                    message=f"filename claims {info.tag}, but {posixpath.basename(path)} is "
                    f"built for Android API level {level} (.note.android.ident); devices at "
                    f"API level {claimed} cannot load it",
                )
            )
    return out


def _supplied_findings(supplied: Mapping[str, tuple[str, str, str]]) -> list[Finding]:
    """WF205: libraries another distribution installs where an ``$ORIGIN`` entry looks."""
    by_provider: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for soname, (provider, path, needer) in sorted(supplied.items()):
        by_provider.setdefault((provider, needer), []).append((soname, path))
    out = []
    for (provider, needer), libs in sorted(by_provider.items()):
        names = ", ".join(s for s, _ in libs[:4]) + (
            f" and {len(libs) - 4} more" if len(libs) > 4 else ""
        )
        folder = posixpath.dirname(libs[0][1])
        out.append(
            Finding(
                check=Check.LIBRARY_FROM_OTHER_DISTRIBUTION,
                path=needer,
                message=f"needs {names} from {provider}, which installs them in {folder}/ "
                "(reached through an $ORIGIN RPATH/RUNPATH); not grafted, not external",
            )
        )
    return out


def _reasons(analysis: _Analysis, above: Policy, limit: int = 3) -> tuple[str, str | None]:
    relevant = [
        c for c in analysis.constraints if c.policy.priority >= above.priority or c.policy.is_linux
    ]
    # The constraints attached to the claimed policy itself are the precise reasons.
    exact = [c for c in relevant if c.policy is above] or [c for c in relevant if c.policy.is_linux]
    chosen = exact or relevant
    seen: list[str] = []
    for c in chosen:
        if c.reason not in seen:
            seen.append(c.reason)
    text = "; ".join(seen[:limit]) + (
        f"; and {len(seen) - limit} more" if len(seen) > limit else ""
    )
    return text, (chosen[0].path if chosen else None)


def _unknown_tag_finding(tag: str, info: TagInfo, consistent: Policy) -> list[Finding]:
    """WF114 for a manylinux/musllinux claim no policy in auditwheel's data describes: an
    error when no installer recognises the name (``manylinux3``), a warning for a
    well-formed PEP 600/656 tag (``manylinux_2_99``) that cannot be verified."""
    if info.libc not in (Libc.GLIBC, Libc.MUSL):
        return []
    honest = f"; the binaries satisfy {consistent.name}" if not consistent.is_linux else ""
    written = tag.removesuffix("_" + info.arch)  # as spelled: manylinux1 maps to manylinux_2_5
    if re.fullmatch(r"(many|musl)linux_\d+_\d+", written):
        return [
            Finding(
                check=Check.UNKNOWN_PLATFORM_TAG,
                severity=Severity.WARNING,
                message=f"tagged {tag}: well formed, but auditwheel's data has no policy for "
                f"it, so nothing here can verify it{honest}",
            )
        ]
    return [
        Finding(
            check=Check.UNKNOWN_PLATFORM_TAG,
            message=f"tagged {tag}: no installer recognises {written} for {info.arch} (the "
            "legacy names are manylinux1, manylinux2010 and manylinux2014, each for some "
            f"architectures only; others are manylinux_X_Y), so pip installs this wheel "
            f"nowhere{honest}",
        )
    ]


def _claim_findings(
    claimed: tuple[str, ...],
    analysis: _Analysis,
    consistent: Policy,
    repairable: Policy,
    missing: list[str],
    libc_note: str,
) -> list[Finding]:
    out: list[Finding] = []
    seen: set[str] = set()
    no_policy = analysis.policies.highest.is_linux
    for tag in claimed:
        info = parse_platform_tag(tag)
        if info is None:
            continue
        if no_policy:
            out += _no_policy_finding(tag, info, analysis.policies)
            continue
        if info.base == "linux":
            if repairable.is_linux:
                hint = "repair cannot make it portable"
            elif missing:
                hint = (
                    f"repair can retag it {repairable.name} once {', '.join(missing)} "
                    "is installed where you repair"
                )
            else:
                hint = f"repair can retag it {repairable.name}"
            out.append(
                Finding(
                    check=Check.LINUX_TAG,
                    message=f"tagged {tag}: pip installs it "
                    f"only on this kind of machine and PyPI refuses it; {hint} "
                    f"(C library: {libc_note})",
                )
            )
            continue
        policy = analysis.policies.by_tag(tag)
        if policy is None:
            out += _unknown_tag_finding(tag, info, consistent)
            continue
        if policy.name in seen:
            continue
        seen.add(policy.name)
        if policy.priority > consistent.priority:
            why, path = _reasons(analysis, policy)
            out.append(
                Finding(
                    check=Check.TAG_OVERCLAIMS,
                    path=path,
                    message=f"filename claims {tag}, but the binaries only satisfy "
                    f"{consistent.name}: {why}",
                )
            )
    return out


def _no_policy_finding(tag: str, info: TagInfo, policies: PolicySet) -> list[Finding]:
    """WF113: the architecture has no manylinux/musllinux policy at all."""
    family = policies.libc.prefix
    if info.base == "linux":
        what = f"tagged {tag}; PyPI refuses linux_* tags"
    else:
        what = f"filename claims {tag}, a policy that does not exist"
    return [
        Finding(
            check=Check.NO_POLICY_FOR_ARCH,
            message=f"{what}: there is no {family} policy for {info.arch} in auditwheel's "
            "data, so no repair can give this wheel a portable tag; "
            f"linux_{info.arch} is the honest tag (for an index of your own, as piwheels does)",
        )
    ]


def _target_findings(
    target: str,
    arch: str,
    libc: Libc,
    consistent: Policy,
    repairable: Policy,
    considered: Mapping[str, ElfInfo],
) -> list[Finding]:
    info = parse_platform_tag(target)
    if info is None or info.libc is None:
        return []
    first = next(iter(considered))
    if info.arch != arch:
        return [
            Finding(
                check=Check.TARGET_INCOMPATIBLE,
                path=first,
                message=f"binaries are {arch}; {target} needs {info.arch}",
            )
        ]
    if info.libc is not libc:
        culprit = next(
            (
                f"{p} needs {s}"
                for p, e in considered.items()
                for s in e.needed
                if s == "libc.so.6" or s.startswith(("libc.musl-", "ld-musl-"))
            ),
            f"{first} is built for {libc.value}",
        )
        return [
            Finding(
                check=Check.TARGET_INCOMPATIBLE,
                path=first,
                message=f"{libc.value} binaries cannot load on {target} ({info.libc.value}): "
                f"{culprit}; pip there will not even consider {libc.prefix} wheels",
            )
        ]
    target_policy = policies_for(info.libc, info.arch, info.base).by_tag(target)
    if target_policy is None:
        return []
    if consistent.priority >= target_policy.priority:
        return []
    if repairable.priority >= target_policy.priority:
        return [
            Finding(
                check=Check.TARGET_INCOMPATIBLE,
                path=first,
                message=f"not installable on {target} as it is (satisfies only {consistent.name}); "
                f"after `wheelfix repair` it would be {repairable.name}",
            )
        ]
    return [
        Finding(
            check=Check.TARGET_INCOMPATIBLE,
            path=first,
            message=f"needs {repairable.name} at best; {target} is older",
        )
    ]
