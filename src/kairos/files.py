"""Writing files so that a reader never sees half of one, and naming them safely."""

from __future__ import annotations

import json
import os
from pathlib import Path


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
