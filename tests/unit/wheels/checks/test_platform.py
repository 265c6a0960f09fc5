"""Platform verdicts on synthetic ELF facts: resolution, policies, explanations, targets.

These tests build :class:`ElfInfo` values directly (the ELF reader has its own tests) and
resolve against an empty root filesystem, so they say exactly what the arithmetic does.
"""

from __future__ import annotations

import dataclasses
import functools
import shutil
import subprocess
from pathlib import Path

import pytest
from packaging.tags import parse_tag
from packaging.version import Version
from wheelmaker import MakeWheel

import wheelfix
from wheelfix.findings import Check
from wheelfix.formats.elf import ElfInfo
from wheelfix.formats.wheelfile import WheelName
from wheelfix.linux.libraries import HostLibraries
from wheelfix.linux.policy import Libc, TagInfo, parse_platform_tag, policies_for
from wheelfix.wheels.audit import check_wheel
from wheelfix.wheels.checks import WheelView
from wheelfix.wheels.checks.platform import PlatformVerdict, analyze_platform, decide_libc

EXT = "pkg/_ext.cpython-311-x86_64-linux-gnu.so"


def elf(**overrides: object) -> ElfInfo:
    base = ElfInfo(
        elf_class=64,
        little_endian=True,
        machine="EM_X86_64",
        osabi="ELFOSABI_SYSV",
        elf_type="ET_DYN",
        flags=0,
        arch="x86_64",
        arch_problem=None,
        isa_level=0,
        interpreter=None,
        soname=None,
        needed=("libc.so.6",),
        rpath=(),
        runpath=(),
        version_needs=(("libc.so.6", ("GLIBC_2.2.5",)),),
        debug_bytes=0,
        symtab_bytes=0,
        comment_bytes=0,
        file_size=1000,
        defined=frozenset({"PyInit__ext"}),
        undefined=frozenset(),
    )
    return dataclasses.replace(base, **overrides)  # type: ignore[arg-type]


def view(elves: dict[str, ElfInfo], tag: str = "cp311-cp311-linux_x86_64") -> WheelView:
    filename = f"pkg-1.0-{tag}.whl"
    return WheelView(
        path=filename,
        name=WheelName(filename, "pkg", Version("1.0"), (), frozenset(parse_tag(tag))),  # type: ignore[arg-type]
        dist_info="pkg-1.0.dist-info",
        file_size=1,
        members=(),
        digests={},
        elves=elves,
        elf_errors={},
        static_archives=frozenset(),
        texts={},
    )


@pytest.fixture
def empty_host(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> HostLibraries:
    for var in ("LD_LIBRARY_PATH", "AUDITWHEEL_LD_LIBRARY_PATH"):
        monkeypatch.delenv(var, raising=False)
    return HostLibraries(str(tmp_path))


def codes(verdict: PlatformVerdict) -> list[str]:
    return [f.code for f in verdict.findings]


def test_clean_extension_is_oldest_manylinux(empty_host: HostLibraries) -> None:
    v = analyze_platform(view({EXT: elf()}), empty_host)
    assert v.consistent == "manylinux_2_5_x86_64"
    assert v.repairable == "manylinux_2_5_x86_64"
    assert v.libc == "glibc"
    assert codes(v) == ["WF102"]  # the linux_ tag only


def test_symbol_version_sets_the_tag_and_names_the_file(empty_host: HostLibraries) -> None:
    needs = (("libc.so.6", ("GLIBC_2.2.5", "GLIBC_2.34")),)
    v = analyze_platform(
        view({EXT: elf(version_needs=needs)}, "cp311-cp311-manylinux_2_17_x86_64"), empty_host
    )
    assert v.consistent == "manylinux_2_34_x86_64"
    (overclaim,) = [f for f in v.findings if f.check is Check.TAG_OVERCLAIMS]
    assert "GLIBC_2.34" in overclaim.message
    assert overclaim.path == EXT


def test_unresolvable_library_is_external_and_not_found(empty_host: HostLibraries) -> None:
    v = analyze_platform(view({EXT: elf(needed=("libc.so.6", "libpq.so.5"))}), empty_host)
    assert dict(v.external_libraries) == {"libpq.so.5": (EXT,)}
    assert v.external_paths == {"libpq.so.5": None}
    assert v.consistent == "linux_x86_64"
    assert v.repairable == "manylinux_2_5_x86_64"
    assert "WF202" in codes(v)


def test_whitelisted_library_is_not_external(empty_host: HostLibraries) -> None:
    v = analyze_platform(view({EXT: elf(needed=("libc.so.6", "libz.so.1"))}), empty_host)
    assert dict(v.external_libraries) == {}


def test_origin_rpath_finds_library_inside_the_wheel(empty_host: HostLibraries) -> None:
    lib = "pkg.libs/libfoo-abc.so.1"
    elves = {
        EXT: elf(needed=("libfoo-abc.so.1",), rpath=("$ORIGIN/../pkg.libs",)),
        lib: elf(soname="libfoo-abc.so.1", defined=frozenset(), needed=("libm.so.6",)),
    }
    v = analyze_platform(view(elves, "cp311-cp311-manylinux_2_17_x86_64"), empty_host)
    assert dict(v.external_libraries) == {}
    assert v.consistent == "manylinux_2_5_x86_64"


def test_runpath_disables_rpath(empty_host: HostLibraries) -> None:
    lib = "pkg.libs/libfoo.so.1"
    elves = {
        EXT: elf(needed=("libfoo.so.1",), rpath=("$ORIGIN/../pkg.libs",), runpath=("/nowhere",)),
        lib: elf(soname="libfoo.so.1", defined=frozenset(), needed=()),
    }
    v = analyze_platform(view(elves), empty_host)
    assert "libfoo.so.1" in v.external_libraries
    assert "WF203" in codes(v)  # /nowhere is an absolute RUNPATH


def test_dependency_of_internal_library_is_external(empty_host: HostLibraries) -> None:
    lib = "pkg.libs/libfoo.so.1"
    elves = {
        EXT: elf(needed=("libfoo.so.1",), runpath=("$ORIGIN/../pkg.libs",)),
        lib: elf(soname="libfoo.so.1", defined=frozenset(), needed=("libgfortran.so.5",)),
    }
    v = analyze_platform(view(elves), empty_host)
    assert dict(v.external_libraries) == {"libgfortran.so.5": (lib,)}


def test_blacklisted_symbol_limits_repairable(empty_host: HostLibraries) -> None:
    bad = elf(needed=("libc.so.6", "libz.so.1"), undefined=frozenset({"_tr_flush_block"}))
    v = analyze_platform(view({EXT: bad}), empty_host)
    assert v.repairable == "linux_x86_64"
    (finding,) = [f for f in v.findings if f.check is Check.BLACKLISTED_SYMBOL]
    assert "_tr_flush_block" in finding.message
    assert "libz.so.1" in finding.message


def test_isa_level_makes_it_linux_only(empty_host: HostLibraries) -> None:
    v = analyze_platform(view({EXT: elf(isa_level=3)}), empty_host)
    assert v.consistent == "linux_x86_64"
    assert "WF108" in codes(v)


def test_wrong_architecture_is_reported_and_ignored(empty_host: HostLibraries) -> None:
    arm = elf(machine="EM_AARCH64", arch="aarch64")
    v = analyze_platform(view({EXT: elf(), "pkg/other.so": arm}), empty_host)
    (wrong,) = [f for f in v.findings if f.check is Check.WRONG_ARCH]
    assert wrong.path == "pkg/other.so"
    assert v.consistent == "manylinux_2_5_x86_64"


def test_musl_binary_in_manylinux_wheel(empty_host: HostLibraries) -> None:
    musl = elf(needed=("libc.musl-x86_64.so.1",), version_needs=())
    v = analyze_platform(view({EXT: musl}, "cp311-cp311-manylinux_2_17_x86_64"), empty_host)
    assert "WF105" in codes(v)


def test_musllinux_wheel_keeps_claimed_policy(empty_host: HostLibraries) -> None:
    musl = elf(needed=("libc.musl-x86_64.so.1",), version_needs=())
    v = analyze_platform(view({EXT: musl}, "cp311-cp311-musllinux_1_1_x86_64"), empty_host)
    assert v.consistent == "musllinux_1_1_x86_64"
    assert v.libc == "musl"
    assert "WF101" not in codes(v)


@pytest.mark.parametrize(
    ("target", "compatible"),
    [
        ("manylinux_2_28_x86_64", True),
        ("manylinux_2_17_x86_64", False),
        ("musllinux_1_2_x86_64", False),
        ("manylinux_2_28_aarch64", False),
    ],
)
def test_target(empty_host: HostLibraries, target: str, compatible: bool) -> None:
    needs = (("libc.so.6", ("GLIBC_2.25",)),)
    v = analyze_platform(view({EXT: elf(version_needs=needs)}), empty_host, target=target)
    assert ("WF106" not in codes(v)) is compatible


def test_binary_in_pure_wheel(empty_host: HostLibraries) -> None:
    v = analyze_platform(view({EXT: elf()}, "py3-none-any"), empty_host, root_is_purelib=True)
    assert "WF109" in codes(v)


@pytest.mark.parametrize(
    ("tag", "purelib", "flagged"),
    [("py3-none-any", True, True), ("cp311-cp311-win_amd64", False, False)],
)
def test_windows_and_macos_binaries_in_a_pure_wheel(
    make_wheel: MakeWheel, tag: str, purelib: bool, flagged: bool
) -> None:
    files: dict[str, bytes | str] = {
        "pkg/__init__.py": "",
        "pkg/_ext.pyd": b"MZ\x90\x00",
        "pkg/helper.DLL": b"MZ\x90\x00",
        "pkg/libx.dylib": b"\xcf\xfa\xed\xfe",
    }
    result = check_wheel(make_wheel(files, name="pkg", tag=tag, root_is_purelib=purelib))
    found = sorted(f.path or "" for f in result.findings if f.code == "WF109")
    assert found == (["pkg/_ext.pyd", "pkg/helper.DLL", "pkg/libx.dylib"] if flagged else [])
    if flagged:
        message = next(f.message for f in result.findings if f.path == "pkg/_ext.pyd")
        assert message.startswith("Windows extension module (.pyd) in a pure-Python ('any')")


def test_pyfpe_is_reported(empty_host: HostLibraries) -> None:
    v = analyze_platform(view({EXT: elf(undefined=frozenset({"PyFPE_jbuf"}))}), empty_host)
    assert "WF112" in codes(v)
    assert v.repairable == "linux_x86_64"


def test_no_binaries_has_no_tags(empty_host: HostLibraries) -> None:
    v = analyze_platform(view({}, "py3-none-any"), empty_host)
    assert (v.consistent, v.repairable, v.libc) == (None, None, None)


# -- C library evidence, ARM sub-architectures, architectures without a policy ----------
AUDITWHEEL_DATA = Path(__file__).resolve().parents[3] / "data" / "peers" / "auditwheel"


def test_libc_evidence_order() -> None:
    musl_suffix = "pkg/_ext.cpython-312-x86_64-linux-musl.so"
    bare = elf(needed=(), version_needs=())
    glibc_tag = [parse_platform_tag("manylinux_2_17_x86_64")]
    tags = [t for t in glibc_tag if t is not None]
    interp = elf(interpreter="/lib/ld-musl-x86_64.so.1", needed=())
    assert decide_libc({"bin/tool": interp}, tags)[0] is Libc.MUSL
    assert "interpreter /lib/ld-musl-x86_64.so.1" in decide_libc({"bin/tool": interp}, tags)[1]
    needs_glibc = elf(needed=("libc.so.6",))
    both = {musl_suffix: bare, "pkg/libhelper.so": needs_glibc}
    assert decide_libc(both, []) == (Libc.GLIBC, "pkg/libhelper.so needing libc.so.6")
    assert decide_libc({musl_suffix: bare}, tags) == (
        Libc.MUSL,
        "the extension suffix of _ext.cpython-312-x86_64-linux-musl.so",
    )
    gnu313 = "pkg/_ext.cpython-313-x86_64-linux-gnu.so"
    assert decide_libc({gnu313: bare}, []) == (
        Libc.GLIBC,
        "the extension suffix of _ext.cpython-313-x86_64-linux-gnu.so",
    )
    # before 3.13, CPython on musl could say -linux-gnu too: not evidence
    assert decide_libc({EXT: bare}, tags) == (
        Libc.GLIBC,
        "the filename's manylinux_2_17_x86_64 tag",
    )
    assert decide_libc({"pkg/_ext.abi3.so": bare}, []) == (
        Libc.GLIBC,
        "default (nothing in the wheel names a C library)",
    )


def test_musl_suffix_in_a_manylinux_wheel_is_a_libc_error(empty_host: HostLibraries) -> None:
    musl = {"pkg/_ext.cpython-312-x86_64-linux-musl.so": elf(needed=(), version_needs=())}
    v = analyze_platform(view(musl, "cp312-cp312-manylinux_2_17_x86_64"), empty_host)
    assert v.libc == "musl"
    assert v.consistent == "musllinux_1_2_x86_64"
    (wrong,) = [f for f in v.findings if f.code == "WF105"]
    assert "claims manylinux_2_17_x86_64" in wrong.message
    assert "decided by the extension suffix" in wrong.message


def test_armv6_code_loads_on_armv7l(empty_host: HostLibraries) -> None:
    arm = elf(arch="armv6l", machine="EM_ARM", elf_class=32, needed=(), version_needs=())
    assert "WF104" not in codes(
        analyze_platform(view({EXT: arm}, "cp312-cp312-linux_armv7l"), empty_host)
    )
    armv7 = dataclasses.replace(arm, arch="armv7l")
    assert "WF104" in codes(
        analyze_platform(view({EXT: armv7}, "cp312-cp312-linux_armv6l"), empty_host)
    )


_MUSL, _GLIBC = "musllinux_1_2/testsimple-0.0.1-cp312-cp312", "glibc/testsimple-0.0.1-cp313-cp313"


@pytest.mark.parametrize(
    ("wheel", "arch", "libc", "consistent"),
    [
        (f"{_MUSL}-linux_armv6l.whl", "armv6l", "musl", "linux_armv6l"),
        (f"{_MUSL}-linux_armv7l.whl", "armv7l", "musl", "musllinux_1_2_armv7l"),
        (f"{_MUSL}-linux_x86_64.whl", "x86_64", "musl", "musllinux_1_2_x86_64"),
        (f"{_GLIBC}-linux_armv5l.whl", "armv5l", "glibc", "linux_armv5l"),
        (f"{_GLIBC}-linux_armv7l.whl", "armv7l", "glibc", "manylinux_2_17_armv7l"),
        (f"{_GLIBC}-linux_mips64.whl", "mips64", "glibc", "linux_mips64"),
        (
            "musllinux_1_2/testsimple-0.0.1-cp310-cp310-linux_x86_64.whl",
            "x86_64",
            "glibc",  # a cp310 -linux-gnu suffix proves nothing: glibc by default
            "manylinux_2_5_x86_64",
        ),
    ],
)
def test_real_wheels_without_dt_needed(wheel: str, arch: str, libc: str, consistent: str) -> None:
    """auditwheel's testsimple wheels: one extension module with no DT_NEEDED at all."""
    result = check_wheel(AUDITWHEEL_DATA / wheel)
    assert (result.arch, result.libc, result.tags and result.tags.consistent) == (
        arch,
        libc,
        consistent,
    )
    found = {f.code: f for f in result.findings}
    assert "WF104" not in found
    if consistent.startswith("linux_"):  # no policy for the architecture at all
        assert "WF102" not in found
        assert f"no {'musllinux' if libc == 'musl' else 'manylinux'} policy for {arch}" in (
            found["WF113"].message
        )
    else:
        assert "WF113" not in found
        # a cp313 -linux-gnu suffix proves glibc; a cp310 one does not
        decided = "default" if "cp310" in wheel else "the extension suffix"
        assert f"C library: {libc}, decided by {decided}" in found["WF102"].message


def test_claiming_a_policy_that_does_not_exist(empty_host: HostLibraries) -> None:
    arm = elf(arch="armv6l", machine="EM_ARM", elf_class=32, needed=("libc.so.6",))
    v = analyze_platform(view({EXT: arm}, "cp312-cp312-manylinux_2_17_armv6l"), empty_host)
    (no_policy,) = [f for f in v.findings if f.code == "WF113"]
    assert "claims manylinux_2_17_armv6l, a policy that does not exist" in no_policy.message


# -- libraries another distribution installs ($ORIGIN/../../nvidia/...) and --exclude ----
@pytest.fixture
def cuda_like(tmp_path: Path) -> dict[str, bytes]:
    """A real extension reaching libfoo.so.1 through RUNPATH $ORIGIN/../../nvidia/foo/lib,
    as torch reaches libcublas, and the library itself."""
    gcc = shutil.which("gcc")
    if gcc is None:
        pytest.skip("needs gcc")
    build = tmp_path / "build"
    build.mkdir()
    (build / "foo.c").write_text("int foo(void) { return 1; }\n")
    (build / "ext.c").write_text("int foo(void);\nvoid *PyInit__C(void) { foo(); return 0; }\n")
    lib = build / "libfoo.so.1"
    run = functools.partial(subprocess.run, check=True)
    run([gcc, "-shared", "-fPIC", "-o", str(lib), str(build / "foo.c"), "-Wl,-soname,libfoo.so.1"])
    (build / "libfoo.so").symlink_to(lib.name)
    ext = build / "_C.so"
    run(
        [
            gcc,
            "-shared",
            "-fPIC",
            "-o",
            str(ext),
            str(build / "ext.c"),
            f"-L{build}",
            "-lfoo",
            "-Wl,--enable-new-dtags,-rpath,$ORIGIN/../../nvidia/foo/lib",
        ]
    )
    return {"ext": ext.read_bytes(), "lib": lib.read_bytes()}


TORCHLIKE_TAG = "cp311-cp311-linux_x86_64"


def _torchlike(make_wheel: MakeWheel, cuda_like: dict[str, bytes], requires: str = "") -> Path:
    metadata = f"Metadata-Version: 2.1\nName: torchlike\nVersion: 1.0\n{requires}"
    files: dict[str, bytes | str] = {
        "torchlike/__init__.py": "",
        "torchlike/lib/_C.cpython-311-x86_64-linux-gnu.so": cuda_like["ext"],
    }
    return make_wheel(files, name="torchlike", tag=TORCHLIKE_TAG, metadata_text=metadata)


def test_library_from_a_requires_dist(
    make_wheel: MakeWheel, cuda_like: dict[str, bytes], empty_host: HostLibraries
) -> None:
    alone = check_wheel(_torchlike(make_wheel, cuda_like), host=empty_host)
    assert "WF202" in {f.code for f in alone.findings}
    declared = _torchlike(make_wheel, cuda_like, "Requires-Dist: nvidia-foo-cu12==1.0\n")
    result = check_wheel(declared, host=empty_host)
    found = {f.code: f for f in result.findings}
    assert "WF202" not in found
    assert result.external_libraries == {}
    assert found["WF205"].message.startswith(
        "needs libfoo.so.1 from nvidia-foo-cu12 (Requires-Dist), which installs them in "
        "nvidia/foo/lib/"
    )
    assert found["WF205"].path == "torchlike/lib/_C.cpython-311-x86_64-linux-gnu.so"


def test_library_from_another_wheel_of_the_run(
    make_wheel: MakeWheel, cuda_like: dict[str, bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LD_LIBRARY_PATH", raising=False)
    torch = _torchlike(make_wheel, cuda_like)
    nvidia = make_wheel(
        {"nvidia/__init__.py": "", "nvidia/foo/lib/libfoo.so.1": cuda_like["lib"]},
        name="nvidia-foo-cu12",
        tag="py3-none-manylinux_2_17_x86_64",
    )
    report = wheelfix.check([torch, nvidia], jobs=1)
    torch_result = report.results[0]
    (supplied,) = [f for f in torch_result.findings if f.code == "WF205"]
    assert "from nvidia-foo-cu12, which installs them in nvidia/foo/lib/" in supplied.message
    assert "WF202" not in {f.code for f in torch_result.findings}
    alone = wheelfix.check([torch], jobs=1).results[0]
    assert "WF202" in {f.code for f in alone.findings}


def test_exclude_silences_a_library(
    make_wheel: MakeWheel, cuda_like: dict[str, bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LD_LIBRARY_PATH", raising=False)
    torch = _torchlike(make_wheel, cuda_like)
    (result,) = wheelfix.check([torch], jobs=1, exclude=["libfoo.so.*"]).results
    assert {"WF202", "WF205"}.isdisjoint({f.code for f in result.findings})
    assert result.external_libraries == {}


def test_android_wheel_reads_like_auditwheel() -> None:
    """PEP 738: the API level's policy (system libraries), libpython provided by the app."""
    result = check_wheel(
        AUDITWHEEL_DATA / "android" / "spam-0.1.0-cp313-cp313-android_24_arm64_v8a.whl"
    )
    assert (result.libc, result.arch) == ("android", "aarch64")
    assert result.tags is not None
    assert (result.tags.consistent, result.tags.repairable) == (
        "linux_aarch64",
        "android_24_arm64_v8a",
    )
    assert set(result.external_libraries) == {"libc++_shared.so"}
    codes_found = {f.code for f in result.findings}
    assert "WF204" not in codes_found  # libpython3.13.so is normal on Android
    (over,) = [f for f in result.findings if f.code == "WF101"]
    assert "needs libc++_shared.so" in over.message


def test_android_api_level_picks_the_policy() -> None:
    assert parse_platform_tag("android_21_x86_64") == TagInfo(
        "android_21_x86_64", "android_21", "x86_64"
    )
    older = policies_for(Libc.ANDROID, "aarch64", "android_21").highest
    newer = policies_for(Libc.ANDROID, "aarch64", "android_27").highest
    assert (older.name, newer.name) == ("android_21_arm64_v8a", "android_27_arm64_v8a")
    assert "libvulkan.so" in newer.whitelist - older.whitelist


@pytest.mark.parametrize(("api", "overclaims"), [(21, False), (24, False), (28, True)])
def test_android_api_level_of_the_binaries(
    empty_host: HostLibraries, api: int, overclaims: bool
) -> None:
    ext = "spam.cpython-313-aarch64-linux-android.so"
    android = elf(
        arch="aarch64",
        machine="EM_AARCH64",
        needed=("libc.so",),
        version_needs=(),
        android_api=api,
        defined=frozenset(),
    )
    v = analyze_platform(view({ext: android}, "cp313-cp313-android_24_arm64_v8a"), empty_host)
    assert v.libc == "android"
    assert v.consistent == "android_24_arm64_v8a"
    found = [f for f in v.findings if f.code == "WF101"]
    assert bool(found) is overclaims
    if overclaims:
        assert "built for Android API level 28" in found[0].message


@pytest.mark.parametrize(
    ("tag", "severity"),
    [
        ("cp311-cp311-manylinux3_x86_64", "error"),  # no installer generates it
        ("cp311-cp311-manylinux2011_x86_64", "error"),
        ("cp311-cp311-manylinux1_aarch64", "error"),  # manylinux1 was x86 only
        ("cp311-cp311-manylinux_2_99_x86_64", "warning"),  # well formed, no policy to verify
        ("cp311-cp311-musllinux_1_9_x86_64", "warning"),
    ],
)
def test_a_tag_no_policy_describes_is_wf114(
    empty_host: HostLibraries, tag: str, severity: str
) -> None:
    verdict = analyze_platform(
        view({EXT: elf(arch=tag.rsplit("_", 1)[-1] if "aarch64" in tag else "x86_64")}, tag),
        empty_host,
    )
    (finding,) = [f for f in verdict.findings if f.code == "WF114"]
    assert finding.level.label == severity
    assert tag.rsplit("-", maxsplit=1)[-1] in finding.message


@pytest.mark.parametrize(
    "tag", ["cp311-cp311-manylinux_2_17_x86_64", "cp311-cp311-manylinux2014_x86_64"]
)
def test_known_tags_are_not_wf114(empty_host: HostLibraries, tag: str) -> None:
    assert "WF114" not in codes(analyze_platform(view({EXT: elf()}, tag), empty_host))
