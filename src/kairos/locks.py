"""The one lock helper every Kairos process uses when it meets another on a data root.

A lock is an exclusive ``flock`` on a file: the kernel drops it when its holder exits or
is killed, so a crash never leaves a lock behind. The holder writes who it is (process
id, what it is doing, since when) into the file, so that the second process can say whom
it waits for, or name the process that made it refuse. ``docs/operations.md`` has the
matrix of which process takes which lock and what the second one does.

* ``wait_s=0``: refuse at once with :class:`Busy` naming the holder;
* ``wait_s>0``: wait, logging once whom for, and raise :class:`Busy` after ``wait_s``;
* ``wait_s=None``: wait as long as it takes (the holder is short-lived by design).

Re-entrant within a thread: a step that holds a lock may call another that takes it.
Other threads of the same process exclude each other like other processes do (each
opens its own descriptor, and ``flock`` locks belong to an open file).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import logging
import os
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

log = logging.getLogger(__name__)

_held = threading.local()


class Busy(TimeoutError):
    """Another process holds the lock: the message names it and what to do."""

    def __init__(self, message: str, holder: dict | None = None):
        super().__init__(message)
        self.holder = holder or {}


def process_name() -> str:
    """This process as an operator knows it: ``kairos publish``, ``airflow tasks``."""
    argv = [a for a in sys.argv[:2] if a and not a.startswith("-")]
    if not argv:
        return "a Kairos process"
    program = os.path.basename(argv[0])
    if program.endswith(".py") or program in ("kairos", "python", "python3"):
        program = "kairos"
    return " ".join([program, *argv[1:]])


def describe(info: dict | None) -> str:
    """``info`` of :func:`holder` as words: "kairos publish (pid 123, since 04:10:02)"."""
    if not info:
        return "another process"
    since = info.get("since", "")
    since = since[11:19] if len(since) >= 19 else since
    return f"{info.get('purpose', 'a Kairos process')} (pid {info.get('pid', '?')}, since {since})"


@contextlib.contextmanager
def hold(
    path: Path,
    purpose: str,
    wait_s: float | None = 0.0,
    advice: str = "",
    poll_s: float = 0.2,
    error: type[Busy] = Busy,
    name: str = "",
) -> Iterator[None]:
    """Hold the lock ``path`` for the block (see the module docstring for ``wait_s``).

    ``purpose`` says what this process does with it ("ingest boss.subscribers 2026-11-03");
    ``advice`` is added to a refusal ("run it again once that run has finished");
    ``error`` is the :class:`Busy` subclass raised; ``name`` names the lock in messages
    ("the warehouse writer lock"; by default its file)."""
    path = Path(path)
    key = str(path.resolve()) if path.parent.exists() else str(path)
    held = getattr(_held, "paths", None)
    if held is None:
        held = _held.paths = set()
    if key in held:
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        _acquire(fd, name or str(path), purpose, wait_s, advice, poll_s, error)
        os.ftruncate(fd, 0)
        record = {
            "pid": os.getpid(),
            "purpose": purpose,
            "since": dt.datetime.now().isoformat(timespec="seconds"),
            "command": process_name(),
        }
        os.pwrite(fd, json.dumps(record).encode("utf-8"), 0)
        held.add(key)
        try:
            yield
        finally:
            held.discard(key)
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _acquire(fd: int, lock: str, purpose: str, wait_s, advice: str, poll_s: float, error) -> None:
    deadline = None if wait_s is None else time.monotonic() + wait_s
    said = False
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            if said:
                log.info("%s: got %s", purpose, lock)
            return
        except BlockingIOError:
            pass
        info = _read_info(fd)
        if deadline is not None and time.monotonic() >= deadline:
            waited = f" after waiting {wait_s:.0f}s" if wait_s else ""
            raise error(
                f"{purpose}: refused{waited}, {describe(info)} holds {lock}"
                + (f"; {advice}" if advice else ""),
                info,
            )
        if not said:
            log.warning(
                "%s: waiting for %s, held by %s%s",
                purpose,
                lock,
                describe(info),
                f" (at most {wait_s:.0f}s)" if wait_s is not None else "",
            )
            said = True
        time.sleep(poll_s)


def _read_info(fd: int) -> dict:
    try:
        info = json.loads(os.pread(fd, 4096, 0).decode("utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return {}
    return info if isinstance(info, dict) else {}
