"""Control files: the row count, byte size and MD5 that make a data file *delivered*."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path

from kairos.files import write_atomic

HEADER = "file_name|business_date|row_count|byte_size|md5"
MAX_CONTROL_BYTES = 4096
_MD5 = re.compile(r"[0-9a-f]{32}")


class ControlFileError(ValueError):
    """A control file that cannot be read as the contract describes."""


@dataclass(frozen=True)
class ControlRecord:
    """What the source system says it delivered."""

    file_name: str
    business_date: dt.date
    row_count: int
    byte_size: int
    md5: str

    def render(self) -> str:
        return (
            f"{HEADER}\n{self.file_name}|{self.business_date:%Y-%m-%d}|{self.row_count}|"
            f"{self.byte_size}|{self.md5}\n"
        )


def write_control(path: Path, record: ControlRecord) -> None:
    """Write a control file atomically (a reader never sees half of one)."""
    write_atomic(path, record.render(), encoding="ascii")


def read_control(path: Path) -> ControlRecord:
    """Parse a control file; raise ControlFileError saying what is wrong with it.

    The file is untrusted: at most ``MAX_CONTROL_BYTES`` are read, and no message quotes
    its content (it could be anything the sender pointed it at)."""
    with path.open("rb") as fh:
        data = fh.read(MAX_CONTROL_BYTES + 1)
    return parse_control(path.name, data)


def parse_control(name: str, data: bytes) -> ControlRecord:
    """A control file's bytes (at most ``MAX_CONTROL_BYTES + 1`` read) as its record;
    ControlFileError says what is wrong, quoting nothing. ``name`` is the file's name."""
    path = Path(name)
    if len(data) > MAX_CONTROL_BYTES:
        raise ControlFileError(
            f"{path.name}: control file is longer than {MAX_CONTROL_BYTES} bytes"
        )
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError:
        raise ControlFileError(f"{path.name}: control file is not ASCII") from None
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if len(lines) != 2 or lines[0].strip() != HEADER:
        raise ControlFileError(
            f"{path.name}: expected a header '{HEADER}' and one line of values,"
            f" found {len(lines)} line(s)"
        )
    fields = lines[1].strip().split("|")
    if len(fields) != 5:
        raise ControlFileError(f"{path.name}: expected 5 fields, found {len(fields)}")
    name, date_text, rows, size, md5 = fields
    values = {"business_date": date_text, "row_count": rows, "byte_size": size}
    try:
        record = ControlRecord(
            file_name=name,
            business_date=dt.date.fromisoformat(date_text),
            row_count=int(rows),
            byte_size=int(size),
            md5=md5.lower(),
        )
    except ValueError:
        bad = [k for k, v in values.items() if not _parses(k, v)]
        raise ControlFileError(f"{path.name}: unreadable {', '.join(bad) or 'value'}") from None
    if record.row_count < 0 or record.byte_size < 0 or not _MD5.fullmatch(record.md5):
        raise ControlFileError(f"{path.name}: row count, size or MD5 out of range")
    return record


def _parses(kind: str, text: str) -> bool:
    try:
        dt.date.fromisoformat(text) if kind == "business_date" else int(text)
    except ValueError:
        return False
    return True
