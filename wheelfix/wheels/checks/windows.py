"""Windows wheels: the PE files' machine, imported DLLs, and debug bytes (``.pdb`` included).

A DLL an extension imports is fine when Windows provides it (an API set, a KnownDLL or
another DLL every supported Windows has), when the Python interpreter ships it (``python3X``,
``vcruntime140``), or when the wheel carries a file of that name (the loader matches names
case-insensitively; ``delvewheel repair`` puts them in ``<package>.libs`` and adds that
folder to the DLL search path). Anything else is what ``delvewheel show`` lists as needing
to be copied in.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from wheelfix.findings import Check, Finding, Severity
from wheelfix.units import human, percent
from wheelfix.wheels.checks import WheelView
from wheelfix.wheels.checks.native import NativeVerdict

if TYPE_CHECKING:  # annotations only: the reader loads when a wheel holds PE files
    from wheelfix.formats.pe import PeInfo

__all__ = ["analyze_windows", "dll_status"]

_WIN_TAGS = ("win32", "win_amd64", "win_arm64", "win_arm32")

# Where this knowledge comes from: Microsoft's documentation of API sets ("Windows API sets")
# and of the KnownDLLs registry key ("Dynamic-link library search order"), and delvewheel's
# policy (read, not copied: delvewheel/_dll_list.py) — it treats every DLL shipped with
# Windows 7 SP1 and later as system, lets Windows resolve API sets, never vendors
# pythonXY.dll, and ignores the Visual C++ runtime DLLs that CPython itself installs. The
# list below is our own selection of system DLLs that extension modules import; a DLL
# missing from it is reported as external, so the list errs towards false alarms.
_API_SET_PREFIXES = ("api-ms-win-", "ext-ms-")


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_KNOWN_DLLS = _words("""
advapi32 clbcatq combase comdlg32 coml2 difxapi gdi32 gdiplus imagehlp imm32 kernel32
msctf msvcrt normaliz nsi ole32 oleaut32 psapi rpcrt4 sechost setupapi shcore shell32
shlwapi user32 wldap32 wow64 wow64cpu wow64win ws2_32 ntdll kernelbase
""")
_SYSTEM_DLLS = _KNOWN_DLLS | _words("""
activeds advpack apphelp authz avrt bcrypt bcryptprimitives cabinet cfgmgr32 comctl32
comsvcs credui crypt32 cryptbase cryptnet cryptsp cryptui d2d1 d3d10 d3d10_1 d3d11 d3d12
d3d9 d3dcompiler_47 dbgcore dbgeng dbghelp dcomp dhcpcsvc dinput8 dnsapi dsound dwmapi
dwrite dxcore dxgi dxva2 esent evr fltlib fwpuclnt glu32 gpapi hid hlink httpapi iertutil
iphlpapi ksuser ktmw32 logoncli lz32 mapi32 mf mfplat mfreadwrite mfuuid mmdevapi mpr
msacm32 msasn1 mscms mscoree msdmo msi msimg32 msvfw32 mswsock ncrypt netapi32 netutils
newdev ntdsapi ntmarta odbc32 oleacc oledlg opencl opengl32 pdh powrprof profapi propsys
rasapi32 resutils rstrtmgr secur32 sensapi shfolder slc srvcli sspicli sxs tapi32 tbs
ucrtbase uiautomationcore umpdc urlmon userenv usp10 uxtheme version virtdisk vssapi wer
wevtapi windowscodecs winbio winhttp wininet winmm winscard winspool.drv winsta wintrust
wlanapi wscapi wsock32 wtsapi32 xinput1_4 xmllite
""")
#: shipped with every CPython (and PyPy) for Windows since 3.5 — delvewheel's policy too
_INTERPRETER_DLL_RE = re.compile(r"^(python3\d*t?(_d)?|vcruntime140(_1)?|libpypy[\d.]*-c)$")
#: the Visual C++ redistributable: not part of Windows or of Python, so it must be vendored
_VC_REDIST_RE = re.compile(r"^(msvcp\d|vcruntime\d|concrt\d|vcomp\d*|vccorlib\d|msvcr\d)")


def dll_status(name: str, in_wheel: Mapping[str, str]) -> str:
    """``system``, ``interpreter``, ``wheel`` or ``external`` for an imported DLL name.

    ``in_wheel`` maps lower-case base names to wheel members.
    """
    lower = name.lower()
    if lower.startswith(_API_SET_PREFIXES):
        return "system"
    stem = lower.removesuffix(".dll")
    if _INTERPRETER_DLL_RE.match(stem):
        return "interpreter"
    if lower in in_wheel:
        return "wheel"
    if stem in _SYSTEM_DLLS or lower in _SYSTEM_DLLS:
        return "system"
    return "external"


@dataclass(slots=True)
class _State:
    findings: list[Finding] = field(default_factory=list)
    externals: dict[str, list[str]] = field(default_factory=dict)


def analyze_windows(view: WheelView, target: str | None = None) -> NativeVerdict:
    """Every PE finding of one wheel; the platform tag when the wheel is tagged for Windows."""
    state = _State()
    state.findings += [
        Finding(check=Check.CORRUPT_PE, path=p, message=reason)
        for p, reason in sorted(view.pe_errors.items())
    ]
    state.findings += _debug_findings(view)
    tags = [t for t in view.name.platforms if t in _WIN_TAGS]
    if not tags:
        return NativeVerdict(findings=tuple(state.findings))
    in_wheel = {posixpath.basename(m.name).lower(): m.name for m in view.members}
    pes = dict(sorted(view.pes.items()))
    machines = set()
    for path, pe in pes.items():
        # A program runs in its own process (WoW64 runs win32 ones on win_amd64, Windows on
        # ARM emulates x64): only what Python loads must match the tag.
        if not pe.is_dll and path.lower().endswith(".exe"):
            _imports(state, path, pe, in_wheel)
            continue
        machines.add(pe.platform)
        if pe.platform not in tags:
            state.findings.append(
                Finding(
                    check=Check.WRONG_ARCH,
                    path=path,
                    bytes=pe.file_size,
                    message=f"{pe.identity} (built for {pe.platform or 'an unknown machine'}), "
                    f"but the wheel is for {' or '.join(tags)}",
                    fix="build for the machine in the tag (cibuildwheel: CIBW_ARCHS_WINDOWS), "
                    "or fix the tag",
                )
            )
            continue
        _imports(state, path, pe, in_wheel)
    consistent = next(iter(machines)) if len(machines) == 1 else None
    if target in _WIN_TAGS and pes:  # another OS's target: see native.foreign_findings
        wrong = [(p, e) for p, e in pes.items() if e.platform != target]
        if wrong:
            path, pe = wrong[0]
            state.findings.append(
                Finding(
                    check=Check.TARGET_INCOMPATIBLE,
                    path=path,
                    message=f"{pe.identity} is built for {pe.platform}; {target} cannot load it",
                )
            )
    return NativeVerdict(
        consistent=consistent if pes else None,
        arch=tags[0],
        external_libraries={k: tuple(v) for k, v in sorted(state.externals.items())},
        external_paths=dict.fromkeys(sorted(state.externals)),
        findings=tuple(state.findings),
    )


def _imports(state: _State, path: str, pe: PeInfo, in_wheel: Mapping[str, str]) -> None:
    delayed = {d.lower() for d in pe.delay_imports} - {d.lower() for d in pe.imports}
    for dll in pe.dlls:
        if dll_status(dll, in_wheel) != "external":
            continue
        state.externals.setdefault(dll, []).append(path)
        lazy = dll.lower() in delayed
        runtime = _VC_REDIST_RE.match(dll.lower()) is not None
        why = (
            "the Visual C++ runtime, which neither Windows nor Python provides"
            if runtime
            else "not in the wheel and not a Windows system DLL"
        )
        state.findings.append(
            Finding(
                check=Check.EXTERNAL_LIBRARY,
                path=path,
                severity=Severity.WARNING if lazy else None,
                message=f"{'delay-loads' if lazy else 'imports'} {dll}: {why}, so the "
                + ("first call into it fails" if lazy else "import fails")
                + " on machines that do not have it",
                fix="run `delvewheel repair` (on Windows) to copy it into the wheel, "
                "or link it statically",
            )
        )


def _debug_findings(view: WheelView) -> list[Finding]:
    out = []
    for member in view.members:
        if member.name.lower().endswith(".pdb"):
            out.append(
                Finding(
                    check=Check.DEBUG_INFO,
                    path=member.name,
                    bytes=member.size,
                    message=f"{human(member.size)} program database (.pdb): debug information "
                    "no import needs",
                    fix="exclude *.pdb from the wheel (package data rules), "
                    "or publish symbols separately",
                )
            )
    for path, pe in sorted(view.pes.items()):
        if pe.debug_bytes:
            out.append(
                Finding(
                    check=Check.DEBUG_INFO,
                    path=path,
                    bytes=pe.debug_bytes,
                    message=f"{human(pe.debug_bytes)} of DWARF debug sections in a PE file "
                    f"({percent(pe.debug_bytes, pe.file_size)} of {human(pe.file_size)})",
                    fix="build without -g, or `strip --strip-debug` with MinGW binutils",
                )
            )
        if pe.symtab_bytes:
            out.append(
                Finding(
                    check=Check.SYMBOL_TABLE,
                    path=path,
                    bytes=pe.symtab_bytes,
                    message=f"{human(pe.symtab_bytes)} of COFF symbol table; not needed to load",
                    fix="`strip --strip-unneeded` with MinGW binutils (or link with -s)",
                )
            )
    return out
