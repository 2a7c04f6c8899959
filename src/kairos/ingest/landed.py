"""A delivered file, opened once.

The landing area is untrusted and may change while a load runs: a name checked and then
opened again can be another file by then (a symlink to a secret, ``/dev/zero``, a file
grown to 16 GiB). So a load opens each landing file exactly once, by name, with
``O_NOFOLLOW``, and decides everything from that descriptor:

* ``fstat`` says it is a regular file, and how big; the kernel's own path of the open
  file says it lies inside the landing area (no symlinked folder);
* the control check, the MD5 of an unchanged re-delivery, the decoder and the quarantine
  read it with ``pread`` and never past the size the control file gives;
* DuckDB reads it as ``/proc/self/fd/<n>``: the same open file, not the name again;
* after the load, a second ``fstat`` must find the file as it was (size, modification
  time): a file written to while it was read is refused, nothing kept.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import stat
from collections.abc import Iterator
from pathlib import Path

BLOCK_BYTES = 4 * 1024 * 1024


class LandingProblem(Exception):
    """The path cannot be accepted as a delivered file; the message says why, quoting
    nothing of its content."""


class LandedFile:
    """One landing file open for reading; use as a context manager or call ``close``."""

    def __init__(self, fd: int, name: str):
        self.fd, self.name = fd, name
        self.stat = os.fstat(fd)

    @property
    def size(self) -> int:
        return self.stat.st_size

    @property
    def path(self) -> Path:
        """A path to this open file, for a reader that needs a path (DuckDB): the kernel
        resolves it to the file already open, whatever the name points at now."""
        return Path(f"/proc/self/fd/{self.fd}")

    @property
    def stem(self) -> str:
        return Path(self.name).stem

    def blocks(self, limit: int, block: int = BLOCK_BYTES) -> Iterator[bytes]:
        """The file's bytes from the start, in blocks, and at most ``limit + 1`` of
        them: one byte past the limit is enough for the caller to say "too long"."""
        offset = 0
        while offset <= limit:
            chunk = os.pread(self.fd, min(block, limit + 1 - offset), offset)
            if not chunk:
                return
            offset += len(chunk)
            yield chunk

    def read(self, limit: int) -> bytes:
        """At most ``limit + 1`` bytes from the start (small files: a control file)."""
        return b"".join(self.blocks(limit))

    def md5(self, limit: int) -> str:
        h = hashlib.md5(usedforsecurity=False)
        for chunk in self.blocks(limit):
            h.update(chunk)
        return h.hexdigest()

    def changed(self) -> bool:
        """True when the file's bytes were written to (or truncated) since it was opened.
        Its name being replaced or removed is no change: what was read is intact."""
        now, before = os.fstat(self.fd), self.stat
        return (now.st_size, now.st_mtime_ns) != (before.st_size, before.st_mtime_ns)

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def __enter__(self) -> LandedFile:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def open_landed(path: Path, landing: Path) -> LandedFile:
    """Open ``path`` once for reading as an untrusted delivered file.

    Raises FileNotFoundError when nothing is there, LandingProblem when what is there is
    not a regular file inside ``landing``: a symbolic link, a FIFO (opened without
    blocking, so a FIFO nobody writes to cannot hang the load), a device, a folder, or a
    file reached through a symlinked folder."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        raise
    except OSError as exc:
        if exc.errno == 40 or os.path.islink(path):  # ELOOP: the name is a symlink
            raise LandingProblem(
                f"{path.name} is a symbolic link; only regular files are accepted"
            ) from None
        raise LandingProblem(f"{path.name} cannot be read as a file") from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise LandingProblem(f"{path.name} is not a regular file")
        real = Path(os.readlink(f"/proc/self/fd/{fd}"))
        if not real.is_relative_to(landing.resolve()):
            raise LandingProblem(f"{path.name} lies outside the landing area (a symlinked folder)")
        flags = fcntl.fcntl(fd, fcntl.F_GETFL)
        fcntl.fcntl(fd, fcntl.F_SETFL, flags & ~os.O_NONBLOCK)
        return LandedFile(fd, path.name)
    except BaseException:
        os.close(fd)
        raise
