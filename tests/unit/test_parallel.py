"""run_sharded: forked children when safe, threads otherwise, and never a lost result."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from wheelfix.parallel import fork_is_safe, run_sharded, usable_cpus

PARENT = os.getpid()


def square_with_pid(shard: list[int]) -> tuple[list[int], int]:
    return [n * n for n in shard], os.getpid()


def test_results_come_back_in_shard_order_from_forked_children() -> None:
    shards = [[1, 2], [3], [4, 5, 6]]
    results = list(run_sharded(square_with_pid, shards))
    assert [r for r, _pid in results] == [[1, 4], [9], [16, 25, 36]]
    pids = [pid for _r, pid in results]
    assert pids[0] == PARENT  # the parent works on the first shard
    assert PARENT not in pids[1:] and len(set(pids)) == 3


def test_with_another_thread_running_the_shards_run_on_threads() -> None:
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        results = list(run_sharded(square_with_pid, [[1], [2], [3]]))
    finally:
        stop.set()
        other.join()
    assert results == [([1], PARENT), ([4], PARENT), ([9], PARENT)]


def fails_in_children(shard: list[int]) -> list[int]:
    if os.getpid() != PARENT:
        if shard == [2]:
            os._exit(3)  # dies without sending anything
        raise RuntimeError("boom")  # raises in the child
    return [n + 1 for n in shard]


def test_a_failed_child_costs_time_not_a_result() -> None:
    assert list(run_sharded(fails_in_children, [[1], [2], [3]])) == [[2], [3], [4]]


def slow_in_children(shard: list[int]) -> list[int]:
    if os.getpid() != PARENT:
        threading.Event().wait(30)
    return shard


def test_stopping_early_kills_and_reaps_the_children() -> None:
    results = run_sharded(slow_in_children, [[1], [2], [3]])
    assert next(results) == [1]
    results.close()  # the caller stops iterating
    with pytest.raises(ChildProcessError):
        os.waitpid(-1, os.WNOHANG)  # no child left, not even a zombie


def test_one_shard_runs_in_this_process() -> None:
    assert list(run_sharded(square_with_pid, [[7]])) == [([49], PARENT)]
    assert list(run_sharded(square_with_pid, [])) == []


def test_usable_cpus_is_positive() -> None:
    assert usable_cpus() >= 1


def test_with_sigchld_ignored_the_shards_run_on_threads() -> None:
    import signal

    previous = signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    try:
        results = list(run_sharded(square_with_pid, [[1], [2]]))
    finally:
        signal.signal(signal.SIGCHLD, previous)
    assert results == [([1], PARENT), ([4], PARENT)]


def test_a_fork_that_fails_leaks_nothing_and_the_parent_does_the_shard(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real_fork = os.fork
    calls = []

    def flaky_fork() -> int:
        calls.append(1)
        if len(calls) == 2:
            raise BlockingIOError(11, "Resource temporarily unavailable")
        return real_fork()

    before = len(list(Path("/proc/self/fd").iterdir()))
    monkeypatch.setattr(os, "fork", flaky_fork)
    results = list(run_sharded(square_with_pid, [[1], [2], [3]]))
    assert [r for r, _pid in results] == [[1], [4], [9]]
    assert results[2][1] == PARENT  # the shard whose fork failed
    assert len(list(Path("/proc/self/fd").iterdir())) == before


class NeedsTwoError(Exception):
    def __init__(self, a: int, b: int) -> None:
        super().__init__(a)
        self.b = b


def unloadable(shard: list[int]) -> object:
    return NeedsTwoError(shard[0], 2) if os.getpid() != PARENT else shard


def test_a_result_that_does_not_unpickle_is_computed_again() -> None:
    assert list(run_sharded(unloadable, [[1], [2]])) == [[1], [2]]


def test_an_interrupted_wait_kills_and_reaps_the_child() -> None:
    import signal

    def alarm(_signum: int, _frame: object) -> None:
        raise TimeoutError

    previous = signal.signal(signal.SIGALRM, alarm)
    try:
        results = run_sharded(slow_in_children, [[1], [2]])
        assert next(results) == [1]
        signal.setitimer(signal.ITIMER_REAL, 0.2)
        with pytest.raises(TimeoutError):
            next(results)  # waiting for the child, which sleeps 30 s
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    with pytest.raises(ChildProcessError):
        os.waitpid(-1, os.WNOHANG)  # killed and reaped, no zombie


def test_worker_count_follows_jobs_affinity_and_items() -> None:
    from wheelfix.parallel import usable_cpus, worker_count

    assert worker_count(3) == 3
    assert worker_count(0) == usable_cpus()
    assert worker_count(8, items=2) == 2
    assert worker_count(0, items=0) == 1


def test_balance_spreads_weight_and_keeps_every_index() -> None:
    from wheelfix.parallel import balance

    groups = balance([100, 1, 1, 1, 98], 2)
    assert sorted(i for g in groups for i in g) == [0, 1, 2, 3, 4]
    totals = sorted(sum([100, 1, 1, 1, 98][i] for i in g) for g in groups)
    assert totals == [100, 101]
    assert balance([5], 4) == [[0]]


@pytest.mark.parametrize("processes", [True, False])
def test_map_balanced_keeps_item_order_and_reports_each(processes: bool) -> None:
    from wheelfix.parallel import map_balanced

    seen: list[int] = []
    items = list(range(9))
    out = map_balanced(
        lambda x: (x, os.getpid()),
        items,
        jobs=3,
        weights=[1, 9, 1, 9, 1, 9, 1, 9, 1],
        processes=processes,
        on_result=lambda r: seen.append(r[0]),
    )
    assert [x for x, _ in out] == items
    assert sorted(seen) == items
    pids = {pid for _, pid in out}
    if processes and fork_is_safe():
        assert len(pids) == 3  # one shard per worker, two of them in children
    else:
        assert pids == {os.getpid()}
