"""wheelfix dockerfile: the size lessons, line by line."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import Result
from unprivileged import as_nobody, shared_folder

from wheelfix.containers.dockerfile import (
    MAX_DOCKERFILE_BYTES,
    analyze_dockerfile,
    parse_dockerfile,
)

NAIVE = """\
FROM python:3.11
WORKDIR /app
COPY . .
RUN apt-get update && apt-get install -y gcc libpq-dev
RUN pip install -r requirements.txt
# clean up (too late)
RUN rm -rf /root/.cache/pip \\
    && rm -rf /var/lib/apt/lists/*
CMD ["python", "app.py"]
"""

FIXED = """\
FROM python:3.11-bookworm AS builder
RUN apt-get update && apt-get install -y --no-install-recommends build-essential libpq-dev \\
 && rm -rf /var/lib/apt/lists/*
COPY requirements.txt .
RUN pip wheel --no-cache-dir -w /wheels -r requirements.txt \\
 && pip install --no-cache-dir wheelfix && wheelfix repair --strip -w /wheelhouse /wheels/*.whl

FROM python:3.11-slim-bookworm
ENV PIP_NO_CACHE_DIR=1
RUN --mount=type=bind,from=builder,source=/wheelhouse,target=/wheelhouse \
    pip install --no-index /wheelhouse/*.whl
COPY app.py /app/app.py
"""


def write(tmp_path: Path, text: str, ignore: str | None = None) -> Path:
    path = tmp_path / "Dockerfile"
    path.write_text(text)
    if ignore is not None:
        (tmp_path / ".dockerignore").write_text(ignore)
    return path


def codes_by_line(path: Path, **kwargs: object) -> set[tuple[str, int]]:
    report = analyze_dockerfile(path, **kwargs)  # type: ignore[arg-type]
    return {(f.code, int((f.path or ":0").rsplit(":", 1)[1])) for f in report.findings}


def test_parse_joins_continuations_and_counts_stages() -> None:
    instructions = parse_dockerfile(FIXED)
    assert [i.keyword for i in instructions][:3] == ["FROM", "RUN", "COPY"]
    assert instructions[1].line == 2 and "rm -rf /var/lib/apt/lists" in instructions[1].arguments
    assert max(i.stage for i in instructions) == 1


def test_empty_lines_and_comments_inside_a_continuation_do_not_end_it() -> None:
    text = (
        "FROM python:3.11-slim\n"
        "RUN apt-get update \\\n"
        "\n"
        "    # the compiler\n"
        "    && apt-get install -y gcc\n"
        "CMD x\n"
    )
    instructions = parse_dockerfile(text)
    assert [i.keyword for i in instructions] == ["FROM", "RUN", "CMD"]
    assert "apt-get install -y gcc" in instructions[1].arguments


def test_naive_dockerfile(tmp_path: Path) -> None:
    assert codes_by_line(write(tmp_path, NAIVE)) == {
        ("WF802", 1),
        ("WF801", 3),
        ("WF805", 4),
        ("WF803", 5),
        ("WF804", 7),
    }


def test_fixed_dockerfile_is_clean(tmp_path: Path) -> None:
    report = analyze_dockerfile(write(tmp_path, FIXED))
    assert report.findings == ()
    assert report.stages == 2
    assert report.exit_code == 0


def test_dockerignore_that_excludes_the_usual_suspects(tmp_path: Path) -> None:
    path = write(tmp_path, NAIVE, ignore=".git\nvenv\n.venv\n*.ipynb\n")
    assert "WF801" not in {code for code, _ in codes_by_line(path)}
    partial = write(tmp_path, NAIVE, ignore=".git\n")
    report = analyze_dockerfile(partial)
    (finding,) = [f for f in report.findings if f.code == "WF801"]
    assert "does not exclude venv" in finding.message


def test_alpine_with_manylinux_only_wheels(tmp_path: Path) -> None:
    wheelhouse = tmp_path / "wheelhouse"
    wheelhouse.mkdir()
    (wheelhouse / "numpy-2.3.5-cp311-cp311-manylinux_2_28_x86_64.whl").write_bytes(b"")
    (wheelhouse / "idna-3.10-py3-none-any.whl").write_bytes(b"")
    path = write(tmp_path, "FROM python:3.11-alpine\nRUN pip install --no-cache-dir numpy\n")
    report = analyze_dockerfile(path, wheelhouse=wheelhouse)
    (finding,) = [f for f in report.findings if f.code == "WF806"]
    assert "numpy" in finding.message and "idna" not in finding.message
    assert report.exit_code == 1


def test_cleanup_in_the_same_run_is_fine(tmp_path: Path) -> None:
    text = "FROM python:3.11-slim\nRUN pip install --no-cache-dir x && rm -rf /root/.cache\n"
    assert codes_by_line(write(tmp_path, text)) == set()


def test_copying_the_wheelhouse_then_deleting_it_later_wastes_it(tmp_path: Path) -> None:
    text = (
        "FROM python:3.11-slim\nCOPY --from=builder /wheelhouse /wheelhouse\n"
        "RUN pip install --no-cache-dir --no-index /wheelhouse/*.whl && rm -rf /wheelhouse\n"
    )
    assert codes_by_line(write(tmp_path, text)) == {("WF804", 3)}


def test_buildkit_cache_mount_and_platform_flag(tmp_path: Path) -> None:
    text = (
        "FROM --platform=linux/amd64 python:3.11\n"
        "RUN --mount=type=cache,target=/root/.cache/pip pip install -r requirements.txt\n"
    )
    assert codes_by_line(write(tmp_path, text)) == {("WF802", 1)}


def test_the_docker_guide_gets_the_finding_it_documents(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    guide = (Path(__file__).resolve().parents[3] / "docs" / "docker.md").read_text()
    dockerfile = guide.split("```dockerfile\n", 1)[1].split("```", 1)[0]
    (documented,) = [ln.strip() for ln in guide.splitlines() if "warning WF804" in ln]
    (tmp_path / "Dockerfile").write_text(dockerfile)
    monkeypatch.chdir(tmp_path)
    (finding,) = analyze_dockerfile(Path("Dockerfile")).findings
    line = f"{finding.level.label} {finding.code} {finding.name}  {finding.path}: {finding.message}"
    assert line == documented


def test_a_file_without_from_is_not_a_dockerfile(tmp_path: Path) -> None:
    from wheelfix.errors import UsageError

    path = tmp_path / "report.json"
    path.write_text('{"schema_version": 1}\n')
    with pytest.raises(UsageError, match="no FROM instruction"):
        analyze_dockerfile(path)


def test_build_tools_removed_in_the_same_run_never_reach_the_image(tmp_path: Path) -> None:
    text = (
        "FROM python:3.11-slim\n"
        "RUN apt-get update && apt-get install -y --no-install-recommends gcc libpq-dev \\\n"
        "    && pip install --no-cache-dir psycopg2 && apt-get purge -y gcc \\\n"
        "    && rm -rf /var/lib/apt/lists/*\n"
    )
    report = analyze_dockerfile(write(tmp_path, text))
    (finding,) = [f for f in report.findings if f.code == "WF805"]
    assert "libpq-dev" in finding.message and "gcc" not in finding.message


def test_env_comes_with_from_a_stage_and_not_from_others(tmp_path: Path) -> None:
    # BuildKit starts `FROM base` from the image stage `base` built, with its ENV; a stage
    # that starts from another image inherits nothing from earlier stages.
    text = (
        "FROM python:3.11-slim AS base\n"
        "ENV PIP_NO_CACHE_DIR=1\n"
        "FROM base AS app\n"
        "RUN pip install requests\n"
        "FROM python:3.11-slim AS other\n"
        "RUN pip install requests\n"
        "FROM app\n"
        "RUN pip install idna\n"
    )
    assert codes_by_line(write(tmp_path, text)) == {("WF803", 6)}


def test_layers_of_the_parent_stage_count_for_a_late_cleanup(tmp_path: Path) -> None:
    text = (
        "FROM python:3.11-slim AS base\n"
        "RUN apt-get update\n"
        "FROM BASE\n"  # stage names are case-insensitive
        "RUN rm -rf /var/lib/apt/lists/*\n"
    )
    report = analyze_dockerfile(write(tmp_path, text))
    (finding,) = report.findings
    assert finding.code == "WF804" and finding.path is not None
    assert finding.path.endswith(":4")
    assert "after line 2 (apt-get update)" in finding.message


def test_late_cleanup_names_the_apt_get_update_line(tmp_path: Path) -> None:
    text = (
        "FROM python:3.11-slim\n"
        "RUN apt-get update\n"
        "RUN apt-get install -y --no-install-recommends libpq5\n"
        "RUN rm -rf /var/lib/apt/lists/*\n"
    )
    (finding,) = analyze_dockerfile(write(tmp_path, text)).findings
    assert "comes after line 2 (apt-get update)" in finding.message


@pytest.mark.parametrize(
    ("run", "codes"),
    [
        ("RUN uv pip install --system requests", {("WF803", 2)}),
        ("RUN uv sync --frozen", {("WF803", 2)}),
        ("RUN uv pip install --no-cache --system requests", set()),
        ("RUN --mount=type=cache,target=/root/.cache/uv uv sync", set()),
        # pip's cache mount says nothing about uv's cache, and the other way round
        ("RUN --mount=type=cache,target=/root/.cache/pip uv sync", {("WF803", 2)}),
        ("RUN --mount=type=cache,target=/root/.cache/uv pip install x", {("WF803", 2)}),
    ],
)
def test_uv_caches_like_pip(tmp_path: Path, run: str, codes: set[tuple[str, int]]) -> None:
    text = f"FROM python:3.11-slim\n{run}\n"
    assert codes_by_line(write(tmp_path, text)) == codes


def test_uv_no_cache_env_and_its_message(tmp_path: Path) -> None:
    text = "FROM python:3.11-slim\nENV UV_NO_CACHE=1\nRUN uv sync\nRUN uv pip install x\n"
    assert codes_by_line(write(tmp_path, text)) == set()
    plain = write(tmp_path, "FROM python:3.11-slim\nRUN uv sync\n")
    (finding,) = analyze_dockerfile(plain).findings
    assert "~/.cache/uv" in finding.message and "UV_NO_CACHE=1" in finding.message
    text = "FROM python:3.11-slim\nRUN uv pip install x\nRUN rm -rf /root/.cache/uv\n"
    assert codes_by_line(write(tmp_path, text)) == {("WF803", 2), ("WF804", 3)}


def test_env_turned_off_again_and_legacy_form(tmp_path: Path) -> None:
    text = (
        "FROM python:3.11-slim\nENV PIP_NO_CACHE_DIR 1\nRUN pip install a\n"
        "ENV PIP_NO_CACHE_DIR=\nRUN pip install b\n"
    )
    assert codes_by_line(write(tmp_path, text)) == {("WF803", 5)}


def test_an_empty_dockerignore_is_not_a_missing_one(tmp_path: Path) -> None:
    text = "FROM python:3.11-slim\nCOPY . /app\n"
    (missing,) = analyze_dockerfile(write(tmp_path, text)).findings
    assert "no .dockerignore" in missing.message
    (empty,) = analyze_dockerfile(write(tmp_path, text, ignore="# nothing yet\n")).findings
    assert "no .dockerignore" not in empty.message
    assert "the .dockerignore excludes nothing" in empty.message


def test_long_lists_say_how_many_more(tmp_path: Path) -> None:
    packages = " ".join(f"lib{n}-dev" for n in range(8))
    text = f"FROM python:3.11-slim\nRUN apt-get install -y {packages}\n"
    (finding,) = analyze_dockerfile(write(tmp_path, text)).findings
    assert "lib0-dev, lib1-dev, lib2-dev, lib3-dev, lib4-dev and 3 more" in finding.message
    assert "lib5-dev" not in finding.message


# -- bounded and total (issue 10): what is read, and how long it may take ----------------------
def run_cli(*args: str) -> Result:
    from click.testing import CliRunner

    from wheelfix.cli.app import cli

    return CliRunner().invoke(cli, ["dockerfile", *args])


def assert_refused_by_cli(path: Path, reason: str) -> None:
    result = run_cli(str(path))
    assert result.exit_code == 2, result.output
    assert reason in result.stderr
    assert "internal error" not in result.stderr
    assert result.stderr.count("\n") == 1


def test_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "Dockerfile"
    os.mkfifo(fifo)  # nobody writes: reading it used to block forever
    assert_refused_by_cli(fifo, "not a regular file (a FIFO)")


def test_dev_zero_is_refused(tmp_path: Path) -> None:
    if not Path("/dev/zero").exists():
        pytest.skip("no /dev/zero here")
    assert_refused_by_cli(Path("/dev/zero"), "not a regular file (a device)")


def test_a_3_gib_file_is_refused_before_reading(tmp_path: Path) -> None:
    big = tmp_path / "Dockerfile"
    with big.open("wb") as fh:
        fh.truncate(3 << 30)  # sparse: reading it whole took 3 GiB of memory
    assert_refused_by_cli(big, f"larger than the limit of {MAX_DOCKERFILE_BYTES} bytes")


def test_not_utf8_is_refused_with_the_offset(tmp_path: Path) -> None:
    path = tmp_path / "Dockerfile"
    path.write_bytes(b"FROM python:3.11-slim\nRUN echo \xff\n")
    assert_refused_by_cli(path, "byte 0xff at offset 31")


def test_a_dockerignore_that_is_a_fifo_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, NAIVE)
    os.mkfifo(tmp_path / ".dockerignore")
    assert_refused_by_cli(path, ".dockerignore: not a regular file (a FIFO)")


def test_long_lines_do_not_make_the_patterns_backtrack(tmp_path: Path) -> None:
    # Both patterns were quadratic: a line of 1 MiB took minutes. Only the answer is
    # asserted; a regression shows as a test that does not finish.
    room = MAX_DOCKERFILE_BYTES - 200
    spaces = "FROM python:3.11-slim\nENV PIP_NO_CACHE_DIR" + " " * room + "x\nRUN pip install x\n"
    report = analyze_dockerfile(write(tmp_path, spaces))
    assert "WF803" in {f.code for f in report.findings}
    mounts = "type=cache" * (room // 10)
    text = f"FROM python:3.11-slim\nRUN --mount={mounts} pip install x\n"
    report = analyze_dockerfile(write(tmp_path, text))
    assert "WF803" in {f.code for f in report.findings}
    cached = "FROM python:3.11-slim\nRUN --mount=type=cache,target=/root/.cache/pip pip install x\n"
    assert "WF803" not in {f.code for f in analyze_dockerfile(write(tmp_path, cached)).findings}


def test_a_dockerfile_that_cannot_be_read_for_its_mode() -> None:
    from wheelfix.errors import UsageError

    with shared_folder() as folder:
        dockerfile = folder / "Dockerfile"
        dockerfile.write_text("FROM python:3.12-slim\n")
        analyze_dockerfile(dockerfile)  # loads what the analysis loads lazily
        dockerfile.chmod(0)

        def analyze() -> str:
            with pytest.raises(UsageError) as info:
                analyze_dockerfile(dockerfile)
            return str(info.value)

        assert "permission denied" in as_nobody(analyze)
