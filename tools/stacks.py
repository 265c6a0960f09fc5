"""Installed Python stacks for the slim and scan tests and benchmarks, and their smoke workloads.

Three stacks (pinned in ``STACKS``) are installed once for CPython 3.11 with
``pip install --target`` into ``.cache/stacks/NAME-PINS/`` (``stack_folder``; built into a
``.partial`` folder, then renamed; bytecode compiled, as pip does by default). ``SMOKES``
holds each stack's workload, run step by step with ``run_smoke``. Shared by
``tests/integration/test_slim_stack.py`` (through ``tests/expensive.py``) and
``bench/bench_env.py``.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping
from email.parser import HeaderParser
from pathlib import Path

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
