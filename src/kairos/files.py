"""Writing files so that a reader never sees half of one, and naming them safely."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path


def sweep_dead(folder: Path, pattern: str) -> list[str]:
    """Delete the files matching ``pattern`` in ``folder`` whose writer died: each carries
    its writer's process id as its last numeric dotted part (``.x.1234.part``,
    ``y.1234.utf8.dat``), and one whose process is gone can only be a leftover of a kill.
    A live process's file, or one whose owner cannot be told, stays; a folder goes whole."""
    removed = []
    for path in folder.glob(pattern) if folder.is_dir() else []:
        pids = [p for p in path.name.split(".") if p.isdigit()]
        if not pids or int(pids[-1]) == os.getpid():
            continue
        try:
            os.kill(int(pids[-1]), 0)
            continue  # still running
        except ProcessLookupError:
            pass
        except PermissionError:
            continue  # someone else's live process
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
        removed.append(path.name)
    return removed


def safe_name(text: str) -> str:
    """``text`` (a run id, say) as a file-name part: letters, digits, ``-_.``, else ``_``."""
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in text)


def write_atomic(path: Path, data: str | bytes, mode: int = 0o644, encoding="utf-8") -> None:
    """Write ``path`` in one step: a temporary file beside it, then a rename over it (a
    reader sees the old file or the new one, never half); created with ``mode``."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.part")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data.encode(encoding) if isinstance(data, str) else data)
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def relative(path: Path, root: Path) -> str:
    """``path`` as written in a record others read (a manifest, an outcome, a result):
    relative to the data root, never the server's absolute path."""
    path = Path(path)
    return str(path.relative_to(root)) if path.is_relative_to(root) else path.name


def write_json(path: Path, data, mode: int = 0o644, **dumps) -> None:
    """``data`` as indented JSON (keys sorted, text kept as text), written atomically."""
    options = {"indent": 2, "ensure_ascii": False, "sort_keys": True, **dumps}
    write_atomic(path, json.dumps(data, **options) + "\n", mode)
