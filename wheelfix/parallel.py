"""One function over shards of work, on every core the process may use.

Reading an environment is half hashing (which releases the GIL) and half Python (ELF
parsing, bookkeeping), so threads only overlap the first half. Where it is safe, each shard
after the first runs in a forked child that sends its result back pickled through a pipe,
while the parent works on the first shard. Forking is safe only while this process has a
single thread (a lock held by another thread would stay held forever in the child), so with
other threads running, or without ``fork``, the shards run on threads instead. A child that
fails for any reason costs time, never a result: the parent computes that shard itself.
"""

from __future__ import annotations

import os
import pickle
import signal
import threading
from collections.abc import Callable, Generator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

__all__ = ["fork_is_safe", "run_sharded", "usable_cpus"]

S = TypeVar("S")
R = TypeVar("R")


def usable_cpus() -> int:
    """CPUs this process may run on (its affinity mask where the OS has one)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def fork_is_safe() -> bool:
    """Whether ``run_sharded`` would fork now (else it uses threads)."""
    return hasattr(os, "fork") and threading.active_count() == 1


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
    pending: dict[int, tuple[int, S]] = {}  # child pid -> (read end of its pipe, its shard)
    try:
        for shard in shards[1:]:
            read_end, write_end = os.pipe()
            pid = os.fork()
            if pid == 0:  # pragma: no cover - runs in the child; its result is tested
                _child(work, shard, read_end, write_end)
            os.close(write_end)
            pending[pid] = (read_end, shard)
        yield work(shards[0])
        for pid in list(pending):
            read_end, shard = pending.pop(pid)
            with os.fdopen(read_end, "rb") as pipe:
                payload = pipe.read()
            _, status = os.waitpid(pid, 0)
            if status == 0 and payload:
                yield pickle.loads(payload)  # noqa: S301 - our own child, through our pipe
            else:
                yield work(shard)
    finally:
        for pid, (read_end, _shard) in pending.items():  # stopped early: an error, or the
            os.kill(pid, signal.SIGKILL)  # caller stopped iterating
            os.waitpid(pid, 0)
            os.close(read_end)


def _child(work: Callable[[S], R], shard: S, read_end: int, write_end: int) -> None:
    """Compute, send, and leave without running any of the parent's clean-up code."""
    code = 1
    try:
        os.close(read_end)
        payload = pickle.dumps(work(shard), protocol=pickle.HIGHEST_PROTOCOL)
        with os.fdopen(write_end, "wb") as pipe:
            pipe.write(payload)
        code = 0
    finally:
        os._exit(code)
