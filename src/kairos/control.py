"""Control files: the row count, byte size and MD5 that make a data file *delivered*."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from kairos.files import write_atomic

HEADER = "file_name|business_date|row_count|byte_size|md5"


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
    """Parse a control file; raise ControlFileError saying what is wrong with it."""
    try:
        text = path.read_text(encoding="ascii")
    except UnicodeDecodeError as exc:
        raise ControlFileError(f"{path.name}: control file is not ASCII") from exc
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
    try:
        record = ControlRecord(
            file_name=name,
            business_date=dt.date.fromisoformat(date_text),
            row_count=int(rows),
            byte_size=int(size),
            md5=md5.lower(),
        )
    except ValueError as exc:
        raise ControlFileError(f"{path.name}: unreadable value ({exc})") from exc
    if record.row_count < 0 or record.byte_size < 0 or len(record.md5) != 32:
        raise ControlFileError(f"{path.name}: row count, size or MD5 out of range")
    return record
