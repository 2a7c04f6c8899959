"""The streaming pass over a delivered data file, before anything is loaded.

One read, in blocks of a few MiB, does the control check (byte size, MD5, row count),
checks the header, and decodes the file's encoding. DuckDB reads UTF-8 only (and its
``encodings`` extension cannot be downloaded here), so a GBK file is transcoded to a
UTF-8 working copy as it streams. A line whose bytes are not valid in the encoding, or
an empty line (which DuckDB would skip without a word), is replaced in the working copy
by a one-field placeholder that DuckDB is sure to reject, and its line number, raw
bytes and reason are kept so that the loader quarantines it: nothing is dropped.

Memory stays at a few blocks whatever the file's size.
"""

from __future__ import annotations

import codecs
import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

from kairos.contract import Extract
from kairos.control import ControlRecord

BLOCK_BYTES = 4 * 1024 * 1024
# A line DuckDB rejects as "missing columns" for every extract (all have > 1 column).
PLACEHOLDER = "\x1f"


class ControlCheckError(Exception):
    """The file does not match its control file or the contract: refuse it whole."""


@dataclass(frozen=True)
class BadLine:
    """A line the scan itself found unusable (encoding, empty)."""

    line_number: int
    raw_text: str
    reason: str


@dataclass
class ScanResult:
    """What the scan found; ``load_path`` is the UTF-8 file DuckDB should read."""

    load_path: Path
    md5: str
    byte_size: int
    row_count: int
    bad_lines: list[BadLine] = field(default_factory=list)
    is_working_copy: bool = False
    careful: bool = True

    def discard(self) -> None:
        """Delete the working copy, if one was made."""
        if self.is_working_copy:
            self.load_path.unlink(missing_ok=True)


def _raw_repr(raw: bytes) -> str:
    """Raw bytes as text that loses nothing: valid UTF-8 as is, other bytes as \\xNN."""
    return raw.decode("utf-8", errors="backslashreplace")


def is_utf8(encoding: str) -> bool:
    """True when the encoding is UTF-8, which DuckDB reads without transcoding."""
    return codecs.lookup(encoding).name == "utf-8"


class _LineFixer:
    """Decodes a block of whole lines, replacing unusable lines by the placeholder."""

    def __init__(self, encoding: str, keep_text: bool, careful: bool):
        self.encoding = encoding
        self.keep_text = keep_text  # False: nothing is written, only (careful) validation
        self.careful = careful
        self.bad: list[BadLine] = []

    def block(self, raw: bytes, first_line: int) -> str:
        """Decode ``raw`` (whole lines, ending in LF) whose first line is ``first_line``.

        Not careful: empty lines are not looked for, and a file that needs no transcoding
        is not decoded at all; the loader's count reconciliation and DuckDB's own UTF-8
        check send the file back for a careful pass if either was needed.
        """
        if not self.careful or (b"\n\n" not in raw and not raw.startswith(b"\n")):
            if not self.keep_text and not self.careful:
                return ""
            if raw.isascii():  # valid in either encoding, and cheap to convert
                return raw.decode("ascii") if self.keep_text else ""
            try:
                text = raw.decode(self.encoding)
                return text if self.keep_text else ""
            except UnicodeDecodeError:
                pass
        out = []
        # raw ends with LF, so the last element of split is b"" and is not a line
        for offset, line in enumerate(raw.split(b"\n")[:-1]):
            number = first_line + offset
            if not line.strip():
                self.bad.append(BadLine(number, _raw_repr(line), "empty line"))
                out.append(PLACEHOLDER)
                continue
            try:
                out.append(line.decode(self.encoding))
            except UnicodeDecodeError as exc:
                self.bad.append(
                    BadLine(
                        number,
                        _raw_repr(line),
                        f"bytes not valid {self.encoding.upper()} at byte {exc.start + 1}",
                    )
                )
                out.append(PLACEHOLDER)
        return "\n".join(out) + "\n"


def scan(
    extract: Extract,
    data_path: Path,
    control: ControlRecord,
    work_dir: Path,
    careful: bool = True,
) -> ScanResult:
    """Check ``data_path`` against its control record and prepare it for DuckDB.

    Raises ControlCheckError, with a message a data engineer can act on, when the byte
    size, MD5, row count or header does not match; no working copy is left behind.
    ``careful=False`` is the fast first attempt (see ``_LineFixer.block``).
    """
    transcode = not is_utf8(extract.encoding)
    result = _pass(extract, data_path, work_dir if transcode else None, careful)
    try:
        _check_control(extract, data_path, control, result)
        if not transcode and result.bad_lines:
            # A UTF-8 file with empty or undecodable lines: a second pass writes a
            # clean working copy so that line numbers stay aligned for DuckDB.
            result = _pass(extract, data_path, work_dir, careful=True)
    except BaseException:
        result.discard()
        raise
    return result


def _check_control(
    extract: Extract, data_path: Path, control: ControlRecord, result: ScanResult
) -> None:
    problems = []
    if control.file_name != data_path.name:
        problems.append(f"control names file {control.file_name!r}, not {data_path.name!r}")
    if result.byte_size != control.byte_size:
        problems.append(f"{result.byte_size} bytes, control says {control.byte_size}")
    if result.md5 != control.md5:
        problems.append(f"MD5 {result.md5}, control says {control.md5}")
    if result.row_count != control.row_count:
        problems.append(f"{result.row_count} data rows, control says {control.row_count}")
    if problems:
        raise ControlCheckError(f"{extract.key} {data_path.name} refused: " + "; ".join(problems))


def _pass(extract: Extract, data_path: Path, work_dir: Path | None, careful: bool) -> ScanResult:
    out_path = None
    if work_dir is not None:
        work_dir.mkdir(parents=True, exist_ok=True)
        out_path = work_dir / f"{data_path.stem}.{os.getpid()}.utf8.dat"
    scanner = _Scanner(extract, data_path, out_path, careful)
    try:
        with data_path.open("rb") as fh:
            for chunk in iter(lambda: fh.read(BLOCK_BYTES), b""):
                scanner.feed(chunk)
        scanner.finish()
    except BaseException:
        scanner.close()
        if out_path is not None:
            out_path.unlink(missing_ok=True)
        raise
    scanner.close()
    return ScanResult(
        load_path=out_path if out_path is not None else data_path,
        md5=scanner.md5.hexdigest(),
        byte_size=scanner.size,
        row_count=max(scanner.newlines - 1, 0),
        bad_lines=scanner.fixer.bad,
        is_working_copy=out_path is not None,
        careful=careful,
    )


class _Scanner:
    """One pass over a delivered file, block by block: MD5, size, line count, header,
    and (with a work file) the UTF-8 text of every whole line."""

    def __init__(self, extract: Extract, data_path: Path, out_path: Path | None, careful: bool):
        self.extract, self.data_path = extract, data_path
        self.md5 = hashlib.md5(usedforsecurity=False)
        self.fixer = _LineFixer(extract.encoding, keep_text=out_path is not None, careful=careful)
        self.size = self.newlines = 0
        self.carry = b""
        self.header_seen = False
        self.out = None if out_path is None else out_path.open("w", encoding="utf-8", newline="\n")

    def _write(self, text: str) -> None:
        if self.out is not None:
            self.out.write(text)

    def _header(self, header: bytes) -> None:
        _check_header(self.extract, self.data_path, header)
        self.header_seen = True
        self._write(self.extract.header_line() + "\n")

    def feed(self, chunk: bytes) -> None:
        self.md5.update(chunk)
        self.size += len(chunk)
        buf = self.carry + chunk
        cut = buf.rfind(b"\n")
        if cut < 0:
            self.carry = buf
            return
        whole, self.carry = buf[: cut + 1], buf[cut + 1 :]
        if not self.header_seen:
            header, _, whole = whole.partition(b"\n")
            self._header(header)
            self.newlines += 1
        first_line = self.newlines + 1
        self.newlines += whole.count(b"\n")
        if whole:
            self._write(self.fixer.block(whole, first_line))

    def finish(self) -> None:
        if self.carry:  # last line without its LF
            if not self.header_seen:
                self._header(self.carry)
            else:
                self._write(self.fixer.block(self.carry + b"\n", self.newlines + 1))
            self.newlines += 1
        if not self.header_seen:
            raise ControlCheckError(
                f"{self.extract.key} {self.data_path.name} refused: file is empty"
            )

    def close(self) -> None:
        if self.out is not None:
            self.out.close()
            self.out = None


def _check_header(extract: Extract, data_path: Path, header: bytes) -> None:
    text = header.decode("ascii", errors="replace").rstrip("\r")
    if text != extract.header_line():
        raise ControlCheckError(
            f"{extract.key} {data_path.name} refused: header is {text[:200]!r},"
            f" the contract says {extract.header_line()!r}"
        )
