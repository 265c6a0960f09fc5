"""wheelfix image on small archives built here: waste arithmetic, formats, hostile input."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import tarfile
import zipfile
from pathlib import Path

import pytest
from unprivileged import as_nobody, shared_folder

from wheelfix.containers.image import InvalidImageError, analyze_image

REPO = Path(__file__).resolve().parents[3]
# (name, bytes | ("dir",) | ("sym", target) | ("hard", target) | ("fifo",))
Entry = tuple[str, object]


def layer_tar(entries: list[Entry]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, what in entries:
            info = tarfile.TarInfo(name)
            if isinstance(what, bytes):
                info.size = len(what)
                tar.addfile(info, io.BytesIO(what))
                continue
            assert isinstance(what, tuple)
            if what[0] == "dir":
                info.type = tarfile.DIRTYPE
            elif what[0] == "sym":
                info.type, info.linkname = tarfile.SYMTYPE, str(what[1])
            elif what[0] == "fifo":
                info.type = tarfile.FIFOTYPE
            elif what[0] == "hard":
                info.type, info.linkname = tarfile.LNKTYPE, str(what[1])
            tar.addfile(info)
    return buffer.getvalue()


def docker_save(
    path: Path,
    layers: list[list[Entry]],
    *,
    history: list[str] | None = None,
    layer_names: list[str] | None = None,
) -> Path:
    """A classic `docker save` archive: manifest.json, config, <id>/layer.tar."""
    blobs = [layer_tar(entries) for entries in layers]
    names = layer_names or [f"{i:064x}/layer.tar" for i in range(len(blobs))]
    config = {
        "architecture": "amd64",
        "os": "linux",
        "rootfs": {
            "type": "layers",
            "diff_ids": ["sha256:" + hashlib.sha256(b).hexdigest() for b in blobs],
        },
        "history": [
            {"created_by": h} for h in (history or [f"RUN step {i}" for i in range(len(blobs))])
        ],
    }
    config_bytes = json.dumps(config).encode()
    manifest = [{"Config": "config.json", "RepoTags": ["test:latest"], "Layers": names}]
    with tarfile.open(path, "w") as tar:
        for name, data in [
            ("manifest.json", json.dumps(manifest).encode()),
            ("config.json", config_bytes),
            *zip(names, blobs, strict=False),
        ]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def oci_archive(path: Path, layers: list[list[Entry]]) -> Path:
    """An OCI archive with gzip-compressed layers."""
    files: dict[str, bytes] = {}

    def blob(data: bytes) -> dict[str, object]:
        digest = hashlib.sha256(data).hexdigest()
        files[f"blobs/sha256/{digest}"] = data
        return {"digest": f"sha256:{digest}", "size": len(data)}

    layer_descs = []
    for entries in layers:
        desc = blob(gzip.compress(layer_tar(entries), mtime=0))
        desc["mediaType"] = "application/vnd.oci.image.layer.v1.tar+gzip"
        layer_descs.append(desc)
    config = blob(json.dumps({"history": [{"created_by": "ADD x"}] * len(layers)}).encode())
    manifest = blob(
        json.dumps({"schemaVersion": 2, "config": config, "layers": layer_descs}).encode()
    )
    files["index.json"] = json.dumps(
        {
            "schemaVersion": 2,
            "manifests": [{**manifest, "mediaType": "application/vnd.oci.image.manifest.v1+json"}],
        }
    ).encode()
    files["oci-layout"] = b'{"imageLayoutVersion": "1.0.0"}'
    with tarfile.open(path, "w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def test_waste_is_counted_once_per_superseded_version(tmp_path: Path) -> None:
    image = docker_save(
        tmp_path / "i.tar",
        [
            [("app", ("dir",)), ("app/a", b"a" * 100), ("app/b", b"b" * 50)],
            [("app/a", b"A" * 120), ("app/.wh.b", b"")],
            [("app/a", b"Z" * 130)],
        ],
        history=["ADD base", "RUN change", "RUN change again"],
    )
    report = analyze_image(image)
    assert report.written == 400
    assert report.final == 130
    assert report.wasted == 270
    assert report.efficiency == pytest.approx(130 / 400)
    wasted = {(f.bytes, f.path) for f in report.findings if f.code == "WF701"}
    assert wasted == {(150, "/app/a"), (120, "/app/a")}
    messages = " ".join(f.message for f in report.findings if f.code == "WF701")
    assert "layer 0 (ADD base)" in messages and "layer 1 (RUN change)" in messages
    assert [layer.removed for layer in report.layers] == [0, 1, 0]


def test_opaque_whiteout_removes_the_folder(tmp_path: Path) -> None:
    image = docker_save(
        tmp_path / "i.tar",
        [
            [("d/x", b"x" * 10), ("d/y", b"y" * 20)],
            [("d/.wh..wh..opq", b""), ("d/z", b"z" * 5)],
        ],
    )
    report = analyze_image(image)
    assert report.wasted == 30 and report.final == 5


def test_oci_archive_with_gzip_layers(tmp_path: Path) -> None:
    report = analyze_image(oci_archive(tmp_path / "o.tar", [[("f", b"1" * 64)], [(".wh.f", b"")]]))
    assert report.wasted == 64 and report.final == 0


def test_oci_layout_folder(tmp_path: Path) -> None:
    archive = oci_archive(tmp_path / "o.tar", [[("f", b"1" * 64)]])
    folder = tmp_path / "layout"
    with tarfile.open(archive) as tar:
        tar.extractall(folder, filter="data")
    assert analyze_image(folder).final == 64


def test_gates(tmp_path: Path) -> None:
    image = docker_save(tmp_path / "i.tar", [[("f", b"1" * 100)], [(".wh.f", b""), ("g", b"2")]])
    report = analyze_image(
        image, lowest_efficiency=0.5, highest_wasted_bytes=10, highest_wasted_percent=0.2
    )
    assert sum(1 for f in report.findings if f.code == "WF705") == 3
    assert report.exit_code == 1
    assert analyze_image(image).exit_code == 0


def test_leftovers_caches_and_build_tools(tmp_path: Path) -> None:
    status = (
        b"Package: gcc-12\nStatus: install ok installed\n\n"
        b"Package: libc6\nStatus: install ok installed\n"
    )
    image = docker_save(
        tmp_path / "i.tar",
        [
            [
                ("app/.git/HEAD", b"ref: refs/heads/main\n"),
                ("app/requirements.txt", b"pyyaml\n"),
                ("opt/venv/pyvenv.cfg", b"home = /usr/bin\n"),
                ("app/env/pyvenv.cfg", b"home = /usr\n"),
                ("app/env/lib/x.py", b"x" * 10),
                ("root/.cache/pip/http/blob", b"c" * 1000),
                ("var/lib/dpkg/status", status),
                ("usr/lib/python3.11/venv/__init__.py", b"# stdlib"),
            ]
        ],
    )
    codes = {(f.code, f.path) for f in analyze_image(image).findings}
    assert ("WF703", "/app/.git") in codes
    assert ("WF703", "/app/env") in codes
    assert not any(path and path.startswith("/opt/venv") for _, path in codes)  # made on purpose
    assert not any(path and path.startswith("/usr/lib/python3.11/venv") for _, path in codes)
    assert ("WF702", "/root/.cache/pip") in codes
    assert ("WF704", "/var/lib/dpkg/status") in codes


def _member(wheel_prefix: str, suffix: str) -> bytes:
    (wheel,) = (REPO / "sample_wheels").glob(f"{wheel_prefix}-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        (name,) = [n for n in zf.namelist() if n.endswith(suffix)]
        return zf.read(name)


def _python_layer(extension: bytes) -> list[Entry]:
    site = "usr/local/lib/python3.11/site-packages"
    return [
        ("lib64/ld-linux-x86-64.so.2", b"\x7fELF-loader-stand-in"),
        (f"{site}/wfdemo_extlib/__init__.py", b""),
        (f"{site}/wfdemo_extlib/_extlib.cpython-311-x86_64-linux-gnu.so", extension),
        (f"{site}/wfdemo_extlib-1.0.0.dist-info/RECORD", b""),
        (f"{site}/wfdemo_extlib-1.0.0.dist-info/METADATA", b"Name: wfdemo-extlib\n"),
    ]


def test_extension_that_cannot_load_in_the_image(tmp_path: Path) -> None:
    extension = _member("wfdemo_extlib", ".so")
    report = analyze_image(docker_save(tmp_path / "i.tar", [_python_layer(extension)]))
    (finding,) = [f for f in report.findings if f.code == "WF202"]
    assert "libwfext.so.1" in finding.message and "in this image's library path" in finding.message
    assert "provides libwfext.so.1 in this stage" in finding.hint  # not the wheel-repair hint
    assert finding.to_json()["hint"] == finding.hint
    assert report.environments == ("/usr/local/lib/python3.11/site-packages",)


def test_library_found_through_ld_so_conf_and_symlinks(tmp_path: Path, sample_build: Path) -> None:
    extension = _member("wfdemo_extlib", ".so")
    lib = (sample_build / "work" / "lib" / "libwfext.so.1").read_bytes()
    layers = [
        [
            *_python_layer(extension),
            ("etc/ld.so.conf", b"include /etc/ld.so.conf.d/*.conf\n"),
            ("etc/ld.so.conf.d/opt.conf", b"/opt/wf/lib\n"),
            ("opt/wf/lib", ("sym", "../real")),  # a symlinked folder
            ("opt/real/libwfext.so.1.0", lib),
            ("opt/real/libwfext.so.1", ("sym", "libwfext.so.1.0")),
        ]
    ]
    report = analyze_image(docker_save(tmp_path / "i.tar", layers))
    assert not [f for f in report.findings if f.code == "WF202"]


def test_glibc_extension_on_a_musl_image(tmp_path: Path) -> None:
    extension = _member("wfdemo_clean", ".so")
    site = "usr/lib/python3.11/site-packages"
    layers: list[list[Entry]] = [
        [
            ("lib/ld-musl-x86_64.so.1", b"\x7fELF-musl-stand-in"),
            (f"{site}/wfdemo_clean/_clean.cpython-311-x86_64-linux-gnu.so", extension),
            (f"{site}/wfdemo_clean-1.0.0.dist-info/RECORD", b""),
        ]
    ]
    report = analyze_image(docker_save(tmp_path / "i.tar", layers))
    assert report.libc == "musl"
    assert any(f.code == "WF105" for f in report.findings)


# -- hostile archives ---------------------------------------------------------------------
def test_traversal_in_a_layer_is_refused(tmp_path: Path) -> None:
    image = docker_save(tmp_path / "i.tar", [[("../../etc/evil", b"x")]])
    with pytest.raises(InvalidImageError, match="climbs out"):
        analyze_image(image)
    assert not (tmp_path.parent / "etc" / "evil").exists()


def test_manifest_pointing_outside_is_refused(tmp_path: Path) -> None:
    image = docker_save(tmp_path / "i.tar", [[("f", b"x")]], layer_names=["../../layer.tar"])
    with pytest.raises(InvalidImageError, match="outside the archive"):
        analyze_image(image)


def test_symlinks_and_special_files_are_recorded_not_followed(tmp_path: Path) -> None:
    image = docker_save(
        tmp_path / "i.tar",
        [
            [
                ("etc/passwd-link", ("sym", "/etc/passwd")),
                ("dev-fifo", ("fifo",)),
                ("f", b"1"),
            ]
        ],
    )
    report = analyze_image(image)
    assert report.final == 1


def test_decompression_bomb_is_refused(tmp_path: Path) -> None:
    image = docker_save(tmp_path / "i.tar", [[("big", b"\0" * 100_000)]])
    with pytest.raises(InvalidImageError, match="limit"):
        analyze_image(image, limit=10_000)


@pytest.mark.parametrize("content", [b"not a tar at all", b"", b"\x7fELF" + b"\0" * 100])
def test_not_an_image(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "x.tar"
    path.write_bytes(content)
    with pytest.raises(InvalidImageError):
        analyze_image(path)


def test_corrupt_gzip_layer(tmp_path: Path) -> None:
    archive = oci_archive(tmp_path / "o.tar", [[("f", b"1" * 4096)]])
    data = bytearray(archive.read_bytes())
    at = data.find(b"\x1f\x8b")
    data[at + 20 : at + 60] = b"\xff" * 40
    archive.write_bytes(bytes(data))
    with pytest.raises(InvalidImageError, match="corrupt"):
        analyze_image(archive)


def test_invalid_digest_in_index(tmp_path: Path) -> None:
    folder = tmp_path / "layout"
    folder.mkdir()
    (folder / "index.json").write_text(json.dumps({"manifests": [{"digest": "sha256:../../x"}]}))
    with pytest.raises(InvalidImageError, match="invalid digest"):
        analyze_image(folder)


def test_opaque_whiteout_keeps_its_own_layers_entries(tmp_path: Path) -> None:
    image = docker_save(
        tmp_path / "i.tar",
        [[("d/x", b"x" * 10)], [("d/z", b"z" * 5), ("d/.wh..wh..opq", b"")]],
    )
    report = analyze_image(image)
    assert (report.final, report.wasted) == (5, 10)


def test_file_replaced_by_a_folder(tmp_path: Path) -> None:
    image = docker_save(tmp_path / "i.tar", [[("p", b"p" * 40)], [("p", ("dir",)), ("p/q", b"q")]])
    report = analyze_image(image)
    assert (report.final, report.wasted) == (1, 40)


def test_hard_linked_library_counts_as_present(tmp_path: Path, sample_build: Path) -> None:
    """slim's dedupe leaves hard links; tar stores the second copy as a link entry."""
    extension = _member("wfdemo_extlib", ".so")
    lib = (sample_build / "work" / "lib" / "libwfext.so.1").read_bytes()
    layers: list[list[Entry]] = [
        [
            *_python_layer(extension),
            ("usr/lib/first/libwfext.so.1", lib),
            ("usr/lib/libwfext.so.1", ("hard", "usr/lib/first/libwfext.so.1")),
        ]
    ]
    report = analyze_image(docker_save(tmp_path / "i.tar", layers))
    assert not [f for f in report.findings if f.code == "WF202"]


def test_file_over_a_lower_folder_hides_it(tmp_path: Path) -> None:
    image = docker_save(tmp_path / "i.tar", [[("opt/x/big", b"b" * 1000)], [("opt/x", b"f" * 10)]])
    report = analyze_image(image)
    assert (report.final, report.wasted) == (10, 1000)


def test_layer_link_loop_and_missing_layer_are_one_line_errors(tmp_path: Path) -> None:
    path = tmp_path / "loop.tar"
    manifest = [{"Config": "c.json", "Layers": ["a/layer.tar"]}]
    with tarfile.open(path, "w") as tar:
        for name, data in (("manifest.json", json.dumps(manifest).encode()), ("c.json", b"{}")):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for name, target in (("a/layer.tar", "../b/layer.tar"), ("b/layer.tar", "../a/layer.tar")):
            info = tarfile.TarInfo(name)
            info.type, info.linkname = tarfile.SYMTYPE, target
            tar.addfile(info)
    with pytest.raises(InvalidImageError, match="link loop"):
        analyze_image(path)
    folder = tmp_path / "unpacked"
    folder.mkdir()
    (folder / "manifest.json").write_text(json.dumps([{"Config": "c.json", "Layers": ["x.tar"]}]))
    (folder / "c.json").write_text("{}")
    with pytest.raises(InvalidImageError, match="missing"):
        analyze_image(folder)
    (folder / "c.json").write_text("[]")
    with pytest.raises(InvalidImageError, match=r"c\.json: expected an object, got a list"):
        analyze_image(folder)


def test_a_path_listed_twice_in_one_layer_is_named_as_waste(tmp_path: Path) -> None:
    image = docker_save(
        tmp_path / "i.tar",
        [[("app", ("dir",)), ("app/a", b"a" * 100), ("app/a", b"b" * 40)]],
        history=["ADD twice"],
    )
    report = analyze_image(image)
    assert (report.written, report.final, report.wasted) == (140, 40, 100)
    (finding,) = [f for f in report.findings if f.code == "WF701"]
    assert (finding.bytes, finding.path) == (100, "/app/a")
    assert "layer 0 (ADD twice) lists more than once" in finding.message


# -- bounded and total (issue 10): hostile tar headers, JSON shapes, whiteouts, FIFOs ---------
def base256(value: int) -> bytes:
    """A tar number field in GNU base-256: 0x80 (or 0xff, negative) and 11 bytes."""
    if value < 0:
        return b"\xff" + (256**11 + value).to_bytes(11, "big")
    return b"\x80" + value.to_bytes(11, "big")


def raw_header(name: str, size_field: bytes, kind: bytes = tarfile.REGTYPE) -> bytes:
    """A ustar header whose size field holds exactly ``size_field`` (checksum fixed)."""
    info = tarfile.TarInfo(name)
    info.type = kind
    block = bytearray(info.tobuf(format=tarfile.USTAR_FORMAT))
    block[124:136] = size_field
    block[148:156] = b" " * 8
    block[148:156] = b"%06o\0 " % sum(block)
    return bytes(block)


def tar_of(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def saved(path: Path, manifest: object, files: dict[str, bytes]) -> Path:
    """A docker-save archive with the given manifest.json and other members, as bytes."""
    path.write_bytes(tar_of({"manifest.json": json.dumps(manifest).encode(), **files}))
    return path


def with_layer(path: Path, blob: bytes, config: object = None) -> Path:
    """A docker-save archive with one layer whose bytes are ``blob`` exactly."""
    config = {"history": [{"created_by": "RUN x"}]} if config is None else config
    manifest = [{"Config": "c.json", "RepoTags": ["t:1"], "Layers": ["l.tar"]}]
    return saved(path, manifest, {"c.json": json.dumps(config).encode(), "l.tar": blob})


def refused(path: Path, match: str) -> str:
    with pytest.raises(InvalidImageError, match=match) as info:
        analyze_image(path)
    message = str(info.value)
    assert message.startswith(str(path)), message
    assert "\n" not in message
    assert len(message) < 600, message
    return message


@pytest.mark.parametrize(
    "size_field", [base256(2**87), base256(-512), base256(10**12), b"77777777777\0"]
)
def test_outer_tar_with_a_size_past_the_end(tmp_path: Path, size_field: bytes) -> None:
    # Base-256 sizes of 2**87 made tarfile seek past what an int can hold (OverflowError),
    # negative ones walked backwards: each header is now checked before tarfile moves.
    blob = raw_header("manifest.json", size_field) + b"\0" * 1024
    refused(with_bytes(tmp_path, blob), "not an image archive")


def with_bytes(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / "i.tar"
    path.write_bytes(data)
    return path


def test_truncated_outer_tar(tmp_path: Path) -> None:
    whole = docker_save(tmp_path / "whole.tar", [[("a", b"a" * 5000)]]).read_bytes()
    for cut in (700, 1600, 5000):  # in a header, in the config, in the layer
        path = with_bytes(tmp_path, whole[:cut])
        with pytest.raises(InvalidImageError) as info:
            analyze_image(path)
        assert "\n" not in str(info.value)


@pytest.mark.parametrize("kind", [tarfile.XHDTYPE, tarfile.GNUTYPE_LONGNAME])
def test_extended_header_with_a_huge_size(tmp_path: Path, kind: bytes) -> None:
    # tarfile reads a pax or long-name header's data whole: a huge size is refused first.
    layer = raw_header("././@x", base256(2**80), kind) + b"\0" * 2048
    refused(with_layer(tmp_path / "i.tar", layer), "declares")


def test_whiteout_with_a_huge_size_is_refused_at_once(tmp_path: Path) -> None:
    # Skipping the "data" of a whiteout declaring 2**87 bytes never finished.
    layer = raw_header("a", b"%011o\0" % 1) + b"a" + b"\0" * 511
    layer += raw_header(".wh.a", base256(2**87)) + b"\0" * 1024
    refused(with_layer(tmp_path / "i.tar", layer), "declares")


def test_a_layer_entry_bigger_than_the_layer_could_hold(tmp_path: Path) -> None:
    # An uncompressed layer holds at most its own size; gzip at most 1032 times it.
    layer = raw_header("big", b"%011o\0" % (10**9)) + b"\0" * 1024
    refused(with_layer(tmp_path / "i.tar", layer), "declares 1000000000 bytes")
    packed = gzip.compress(layer, mtime=0)
    refused(with_layer(tmp_path / "g.tar", packed), "declares 1000000000 bytes")


def test_pax_record_with_thousands_of_digits(tmp_path: Path) -> None:
    record = b"9" * 5000 + b" path=x\n"
    header = raw_header("./PaxHeaders/x", b"%011o\0" % len(record), tarfile.XHDTYPE)
    body = record + b"\0" * (-len(record) % 512)
    layer = header + body + tar_of({"x": b"x"})
    refused(with_layer(tmp_path / "i.tar", layer), "corrupt")


def test_chained_long_name_headers_do_not_exhaust_the_stack(tmp_path: Path) -> None:
    link = raw_header("././@LongLink", b"%011o\0" % 2, tarfile.GNUTYPE_LONGNAME) + b"a\0"
    link += b"\0" * 510
    layer = link * 5000 + tar_of({"x": b"x"})
    refused(with_layer(tmp_path / "i.tar", layer), "corrupt")


@pytest.mark.parametrize(
    ("manifest", "reason"),
    [
        ({"Config": "c.json"}, "manifest.json: expected a list, got an object"),
        ([], "lists no image"),
        (["x"], r"manifest.json\[0\]: expected an object, got a string"),
        ([None], r"manifest.json\[0\]: expected an object, got null"),
        ([{"Config": 1, "Layers": []}], r"\[0\].Config: expected a string, got a number"),
        ([{"Config": "c.json", "Layers": {}}], r"\[0\].Layers: expected a list, got an object"),
        (
            [{"Config": "c.json", "Layers": [{"x": 1}]}],
            r"manifest.json\[0\].Layers\[0\]: expected a string, got an object",
        ),
        (
            [{"Config": "c.json", "Layers": [], "RepoTags": {"a": 1}}],
            r"\[0\].RepoTags: expected a list, got an object",
        ),
        (
            [{"Config": "c.json", "Layers": [], "RepoTags": [7]}],
            r"\[0\].RepoTags\[0\]: expected a string, got a number",
        ),
    ],
)
def test_manifest_json_of_the_wrong_shape(tmp_path: Path, manifest: object, reason: str) -> None:
    refused(saved(tmp_path / "i.tar", manifest, {"c.json": b"{}"}), reason)


@pytest.mark.parametrize(
    ("config", "reason"),
    [
        ([], "c.json: expected an object, got a list"),
        ({"history": {}}, "config.history: expected a list, got an object"),
        ({"history": ["RUN x"]}, r"config.history\[0\]: expected an object, got a string"),
        ({"history": [{"created_by": 1}]}, r"history\[0\].created_by: expected a string"),
        ({"history": [{"comment": []}]}, r"history\[0\].comment: expected a string"),
        ({"history": [{"empty_layer": "yes"}]}, r"empty_layer: expected a boolean"),
    ],
)
def test_config_of_the_wrong_shape(tmp_path: Path, config: object, reason: str) -> None:
    manifest = [{"Config": "c.json", "Layers": []}]
    refused(saved(tmp_path / "i.tar", manifest, {"c.json": json.dumps(config).encode()}), reason)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"[" * 50_000 + b"]" * 50_000, "nested deeper"),
        (b"[" + b"1" * 5000 + b"]", "digits"),
        (b"\xff\xfe[]", "not UTF-8"),
    ],
)
def test_manifest_json_that_is_not_reasonable_json(
    tmp_path: Path, data: bytes, reason: str
) -> None:
    path = with_bytes(tmp_path, tar_of({"manifest.json": data}))
    refused(path, reason)


def oci_with(path: Path, index: object, blobs: dict[str, object]) -> Path:
    files = {"index.json": json.dumps(index).encode(), "oci-layout": b"{}"}
    files.update({f"blobs/sha256/{k}": json.dumps(v).encode() for k, v in blobs.items()})
    path.write_bytes(tar_of(files))
    return path


D1, D2 = "a" * 64, "b" * 64


@pytest.mark.parametrize(
    ("index", "blobs", "reason"),
    [
        ([], {}, "index.json: expected an object, got a list"),
        ({"manifests": None}, {}, "lists no manifest"),
        ({"manifests": {"a": 1}}, {}, r"index.json.manifests: expected a list, got an object"),
        ({"manifests": [None]}, {}, "lists no manifest"),
        ({"manifests": ["x"]}, {}, r"manifests\[0\]: expected an object, got a string"),
        (
            {"manifests": [{"digest": f"sha256:{D1}", "platform": "amd64"}]},
            {},
            r"manifests\[0\].platform: expected an object, got a string",
        ),
        ({"manifests": [{"digest": 5}]}, {}, r"manifests\[0\].digest: invalid digest a number"),
        (
            {"manifests": [{"digest": f"sha256:{D1}"}]},
            {D1: {"config": {"digest": f"sha256:{D2}"}, "layers": [{"digest": 1}]}, D2: {}},
            r"layers\[0\].digest: invalid digest",
        ),
        (
            {"manifests": [{"digest": f"sha256:{D1}"}]},
            {D1: {"config": None, "layers": []}},
            r"\.config: expected an object, got null",
        ),
        (
            {"manifests": [{"digest": f"sha256:{D1}"}]},
            {D1: {"config": {"digest": f"sha256:{D2}"}, "layers": "x"}, D2: {}},
            r"\.layers: expected a list, got a string",
        ),
        (
            {"manifests": [{"digest": f"sha256:{D1}"}]},
            {
                D1: {
                    "config": {"digest": f"sha256:{D2}"},
                    "layers": [{"digest": f"sha256:{D2}", "size": "12"}],
                },
                D2: {},
            },
            r"layers\[0\].size: expected an integer, got a string",
        ),
        (
            {"manifests": [{"digest": f"sha256:{D1}", "annotations": []}]},
            {D1: {"config": {"digest": f"sha256:{D2}"}, "layers": []}, D2: {}},
            r"annotations: expected an object, got a list",
        ),
    ],
)
def test_oci_json_of_the_wrong_shape(
    tmp_path: Path, index: object, blobs: dict[str, object], reason: str
) -> None:
    if index == {"manifests": [None]}:
        reason = r"manifests\[0\]: expected an object, got null"
    refused(oci_with(tmp_path / "o.tar", index, blobs), reason)


def test_fifo_and_devices_are_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "image.tar"
    os.mkfifo(fifo)  # nobody writes: opening it to read used to block forever
    refused(fifo, "FIFO")
    zero = Path("/dev/zero")
    if zero.exists():
        link = tmp_path / "zero.tar"
        link.symlink_to(zero)
        refused(link, "device")


def test_fifo_inside_a_layout_folder_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "layout"
    (folder / "blobs" / "sha256").mkdir(parents=True)
    (folder / "index.json").write_text(json.dumps({"manifests": [{"digest": f"sha256:{D1}"}]}))
    os.mkfifo(folder / "blobs" / "sha256" / D1)
    refused(folder, "FIFO")
    (folder / "blobs" / "sha256" / D1).unlink()
    (folder / "blobs" / "sha256" / D1).symlink_to("/etc/hostname")
    refused(folder, "symbolic link")


def test_twenty_thousand_whiteouts_are_linear_and_correct(tmp_path: Path) -> None:
    n = 20_000
    lower: list[Entry] = [(f"d/f{i}", b"x") for i in range(n)]
    upper: list[Entry] = [(f"d/.wh.f{i}", b"") for i in range(n)]
    upper += [("d/.wh..wh..opq", b"")] * 3 + [("e/.wh..wh..opq", b"")] * 3
    upper += [("d/kept", b"k")]
    image = docker_save(tmp_path / "i.tar", [lower, upper, [("d/.wh..wh..opq", b"")] * 50])
    report = analyze_image(image)
    assert report.final == 0
    assert report.written == n + 1
    assert [layer.removed for layer in report.layers] == [0, n, 1]
    [waste] = [f for f in report.findings if f.code == "WF701" and f.bytes == n]
    assert "removed" in waste.message


def test_whiteout_walks_are_linear_in_the_entries() -> None:
    # The proof without a clock: count the paths the whiteout walks visit.
    from wheelfix.containers.image import _apply, _LayerStats, _State

    def entry(name: str) -> tarfile.TarInfo:
        return tarfile.TarInfo(name)

    n = 20_000
    state = _State()
    stats = _LayerStats()
    for i in range(n):
        _apply(state, entry(f"d/sub{i % 100}/f{i}"), f"d/sub{i % 100}/f{i}", 0, stats, Path())
    state.cleared = set()
    for i in range(n):  # every file whited out, then the folders, then the root, twice
        name = f"d/sub{i % 100}/.wh.f{i}"
        _apply(state, entry(name), name, 1, stats, Path())
    for _ in range(2):
        for i in range(100):
            name = f"d/sub{i}/.wh..wh..opq"
            _apply(state, entry(name), name, 1, stats, Path())
        _apply(state, entry("d/.wh..wh..opq"), "d/.wh..wh..opq", 1, stats, Path())
        _apply(state, entry(".wh..wh..opq"), ".wh..wh..opq", 1, stats, Path())
    assert not state.nodes
    # Each path is visited once when it is removed, plus the folders once each per layer:
    # a quadratic walk would visit n * n / 2 = 200 million.
    assert state.visits <= 2 * n + 300


def test_thousands_of_environments_and_venvs_in_one_pass(tmp_path: Path) -> None:
    # Each environment and each venv used to rescan every path of the image (3000 of each:
    # 18 s); now every path is looked at once. Correctness on the large input is asserted.
    n = 2000
    entries: list[Entry] = []
    for i in range(n):
        entries.append((f"e{i}/site-packages/p-1.0.dist-info/METADATA", b"Name: p\n"))
        entries.append((f"e{i}/site-packages/p/tests/test_x.py", b"x" * 10))
        entries.append((f"v{i}/venv/pyvenv.cfg", b"home = /usr\n"))
        entries.append((f"v{i}/requirements.txt", b"x\n"))
        entries.append((f"v{i}/venv/lib/a.py", b"x"))
    entries.append(("e0/site-packages/e1/site-packages/p/tests/t.py", b"y" * 7))
    report = analyze_image(docker_save(tmp_path / "i.tar", [entries]))
    assert len(report.environments) == n
    tests = {f.path: f.bytes for f in report.findings if f.code == "WF401"}
    assert tests["/e1/site-packages"] == 10
    assert tests["/e0/site-packages"] == 17  # its own tests and the nested folder's
    leftovers = {f.path: f.bytes for f in report.findings if f.code == "WF703"}
    assert len(leftovers) == n
    assert leftovers["/v7/venv"] == len(b"home = /usr\n") + 1


def test_a_whiteout_names_what_it_removes_in_archive_order(tmp_path: Path) -> None:
    names = ["d/zeta", "d/alpha", "d/mu", "d/beta"]
    image = docker_save(
        tmp_path / "i.tar", [[(n, b"x" * 10) for n in names], [("d/.wh..wh..opq", b"")]]
    )
    [waste] = [f for f in analyze_image(image).findings if f.code == "WF701"]
    assert waste.path == "/d/zeta"
    assert "e.g. /d/zeta, /d/alpha, /d/mu:" in waste.message


def test_cli_gives_one_line_and_exit_2_for_hostile_images(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from wheelfix.cli.app import cli

    whiteout = raw_header("a", b"%011o\0" % 1) + b"a" + b"\0" * 511
    whiteout += raw_header(".wh.a", base256(2**87)) + b"\0" * 1024
    hostile = [
        with_layer(tmp_path / "w.tar", whiteout),
        saved(tmp_path / "m.tar", [{"Config": "c.json", "Layers": [7]}], {"c.json": b"{}"}),
        with_bytes(tmp_path, raw_header("manifest.json", base256(2**87)) + b"\0" * 1024),
    ]
    for path in hostile:
        result = CliRunner().invoke(cli, ["image", str(path)])
        assert result.exit_code == 2, (path, result.output)
        assert result.stderr.startswith(f"wheelfix: error: {path}: "), result.stderr
        assert result.stderr.count("\n") == 1


def test_an_entry_name_longer_than_path_max_is_refused(tmp_path: Path) -> None:
    # A pax header can carry a 1 MiB name; walking its 500 000 folders was quadratic.
    fine = docker_save(tmp_path / "ok.tar", [[("a/" * 2000 + "f", b"x")]])
    assert analyze_image(fine).final == 1
    image = docker_save(tmp_path / "i.tar", [[("a/" * 20_000 + "f", b"x")]])
    refused(image, "entry name or link target of 40001 characters")
    link = docker_save(tmp_path / "l.tar", [[("lib", ("sym", "a/" * 20_000 + "f"))]])
    refused(link, "entry name or link target of 40001 characters")


def test_a_layout_folder_whose_blobs_folder_is_a_link_is_refused(tmp_path: Path) -> None:
    archive = oci_archive(tmp_path / "o.tar", [[("f", b"1" * 64)]])
    elsewhere = tmp_path / "elsewhere"
    with tarfile.open(archive) as tar:
        tar.extractall(elsewhere, filter="data")
    folder = tmp_path / "layout"
    folder.mkdir()
    for name in ("index.json", "oci-layout"):
        (folder / name).write_bytes((elsewhere / name).read_bytes())
    (folder / "blobs").symlink_to(elsewhere / "blobs")  # every blob lives outside the folder
    refused(folder, "symlink")
    (folder / "blobs").unlink()
    (folder / "blobs").mkdir()
    (folder / "blobs" / "sha256").symlink_to(elsewhere / "blobs" / "sha256")
    refused(folder, "symlink")
    (folder / "blobs" / "sha256").unlink()
    (elsewhere / "blobs").rename(folder / "blobs")  # the same files, inside: accepted
    assert analyze_image(folder).final == 64


def test_an_image_that_cannot_be_read_for_its_mode(tmp_path: Path) -> None:
    with shared_folder() as folder:
        image = docker_save(folder / "i.tar", [[("f", b"1" * 10)]])
        assert analyze_image(image).final == 10  # and loads what the analysis loads lazily
        image.chmod(0)
        assert "permission denied" in as_nobody(lambda: refused(image, "permission denied"))
