"""``wheelfix scan`` and ``wheelfix slim`` on real installed stacks.

Three stacks (pinned in ``STACKS``) are installed once for CPython 3.11 with
``pip install --target`` into ``.cache/stacks/NAME-PINS/`` (``stack_folder``; built into a
``.partial`` folder, then renamed; bytecode compiled, as pip does by default):
``scientific`` (numpy, scipy, pandas, scikit-learn, matplotlib: the issue's stack, and
Cython), ``analytics`` (statsmodels, sympy, networkx, scikit-image, astropy, xarray) and
``web`` (requests, pydantic, sqlalchemy, lxml, cryptography, jinja2), each with its
dependencies. Then:

* **scan speed**, on the scientific stack, best of ``--repeat``, interleaved round by round:
  ``wheelfix scan --format json STACK`` as a command, against two floors that read every
  file of the tree once (``os.walk`` + ``open().read()``, one thread): the same loop run as
  a command (``python -S``, so it pays an interpreter start like wheelfix does) and run
  inside this process (no start at all: the stricter one). Commands run without
  ``PYTHONDONTWRITEBYTECODE``, so wheelfix's own modules load from bytecode as they do in
  any installed copy;
* **sizes**, per stack: as installed; after ``wheelfix slim --apply`` (default categories)
  on a copy; after serverless-python-requirements' documented ``slim`` rules on another
  copy (``strip`` every ``*.so``; delete ``**/*.py[c|o]``, ``**/__pycache__*``,
  ``**/*.dist-info*``), re-implemented by ``serverless_slim`` below;
* **smoke**: each stack's workload (``SMOKES``, shared with
  ``tests/integration/test_slim_stack.py``) on each tree, with this machine's ``python3``
  and ``PYTHONPATH=TREE``, step by step.

    python bench/bench_env.py [--repeat 3] [--stacks scientific,analytics,web]
                              [--markdown bench/RESULTS.md]

The report (Markdown: machine facts and tables) goes to stdout and is appended to
``--markdown PATH``. Needs network access to PyPI the first time and ``strip`` (binutils).
Tests import this file for ``STACKS``, ``ensure_stack`` and the smoke workloads.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import fcntl
import fnmatch
import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from email.parser import HeaderParser
from importlib import metadata
from pathlib import Path

from wheelfix.installed.scan import scan as scan_in_process
from wheelfix.installed.slim import disk_bytes

REPO = Path(__file__).resolve().parent.parent
STACK_CACHE = REPO / ".cache" / "stacks"

STACKS: dict[str, tuple[str, ...]] = {
    # The five the issue names, then every dependency pip resolved for them (cp311,
    # manylinux x86_64), pinned too so the tree is the same on every machine.
    "scientific": (
        "numpy==2.4.6",
        "scipy==1.17.1",
        "pandas==3.1.1",
        "scikit-learn==1.9.1",
        "matplotlib==3.11.2",
        "cloudpickle==3.1.3",
        "contourpy==1.3.3",
        "cycler==0.12.1",
        "fonttools==4.68.0",
        "joblib==1.6.0",
        "kiwisolver==1.5.1",
        "narwhals==2.29.0",
        "packaging==26.4",
        "pillow==13.0.0",
        "pyparsing==3.3.3",
        "python-dateutil==4.0.0",
        "threadpoolctl==3.8.0",
        "tzdata==2026.6",
        # Not a dependency of the five: Cython reads its own C and Cython sources
        # (``Cython/Utility``) whenever it translates a .pyx, the run-time sources slim
        # must keep (the smoke workload translates one).
        "cython==3.3.1",
    ),
    # A different kind of stack: web/IO libraries, most with compiled parts (pydantic-core
    # and cryptography are Rust, lxml bundles libxml2/libxslt, greenlet is C++ and ships
    # its tests, sqlalchemy and markupsafe are C/Cython), then their dependencies.
    "web": (
        "requests==2.34.2",
        "pydantic==2.14.4",
        "sqlalchemy[asyncio]==2.1.9",
        "lxml==6.1.3",
        "cryptography==50.0.2",
        "jinja2==3.1.6",
        "annotated-types==0.8.0",
        "certifi==2026.10.19.post1",
        "cffi==2.1.1",
        "charset-normalizer==3.5.3",
        "greenlet==3.5.6",
        "idna==3.20",
        "markupsafe==3.0.4",
        "pycparser==3.12",
        "pydantic-core==2.50.5",
        "typing-extensions==4.16.0",
        "typing-inspection==0.4.5",
        "urllib3==2.8.0",
    ),
    # A third kind: statistics, symbolic maths, graphs, imaging, astronomy and labelled
    # arrays (statsmodels, sympy, networkx, scikit-image, astropy, xarray), then the
    # dependencies pip resolved for them. Chosen after measuring candidates (bench/RESULTS.md).
    "analytics": (
        "statsmodels==0.15.0",
        "sympy==1.14.0",
        "networkx==3.6.1",
        "scikit-image==0.26.0",
        "astropy==8.0.2",
        "xarray==2026.9.0",
        "astropy-iers-data==0.2026.11.2.0.34.55",
        "formulaic==1.2.2",
        "imageio==2.38.1",
        "interface-meta==2.0.1",
        "lazy-loader==0.6",
        "mpmath==1.3.0",
        "narwhals==2.29.0",
        "numpy==2.4.6",
        "packaging==26.4",
        "pandas==3.1.1",
        "patsy==1.0.3",
        "pillow==13.0.0",
        "pyerfa==2.0.1.5",
        "python-dateutil==4.0.0",
        "pyyaml==6.0.4",
        "scipy==1.17.1",
        "tifffile==2026.3.3",
        "typing-extensions==4.16.0",
        "tzdata==2026.6",
        "wrapt==2.5.2",
    ),
}

#: Platform tags pip may pick: manylinux up to the glibc of the test root filesystem
#: (Debian bookworm, 2.36). pip does not widen ``manylinux_2_X`` tags given with --platform.
_PLATFORMS = (
    *(f"manylinux_2_{minor}_x86_64" for minor in range(36, 16, -1)),
    "manylinux2014_x86_64",  # pip widens this one to manylinux2010 and manylinux1
)


class StackBuildError(RuntimeError):
    """``pip install --target`` failed; the message has the end of its output."""


def pip_command(target: Path, requirements: tuple[str, ...], python: str) -> list[str]:
    """The pip command that installs a stack for CPython 3.11: binaries only, and bytecode
    compiled as pip does by default (the issue's 460 MB is that tree; see bench/RESULTS.md)."""
    platforms = [arg for tag in _PLATFORMS for arg in ("--platform", tag)]
    return [
        python,
        "-m",
        "pip",
        "install",
        "--target",
        str(target),
        "--only-binary=:all:",
        "--python-version",
        "3.11",
        "--implementation",
        "cp",
        "--abi",
        "cp311",
        *platforms,
        "--disable-pip-version-check",
        "--no-input",
        "--quiet",
        *requirements,
    ]


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def manifest(tree: Path) -> str:
    """Every path under ``tree`` with its type, size and mtime, one per line, sorted."""
    lines = []
    for dirpath, dirs, files in os.walk(tree):
        dirs.sort()
        for name in (*dirs, *files):
            path = os.path.join(dirpath, name)  # noqa: PTH118 - 10,000s of paths, plain strings
            st = os.lstat(path)
            kind = "d" if name in dirs else "f"
            lines.append(f"{os.path.relpath(path, tree)}\t{kind}\t{st.st_size}\t{st.st_mtime_ns}")
    return "".join(f"{line}\n" for line in sorted(lines))


def is_pristine(tree: Path, recorded: Path) -> bool:
    """The tree is exactly as installed: same paths, sizes and mtimes as ``recorded`` (written
    right after the install). Anything that imported into it (new bytecode), slimmed it (a
    journal, removed files) or edited a file changes the manifest."""
    return recorded.is_file() and recorded.read_text() == manifest(tree)


def stack_folder(name: str, *, cache: Path = STACK_CACHE) -> Path:
    """``cache/NAME-PINS``: one folder per set of pins (the first 12 hex digits of their
    sha256), so branches or checkouts with other pins share the cache without rebuilding
    (and deleting) each other's trees."""
    pins = "".join(f"{r}\n" for r in STACKS[name])
    return cache / f"{name}-{hashlib.sha256(pins.encode()).hexdigest()[:12]}"


def ensure_stack(
    name: str,
    *,
    cache: Path = STACK_CACHE,
    python: str = sys.executable,
    log: Callable[[str], None] | None = None,
) -> Path:
    """``stack_folder(NAME)``, installed from ``STACKS[NAME]`` unless already there.

    Built into ``NAME.partial`` and renamed, under a lock, so an interrupted or concurrent
    run never leaves (or sees) a half tree. ``NAME.pins`` next to it records the pins and
    ``NAME.manifest`` the tree as installed (see ``is_pristine``).
    """
    requirements = STACKS[name]
    pins = "".join(f"{r}\n" for r in requirements)
    target = stack_folder(name, cache=cache)
    stamp = target.with_name(f"{target.name}.pins")
    recorded = target.with_name(f"{target.name}.manifest")
    with _locked(target.with_name(f"{target.name}.lock")):
        if target.is_dir() and stamp.is_file() and stamp.read_text() == pins:
            if is_pristine(target, recorded):
                return target
            if log is not None:
                log(f"{target} was changed after install: rebuilding")
        partial = target.with_name(f"{target.name}.partial")
        shutil.rmtree(partial, ignore_errors=True)
        if log is not None:
            log(f"installing the {name} stack into {target} ({len(requirements)} pins)")
        out = subprocess.run(
            pip_command(partial, requirements, python),
            capture_output=True,
            text=True,
            check=False,
            env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"},
        )
        if out.returncode != 0:
            shutil.rmtree(partial, ignore_errors=True)
            raise StackBuildError(
                f"pip install --target for the {name} stack failed (exit {out.returncode}):\n"
                f"{out.stdout[-2000:]}\n{out.stderr[-3000:]}"
            )
        stamp.unlink(missing_ok=True)
        recorded.unlink(missing_ok=True)
        if target.exists():  # built with other pins
            old = target.with_name(f"{target.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            target.rename(old)
            shutil.rmtree(old)
        partial.rename(target)
        recorded.write_text(manifest(target))
        stamp.write_text(pins)
    return target


# -- the smoke workload (shared with tests/integration/test_slim_stack.py) --------------------
#: Runs each step in one interpreter, in order; prints one JSON line per finished step, so a
#: step that kills the interpreter is the first one missing. argv: steps JSON, expected
#: versions JSON ({distribution name: version}).
SMOKE_DRIVER = r"""
import json, sys
sys.dont_write_bytecode = True
steps, expected = json.loads(sys.argv[1]), json.loads(sys.argv[2])
for name, code in steps.items():
    try:
        exec(compile(code, f"<smoke step {name}>", "exec"),
             {"__name__": "__smoke__", "EXPECTED": expected})
        error = None
    except BaseException as exc:
        error = f"{type(exc).__name__}: {exc}"[:4000]
    print(json.dumps({name: error}), flush=True)
"""

#: ``importlib.metadata.version()`` of every expected distribution equals its dist-info's,
#: and is found in the tree under test (the first ``PYTHONPATH`` entry), not elsewhere.
METADATA_STEP = """
import importlib.metadata as md, os
root = os.path.realpath(os.environ["PYTHONPATH"].split(os.pathsep)[0])
wrong = {}
for name, version in EXPECTED.items():
    dist = md.distribution(name)
    where = os.path.realpath(str(dist.locate_file("")))
    if md.version(name) != version or where != root:
        wrong[name] = (md.version(name), version, where)
assert not wrong, f"version or location differs: {wrong}"
"""

SCIENTIFIC_SMOKE: dict[str, str] = {
    "import all five": """
import numpy, scipy, pandas, sklearn, matplotlib
import scipy.optimize, scipy.linalg, scipy.sparse, scipy.stats, scipy.special
import sklearn.linear_model, sklearn.ensemble, sklearn.datasets, sklearn.model_selection
import matplotlib.pyplot
""",
    "scikit-learn fit": """
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
X, y = make_classification(n_samples=600, n_features=10, n_informative=5, random_state=0)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=0)
accuracy = LogisticRegression(max_iter=1000).fit(X_train, y_train).score(X_test, y_test)
assert accuracy > 0.8, f"accuracy {accuracy:.3f}"
""",
    "pandas groupby": """
import pandas as pd
df = pd.DataFrame({"k": ["a", "b", "a", "c", "b", "a"], "v": [1, 2, 3, 4, 5, 6]})
got = df.groupby("k")["v"].agg(["sum", "mean", "count"])
assert got["sum"].to_dict() == {"a": 10, "b": 7, "c": 4}, got
assert got["mean"].to_dict() == {"a": 10 / 3, "b": 3.5, "c": 4.0}, got
assert got["count"].to_dict() == {"a": 3, "b": 2, "c": 1}, got
""",
    "scipy minimize": """
import numpy as np
from scipy.optimize import minimize
f = lambda x: (x[0] - 3.0) ** 2 + 2.0 * (x[1] + 1.0) ** 2 + 5.0
result = minimize(f, np.zeros(2), method="BFGS")
assert result.success, result.message
assert np.allclose(result.x, [3.0, -1.0], atol=1e-4), result.x
assert abs(result.fun - 5.0) < 1e-8, result.fun
""",
    "matplotlib PNG": """
import os, tempfile
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
fig, ax = plt.subplots(figsize=(3, 2))
ax.plot([0, 1, 2, 3], [0, 1, 4, 9], marker="o")
ax.set_title("smoke")
fd, path = tempfile.mkstemp(suffix=".png")
os.close(fd)
try:
    fig.savefig(path)
    with open(path, "rb") as fh:
        head = fh.read(8)
    assert head == b"\\x89PNG\\r\\n\\x1a\\n", head
    assert os.path.getsize(path) > 1000, os.path.getsize(path)
finally:
    os.unlink(path)
""",
    # Cython reads its own C, C++ and Cython sources (Cython/Utility) and .pxd files
    # (Cython/Includes, numpy's __init__.pxd) while it translates: the sources slim keeps.
    # Translation only: the bare root filesystem has no C compiler.
    "Cython translates a .pyx": """
import os, shutil, tempfile
from Cython.Compiler.Main import compile as cython_compile
folder = tempfile.mkdtemp()
try:
    pyx = os.path.join(folder, "smoke.pyx")
    with open(pyx, "w") as fh:
        fh.write(
            "# cython: language_level=3\\n"
            "from libc.math cimport sqrt\\n"
            "cimport numpy as cnp\\n"
            "cdef class Acc:\\n"
            "    cdef double total\\n"
            "    def add(self, double[:] xs):\\n"
            "        cdef Py_ssize_t i\\n"
            "        for i in range(xs.shape[0]):\\n"
            "            self.total += sqrt(xs[i])\\n"
            "        return self.total\\n"
            "async def later():\\n"
            "    return [x * 2 for x in range(3)]\\n"
        )
    result = cython_compile(pyx)
    assert result.num_errors == 0, result.num_errors
    with open(result.c_file) as fh:
        c = fh.read()
    assert "__pyx_memoryview" in c and "__Pyx_Coroutine" in c, len(c)
finally:
    shutil.rmtree(folder)
""",
    "importlib.metadata.version": METADATA_STEP,
}


WEB_SMOKE: dict[str, str] = {
    "import": """
import requests, pydantic, sqlalchemy, lxml.etree, cryptography, jinja2, greenlet, markupsafe
import charset_normalizer, certifi, cffi
""",
    "requests": """
import os, requests
prepared = requests.Request("POST", "https://example.org/api", params={"q": "a b", "n": 2},
                            json={"x": [1, 2]}).prepare()
assert prepared.url == "https://example.org/api?q=a+b&n=2", prepared.url
assert prepared.body == b'{"x": [1, 2]}', prepared.body
assert os.path.isfile(requests.certs.where())
import charset_normalizer
best = charset_normalizer.from_bytes("Grüße aus Köln, schöne Straße".encode("utf-8")).best()
assert best is not None and best.encoding == "utf_8", best
""",
    "pydantic": """
import pydantic
class Item(pydantic.BaseModel):
    name: str
    price: float
    tags: list[str] = []
item = Item.model_validate({"name": "pen", "price": "1.5", "tags": ["a"]})
assert item.price == 1.5 and item.model_dump_json() == '{"name":"pen","price":1.5,"tags":["a"]}'
try:
    Item.model_validate({"name": "pen", "price": "cheap"})
except pydantic.ValidationError as exc:
    assert exc.errors()[0]["loc"] == ("price",), exc.errors()
else:
    raise AssertionError("no ValidationError")
""",
    "sqlalchemy": """
import greenlet
from sqlalchemy import Column, Integer, MetaData, String, Table, create_engine, func, select
engine = create_engine("sqlite://")
meta = MetaData()
t = Table("t", meta, Column("id", Integer, primary_key=True), Column("k", String),
          Column("v", Integer))
meta.create_all(engine)
with engine.begin() as conn:
    conn.execute(t.insert(), [{"k": "a", "v": 1}, {"k": "b", "v": 2}, {"k": "a", "v": 4}])
    rows = conn.execute(select(t.c.k, func.sum(t.c.v)).group_by(t.c.k).order_by(t.c.k)).all()
assert [tuple(r) for r in rows] == [("a", 5), ("b", 2)], rows
assert greenlet.greenlet(lambda x: x * 2).switch(21) == 42
""",
    "lxml": """
from lxml import etree
doc = etree.fromstring("<r><i>1</i><i>2</i><i>4</i></r>")
assert doc.xpath("sum(//i)") == 7.0
xslt = etree.XSLT(etree.fromstring(
    '<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform">'
    '<xsl:template match="/"><n><xsl:value-of select="count(//i)"/></n></xsl:template>'
    '</xsl:stylesheet>'))
assert str(xslt(doc)).strip().endswith("<n>3</n>"), str(xslt(doc))
""",
    "cryptography": """
from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ed25519
f = Fernet(Fernet.generate_key())
assert f.decrypt(f.encrypt(b"secret")) == b"secret"
h = hashes.Hash(hashes.SHA256()); h.update(b"abc")
assert h.finalize().hex() == (
    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
key = ed25519.Ed25519PrivateKey.generate()
key.public_key().verify(key.sign(b"msg"), b"msg")
""",
    "jinja2": """
import jinja2
env = jinja2.Environment(autoescape=True)
out = env.from_string("{% for u in users %}<b>{{ u|upper }}</b>{% endfor %}").render(
    users=["x", "<y>"])
assert out == "<b>X</b><b>&lt;Y&gt;</b>", out
""",
    "importlib.metadata.version": METADATA_STEP,
}

ANALYTICS_SMOKE: dict[str, str] = {
    "import all six": """
import statsmodels.api, statsmodels.formula.api, sympy, networkx, skimage, astropy, xarray
import skimage.filters, skimage.measure, skimage.transform
import astropy.units, astropy.io.fits, astropy.table, astropy.time
""",
    "statsmodels OLS": """
import numpy as np, pandas as pd
import statsmodels.formula.api as smf
rng = np.random.default_rng(0)
x = rng.uniform(0, 10, 200)
df = pd.DataFrame({"x": x, "y": 2.0 + 3.0 * x + rng.normal(0, 0.5, 200)})
fit = smf.ols("y ~ x", data=df).fit()
assert abs(fit.params["Intercept"] - 2.0) < 0.2 and abs(fit.params["x"] - 3.0) < 0.05, fit.params
assert fit.rsquared > 0.99, fit.rsquared
""",
    "sympy": """
import sympy as sp
x = sp.symbols("x")
assert sp.integrate(sp.sin(x) ** 2, (x, 0, sp.pi)) == sp.pi / 2
assert set(sp.solve(x**2 - 5 * x + 6, x)) == {2, 3}
assert sp.series(sp.exp(x), x, 0, 4).removeO() == 1 + x + x**2 / 2 + x**3 / 6
""",
    "networkx": """
import networkx as nx
g = nx.Graph([(1, 2), (2, 3), (3, 4), (1, 5), (5, 4), (4, 6)])
assert nx.shortest_path_length(g, 1, 6) == 3
rank = nx.pagerank(g)
assert abs(sum(rank.values()) - 1.0) < 1e-9 and max(rank, key=rank.get) == 4, rank
""",
    "scikit-image": """
import numpy as np
from skimage import filters, measure
image = np.zeros((64, 64))
image[8:24, 8:24] = 1.0
image[40:56, 36:60] = 1.0
smooth = filters.gaussian(image, sigma=1.0)
labels = measure.label(smooth > filters.threshold_otsu(smooth))
assert labels.max() == 2, labels.max()
areas = sorted(r.area for r in measure.regionprops(labels))
assert 200 < areas[0] < 320 and 330 < areas[1] < 450, areas
""",
    "astropy": """
import io, os, tempfile
import numpy as np
import astropy.units as u
from astropy.io import fits
from astropy.table import Table
speed = (1 * u.km / u.s).to(u.pc / u.Myr)
assert abs(speed.value - 1.0227) < 1e-3, speed
fd, path = tempfile.mkstemp(suffix=".fits")
os.close(fd)
try:
    fits.writeto(path, np.arange(12.0).reshape(3, 4), overwrite=True)
    with fits.open(path) as hdul:
        assert hdul[0].data.sum() == 66.0 and hdul[0].header["NAXIS1"] == 4
finally:
    os.unlink(path)
table = Table({"name": ["a", "b"], "flux": [1.5, 2.5] * u.Jy})
out = io.StringIO()
table.write(out, format="ascii.ecsv")
back = Table.read(out.getvalue(), format="ascii.ecsv")
assert back["flux"].unit == u.Jy and list(back["name"]) == ["a", "b"], back
""",
    "xarray": """
import numpy as np, pandas as pd, xarray as xr
times = pd.date_range("2026-01-01", periods=48, freq="h")
da = xr.DataArray(np.arange(48.0), coords={"time": times}, dims="time", name="t")
daily = da.resample(time="1D").mean()
assert daily.values.tolist() == [11.5, 35.5], daily.values
by_hour = da.groupby("time.hour").mean()
assert by_hour.sizes["hour"] == 24 and float(by_hour.sel(hour=0)) == 12.0, by_hour
""",
    "importlib.metadata.version": METADATA_STEP,
}

#: The workload for each stack in ``STACKS``.
SMOKES: dict[str, dict[str, str]] = {
    "scientific": SCIENTIFIC_SMOKE,
    "web": WEB_SMOKE,
    "analytics": ANALYTICS_SMOKE,
}


def installed_versions(root: Path) -> dict[str, str]:
    """{name: version} from the METADATA of every ``*.dist-info`` folder under ``root``."""
    out: dict[str, str] = {}
    for dist_info in sorted(root.glob("*.dist-info")):
        headers = HeaderParser().parsestr((dist_info / "METADATA").read_text(encoding="utf-8"))
        out[headers["Name"]] = headers["Version"]
    return out


def run_smoke(
    command: list[str],
    steps: Mapping[str, str],
    expected: Mapping[str, str],
    *,
    env: Mapping[str, str],
    timeout: float = 600,
) -> dict[str, str | None]:
    """Run the steps with ``command + ["-c", SMOKE_DRIVER, ...]``: step -> None or the error.

    Steps the interpreter never reported (it died) get its exit code and stderr's end.
    """
    out = subprocess.run(
        [*command, "-c", SMOKE_DRIVER, json.dumps(dict(steps)), json.dumps(dict(expected))],
        capture_output=True,
        text=True,
        env=dict(env),
        timeout=timeout,
        check=False,
    )
    results: dict[str, str | None] = {}
    for line in out.stdout.splitlines():
        if line.startswith("{"):
            results.update(json.loads(line))
    tail = " | ".join(out.stderr.strip().splitlines()[-3:])
    for name in steps:
        if name not in results:
            results[name] = f"interpreter died (exit {out.returncode}): {tail}"[:4000]
    return {name: results[name] for name in steps}


# -- serverless-python-requirements' slim rules, re-implemented from its documentation --------
#: Its documented default ``slimPatterns``; with ``slim: true`` it also runs ``strip`` on
#: every ``*.so`` (``strip: true`` is the default).
SERVERLESS_PATTERNS = ("**/*.py[c|o]", "**/__pycache__*", "**/*.dist-info*")


def serverless_slim(root: Path, *, strip: str = "strip") -> int:
    """Apply the rules to ``root`` in place; return how many ``*.so`` files ``strip`` failed on.

    A path matches when its last component matches a pattern's last component (``**/``
    means any depth); a matching folder goes with everything in it.
    """
    names = [p.rpartition("/")[2] for p in SERVERLESS_PATTERNS]
    for dirpath, dirnames, filenames in os.walk(root, topdown=True):
        here = Path(dirpath)
        for d in list(dirnames):
            if any(fnmatch_name(d, n) for n in names) and not (here / d).is_symlink():
                shutil.rmtree(here / d)
                dirnames.remove(d)
        for f in filenames:
            if any(fnmatch_name(f, n) for n in names):
                (here / f).unlink()
    failed = 0
    for so in sorted(root.rglob("*.so")):
        if so.is_file() and not so.is_symlink():
            done = subprocess.run([strip, str(so)], capture_output=True, check=False)
            failed += done.returncode != 0
    return failed


def fnmatch_name(name: str, pattern: str) -> bool:
    """Shell-style match of one path component (case-sensitive, as on Linux)."""
    return fnmatch.fnmatchcase(name, pattern)


# -- measurements ------------------------------------------------------------------------------
def read_every_file(root: Path, *, sha256: bool = False) -> int:
    """The floor: read every regular file once, one thread; with ``sha256``, also hash it
    (what RECORD checks need). Returns the bytes read."""
    total = 0
    for dirpath, _dirnames, filenames in os.walk(root):
        for name in filenames:
            path = os.path.join(dirpath, name)  # noqa: PTH118 - hot loop, plain strings
            if os.path.islink(path):  # noqa: PTH114
                continue
            with open(path, "rb") as fh:  # noqa: PTH123
                data = fh.read()
            if sha256:
                hashlib.sha256(data).digest()
            total += len(data)
    return total


def summarize(error: str) -> str:
    """One table-friendly line for an error: numpy hides its cause under a long preamble."""
    kind = error.partition(":")[0]
    lines = [ln.strip() for ln in error.splitlines() if ln.strip()]
    cause = next((ln for ln in lines if ln.startswith("Original error was:")), None)
    text = f"{kind}: {cause}" if cause else " ".join(lines)
    return text.replace("|", "\\|").replace("`", "'")[:200]


def best_of(repeat: int, action: Callable[[], object]) -> float:
    """Best wall-clock seconds of ``repeat`` calls."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return min(times)


@dataclass
class Tree:
    """One variant of the stack: its size and how the smoke workload went on it."""

    label: str
    path: Path
    size: int
    seconds: float | None = None
    note: str = ""
    smoke: dict[str, str | None] | None = None


def read_text(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def first_line_of(command: list[str]) -> str:
    if shutil.which(command[0]) is None:
        return "not found"
    done = subprocess.run(command, capture_output=True, text=True, check=False, timeout=60)
    lines = (done.stdout or done.stderr).strip().splitlines()
    return lines[0].strip() if lines else "?"


def machine_facts(python3: str, wheelfix: list[str]) -> dict[str, str]:
    cpuinfo = read_text("/proc/cpuinfo")
    model = next(
        (ln.split(":", 1)[1].strip() for ln in cpuinfo.splitlines() if ln.startswith("model name")),
        platform.processor() or "unknown",
    )
    memory = next(
        (
            ln.split(":", 1)[1].strip()
            for ln in read_text("/proc/meminfo").splitlines()
            if ln.startswith("MemTotal")
        ),
        "?",
    )
    os_name = next(
        (
            ln.split("=", 1)[1].strip().strip('"')
            for ln in read_text("/etc/os-release").splitlines()
            if ln.startswith("PRETTY_NAME=")
        ),
        platform.system(),
    )
    try:
        wheelfix_version = metadata.version("wheelfix")
    except metadata.PackageNotFoundError:
        wheelfix_version = "not installed"
    smoke_python = first_line_of([python3, "-S", "-c", "import sys; print(sys.version)"])
    return {
        "cpu": model,
        "nproc": f"{len(os.sched_getaffinity(0))} usable of {os.cpu_count()}",
        "memory": memory,
        "os": f"{os_name}, kernel {platform.release()}",
        "python (this script, wheelfix)": f"{platform.python_implementation()} "
        f"{platform.python_version()}",
        "python3 for the smoke workload": f"{python3} -S ({smoke_python})",
        "wheelfix": f"{wheelfix_version} (command: {' '.join(wheelfix)})",
        "strip": first_line_of(["strip", "--version"]),
        "load average at start (1, 5, 15 min)": " ".join(read_text("/proc/loadavg").split()[:3]),
    }


def shown(path: Path) -> str:
    """``path`` relative to the repository when it is inside it (``.cache/stacks/...``)."""
    try:
        return path.relative_to(REPO).as_posix()
    except ValueError:
        return str(path)


def _mib(size: int) -> str:
    return f"{size / 2**20:,.1f} MiB"


#: The floor as a command: the same loop as ``read_every_file``, in a fresh interpreter.
FLOOR_SCRIPT = """
import os, sys
total = 0
for dirpath, _dirnames, filenames in os.walk(sys.argv[1]):
    for name in filenames:
        path = os.path.join(dirpath, name)
        if os.path.islink(path):
            continue
        with open(path, "rb") as fh:
            total += len(fh.read())
print(total)
"""


def slim_and_smoke(
    name: str, stack: Path, tmp: Path, wheelfix: list[str], python3: str, log: Callable[[str], None]
) -> list[Tree]:
    """The stack as installed, slimmed by wheelfix, slimmed by the serverless rules; each
    with its size and its smoke workload."""
    home = tmp / "home"
    home.mkdir(exist_ok=True)
    smoke_env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "MPLBACKEND": "Agg",
        "LANG": "C.UTF-8",
        "HOME": str(home),
    }
    expected = installed_versions(stack)
    trees = [Tree("as installed (pip install --target)", stack, disk_bytes(stack))]

    copy = tmp / f"{name}-wheelfix"
    shutil.copytree(stack, copy, symlinks=True)
    log(f"{name}: wheelfix slim --apply on a copy")
    start = time.perf_counter()
    done = subprocess.run(
        [*wheelfix, "slim", "--apply", "--no-config", "--format", "json", str(copy)],
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.perf_counter() - start
    note = f"exit {done.returncode}"
    try:
        report = json.loads(done.stdout)
        if report.get("kept"):
            note += f"; kept: {', '.join(report['kept'])}"
        if report.get("restored"):
            note += f"; restored: {report['restored']}"
    except ValueError:
        note += f"; no JSON report: {done.stderr.strip()[-300:]}"
    trees.append(
        Tree("`wheelfix slim --apply` (default categories)", copy, disk_bytes(copy), seconds, note)
    )

    copy = tmp / f"{name}-serverless"
    shutil.copytree(stack, copy, symlinks=True)
    log(f"{name}: serverless-python-requirements slim rules on another copy")
    start = time.perf_counter()
    failed = serverless_slim(copy)
    seconds = time.perf_counter() - start
    trees.append(
        Tree(
            "serverless-python-requirements `slim: true` rules",
            copy,
            disk_bytes(copy),
            seconds,
            f"strip failed on {failed} files" if failed else "",
        )
    )

    for tree in trees:
        log(f"{name}: smoke workload on: {tree.label}")
        env = {**smoke_env, "PYTHONPATH": str(tree.path)}
        tree.smoke = run_smoke([python3, "-S", "-B"], SMOKES[name], expected, env=env)
    return trees


def stack_report(name: str, stack: Path, trees: list[Tree]) -> list[str]:
    expected = installed_versions(stack)
    files = sum(len(f) for _d, _s, f in os.walk(stack))
    size = trees[0].size
    lines = [
        f"#### {name}: {len(expected)} distributions, {files:,} files, {_mib(size)} on disk",
        "",
        ", ".join(f"{n} {v}" for n, v in expected.items()),
        "",
        "| tree | bytes on disk | vs installed | time to slim | note |",
        "|---|---:|---:|---:|---|",
    ]
    for tree in trees:
        change = f"{100 * (tree.size - size) / size:+.1f} %"
        took = f"{tree.seconds:.1f} s" if tree.seconds is not None else ""
        lines.append(
            f"| {tree.label} | {tree.size:,} ({_mib(tree.size)}) | {change} | {took} "
            f"| {tree.note} |"
        )
    lines += [
        "",
        "| smoke step | " + " | ".join(t.label for t in trees) + " |",
        "|---|" + "---|" * len(trees),
    ]
    for step in SMOKES[name]:
        cells = []
        for tree in trees:
            error = (tree.smoke or {}).get(step)
            cells.append("ok" if error is None else f"**failed**: `{summarize(error)}`")
        lines.append(f"| {step} | " + " | ".join(cells) + " |")
    return [*lines, ""]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="best of N (default 3)")
    parser.add_argument(
        "--stacks",
        default="scientific,analytics,web",
        help="stacks to slim (comma-separated; default all three)",
    )
    parser.add_argument("--markdown", type=Path, help="append the report to this file")
    parser.add_argument(
        "--python3",
        default=shutil.which("python3") or sys.executable,
        help="interpreter for the smoke workload (run with -S)",
    )
    parser.add_argument(
        "--wheelfix",
        default=f"{sys.executable} -m wheelfix",
        help="how to run wheelfix (default: python -m wheelfix)",
    )
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.stacks.split(",") if n.strip()]
    unknown = sorted(set(names) - set(STACKS))
    if unknown:
        parser.error(f"unknown stack(s): {', '.join(unknown)}; known: {', '.join(STACKS)}")

    def log(message: str) -> None:
        print(f"bench_env: {message}", file=sys.stderr, flush=True)

    wheelfix = args.wheelfix.split()
    stacks = {name: ensure_stack(name, log=log) for name in dict.fromkeys(["scientific", *names])}
    facts = machine_facts(args.python3, wheelfix)
    stack = stacks["scientific"]
    files = sum(len(f) for _d, _s, f in os.walk(stack))
    size = disk_bytes(stack)

    # (a) scan against the floors, interleaved round by round after one warming run of each.
    command_env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    scan_command = [*wheelfix, "scan", "--format", "json", str(stack)]
    floor_command = [sys.executable, "-S", "-c", FLOOR_SCRIPT, str(stack)]
    scan_errors: list[str] = []

    def run_scan() -> None:
        done = subprocess.run(
            scan_command, capture_output=True, text=True, check=False, env=command_env
        )
        try:
            json.loads(done.stdout)
        except ValueError:
            scan_errors.append(f"exit {done.returncode}: {done.stderr.strip()[-400:]}")

    measures: dict[str, Callable[[], object]] = {
        "floor-command": lambda: subprocess.run(floor_command, capture_output=True, check=True),
        "floor-in-process": lambda: read_every_file(stack),
        "scan": run_scan,
        "hash": lambda: read_every_file(stack, sha256=True),
        "start": lambda: subprocess.run(
            [*wheelfix, "--version"], capture_output=True, check=True, env=command_env
        ),
        "in-process": lambda: scan_in_process(stack),
    }
    for action in measures.values():
        action()
    times: dict[str, list[float]] = {key: [] for key in measures}
    for round_ in range(args.repeat):
        log(f"round {round_ + 1}/{args.repeat}: floors, scan and the breakdown")
        for key, action in measures.items():
            times[key].append(best_of(1, action))
    best = {key: min(values) for key, values in times.items()}
    floor, strict, scan = best["floor-command"], best["floor-in-process"], best["scan"]

    # (b) sizes and smoke, on copies.
    sections: list[str] = []
    with tempfile.TemporaryDirectory(prefix="bench-env-") as tmp:
        for name in names:
            trees = slim_and_smoke(name, stacks[name], Path(tmp), wheelfix, args.python3, log)
            sections += stack_report(name, stacks[name], trees)
            for tree in trees[1:]:
                shutil.rmtree(tree.path, ignore_errors=True)

    # -- report --
    ratio = scan / floor
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"### bench_env, {stamp}",
        "",
        f"Command: `python bench/bench_env.py --repeat {args.repeat} --stacks {','.join(names)}`.",
        "",
        *(f"- {key}: {value}" for key, value in facts.items()),
        "",
        f"Scan speed on `{shown(stack)}/` ({files:,} files, {_mib(size)} on disk), "
        f"wall clock, best of {args.repeat} (interleaved, page cache warm):",
        "",
        "| measurement | seconds | vs floor (command) | vs floor (in this process) |",
        "|---|---:|---:|---:|",
        f"| floor as a command: `python -S` reads every file once (`os.walk` + "
        f"`open().read()`, 1 thread) | {floor:.2f} | 1.00x | {floor / strict:.2f}x |",
        f"| floor in this process: the same loop, no interpreter start | {strict:.2f} "
        f"| {strict / floor:.2f}x | 1.00x |",
        f"| `wheelfix scan --format json STACK` | {scan:.2f} | **{ratio:.2f}x** "
        f"({'met' if ratio <= 2 else 'missed'}: target ≤ 2x) | {scan / strict:.2f}x |",
        "| *breakdown:* read + sha256 every file (1 thread, in this process) | "
        f"{best['hash']:.2f} | {best['hash'] / floor:.2f}x | {best['hash'] / strict:.2f}x |",
        f"| *breakdown:* `wheelfix --version` (interpreter start and imports) | "
        f"{best['start']:.2f} | {best['start'] / floor:.2f}x | {best['start'] / strict:.2f}x |",
        f"| *breakdown:* `wheelfix.installed.scan.scan(STACK)` in this process | "
        f"{best['in-process']:.2f} | {best['in-process'] / floor:.2f}x "
        f"| {best['in-process'] / strict:.2f}x |",
        "",
        "Sizes and smoke workloads (`python3 -S -B`, `PYTHONPATH=TREE`; steps in "
        "`bench/bench_env.py`'s `SMOKES`):",
        "",
        *sections,
    ]
    if scan_errors:
        lines += ["", "Scan runs without a JSON report: " + "; ".join(scan_errors)]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.markdown:
        with args.markdown.open("a", encoding="utf-8") as fh:
            fh.write("\n" + text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
