"""Stop every process of a local Ray cluster, as deleting its pods would: driver, daemons and workers."""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Callable, Iterable

import psutil


def kill_processes(matches: Callable[[list[str]], bool], roots: Iterable[int] = ()) -> None:
    """SIGKILL the processes ``roots`` and those whose command line ``matches``, with all their
    descendants, and wait until they are gone.

    The whole tree is collected before the first signal: once a parent dies its children are re-parented
    and Ray's workers (whose command line is ``ray::...``) could no longer be found; left running, a worker
    of a "killed" run can still commit a part minutes later.
    """
    doomed = [p for p in psutil.process_iter(["cmdline"]) if matches(p.info["cmdline"] or [])]
    for pid in roots:
        with contextlib.suppress(psutil.Error):
            doomed.append(psutil.Process(pid))
    for process in list(doomed):
        with contextlib.suppress(psutil.Error):
            doomed.extend(process.children(recursive=True))
    for process in doomed:
        with contextlib.suppress(psutil.Error):
            process.send_signal(signal.SIGKILL)
    psutil.wait_procs(doomed, timeout=30)


def processes_with_env(name: str, value: str) -> list[psutil.Process]:
    """Running processes whose environment has ``name=value`` (Ray passes the driver's RAY_TMPDIR on to
    its daemons and workers, whose command lines, ``ray::...``, do not name it)."""
    found = []
    for process in psutil.process_iter():
        with contextlib.suppress(psutil.Error):
            if process.environ().get(name) == value:
                found.append(process)
    return found
