"""wheelfix's one concurrency policy: every core the process may use, and no more.

- The worker count is :func:`usable_cpus` (the process's affinity mask, so a container
  limited to two CPUs of a 64-core host runs two workers), or the user's ``--jobs``.
- Python-bound work (``check``'s parsing, ``scan``'s reading) runs in shards through
  :func:`run_sharded` / :func:`map_balanced`: forked children where that is safe, threads
  where it is not.
- Work that waits on other programs (``repair`` runs auditwheel and patchelf) runs on
  threads (``map_balanced(..., processes=False)``): a forked child adds nothing there, and a
  repair half done by a child that died must not be redone over its own output.

Reading an environment is half hashing (which releases the GIL) and half Python (ELF
parsing, bookkeeping), so threads only overlap the first half. Where it is safe, each shard
after the first runs in a forked child that sends its result back pickled through a pipe,
while the parent works on the first shard. Forking is safe only while this process has a
single thread (a lock held by another thread would stay held forever in the child), so with
other threads running, with SIGCHLD ignored, or without ``fork``, the shards run on threads
instead. A child that
fails for any reason costs time, never a result: the parent computes that shard itself.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import signal
import threading
from collections.abc import Callable, Generator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar, cast

__all__ = ["fork_is_safe", "map_balanced", "run_sharded", "usable_cpus", "worker_count"]

S = TypeVar("S")
R = TypeVar("R")
T = TypeVar("T")


def usable_cpus() -> int:
    """CPUs this process may run on (its affinity mask where the OS has one)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def worker_count(jobs: int = 0, items: int | None = None) -> int:
    """``jobs`` when given (> 0), else :func:`usable_cpus`; never more than ``items``."""
    count = jobs if jobs > 0 else usable_cpus()
    if items is not None:
        count = min(count, items)
    return max(1, count)


def balance(weights: Sequence[int], count: int) -> list[list[int]]:
    """Indexes of ``weights`` in ``count`` groups of similar total weight (heaviest first,
    each to the lightest group), each group in index order; empty groups are dropped."""
    groups: list[list[int]] = [[] for _ in range(max(1, count))]
    totals = [0] * len(groups)
    for index in sorted(range(len(weights)), key=lambda i: -weights[i]):
        lightest = totals.index(min(totals))
        groups[lightest].append(index)
        totals[lightest] += weights[index]
    return [sorted(group) for group in groups if group]


def map_balanced(
    work: Callable[[T], R],
    items: Sequence[T],
    *,
    jobs: int = 0,
    weights: Sequence[int] | None = None,
    processes: bool = True,
    on_result: Callable[[R], None] | None = None,
) -> list[R]:
    """``work(item)`` for every item, results in item order, on :func:`worker_count` workers.

    With ``processes``, items are split into one shard per worker, balanced by ``weights``
    (e.g. file sizes), and run by :func:`run_sharded`; ``on_result`` then sees a shard's
    results when the shard is done. Without, items run on a thread pool and ``on_result``
    sees each result as soon as it and those before it are done.
    """
    workers = worker_count(jobs, len(items))
    if workers == 1 or not processes:
        out: list[R] = []
        with ThreadPoolExecutor(max_workers=workers) as pool:
            for result in pool.map(work, items) if workers > 1 else map(work, items):
                out.append(result)
                if on_result is not None:
                    on_result(result)
        return out
    shards = balance(weights if weights is not None else [1] * len(items), workers)
    results: dict[int, R] = {}

    def run_shard(indexes: list[int]) -> list[R]:
        return [work(items[i]) for i in indexes]

    for indexes, shard_results in zip(shards, run_sharded(run_shard, shards), strict=True):
        for index, result in zip(indexes, shard_results, strict=True):
            results[index] = result
            if on_result is not None:
                on_result(result)
    return [results[i] for i in range(len(items))]


def fork_is_safe() -> bool:
    """Whether ``run_sharded`` would fork now (else it uses threads): one thread, and
    children that stay ours until reaped (with SIGCHLD ignored, the kernel reaps them at
    once and their process ids may be reused while we still hold them)."""
    return (
        hasattr(os, "fork")
        and threading.active_count() == 1
        and signal.getsignal(signal.SIGCHLD) is not signal.SIG_IGN
    )


def run_sharded(
    work: Callable[[S], R], shards: Sequence[S], *, threads: int = 0
) -> Generator[R, None, None]:
    """``work(shard)`` for every shard, results in shard order.

    Results must be picklable, and callers must not rely on side effects of ``work``: in
    a child, whatever it changes in memory is lost; only its return value comes back.
    Forking runs one process per shard; on threads, at most ``threads`` (default: one per
    shard) run at once, so callers make more, smaller shards there for even progress.
    """
    if len(shards) < 2:
        yield from map(work, shards)
        return
    if not fork_is_safe():
        with ThreadPoolExecutor(max_workers=min(len(shards), threads or len(shards))) as pool:
            yield from pool.map(work, shards)
        return
    children: dict[int, _Child] = {}  # shard index -> its child; absent: compute it here
    try:
        for index in range(1, len(shards)):
            child = _fork(work, shards[index], [c.fd for c in children.values()])
            if child is not None:
                children[index] = child
        yield work(shards[0])
        for index in range(1, len(shards)):
            child = children.get(index)
            result = _MISSING if child is None else child.collect()
            children.pop(index, None)
            yield work(shards[index]) if result is _MISSING else cast(R, result)
    finally:
        for child in children.values():  # stopped early: an error, or the caller stopped
            child.stop()


_MISSING = object()
#: Each payload starts with its length, so a complete one is told from a cut one without
#: the child's exit status (which is lost when SIGCHLD is ignored and children reap
#: themselves).
_LENGTH = 8


class _Child:
    """A forked child computing one shard, and the read end of its pipe."""

    def __init__(self, pid: int, fd: int) -> None:
        self.pid, self.fd = pid, fd

    def collect(self) -> object:
        """The child's result, or ``_MISSING`` if it did not deliver a whole, loadable one."""
        chunks = []
        try:
            while chunk := os.read(self.fd, 1 << 20):
                chunks.append(chunk)
        except BaseException:  # interrupted: the child may still be working
            self.stop()
            raise
        self._close()
        self._reap()  # it has written everything: it is exiting
        raw = b"".join(chunks)
        if len(raw) < _LENGTH or int.from_bytes(raw[:_LENGTH], "little") != len(raw) - _LENGTH:
            return _MISSING
        try:
            return pickle.loads(raw[_LENGTH:])  # noqa: S301 - our own child, through our pipe
        except Exception:  # noqa: BLE001 - any failure to load means: compute it here
            return _MISSING

    def stop(self) -> None:
        if self.pid:
            with contextlib.suppress(ProcessLookupError):  # gone, or reaped by the kernel
                os.kill(self.pid, signal.SIGKILL)
        self._close()
        self._reap()

    def _close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def _reap(self) -> None:
        if self.pid:
            with contextlib.suppress(ChildProcessError):  # SIGCHLD ignored: reaped already
                os.waitpid(self.pid, 0)
            self.pid = 0  # never signal a number the system may give another process


def _fork(work: Callable[[S], R], shard: S, inherited: list[int]) -> _Child | None:
    """Start a child computing ``shard``; ``None`` if no child could be started (no more
    processes or file descriptors): the parent then computes the shard itself."""
    try:
        read_end, write_end = os.pipe()
    except OSError:
        return None
    try:
        pid = os.fork()
    except OSError:
        os.close(read_end)
        os.close(write_end)
        return None
    if pid == 0:  # pragma: no cover - runs in the child; its result is tested
        _child(work, shard, [read_end, *inherited], write_end)
    os.close(write_end)
    return _Child(pid, read_end)


def _child(work: Callable[[S], R], shard: S, unused: list[int], write_end: int) -> None:
    """Compute, send, and leave without running any of the parent's clean-up code."""
    code = 1
    try:
        for fd in unused:  # its own read end, and earlier children's
            os.close(fd)
        payload = pickle.dumps(work(shard), protocol=pickle.HIGHEST_PROTOCOL)
        with os.fdopen(write_end, "wb") as pipe:
            pipe.write(len(payload).to_bytes(_LENGTH, "little"))
            pipe.write(payload)
        code = 0
    finally:
        os._exit(code)
