"""The streaming pass over a delivered data file, before anything is loaded.

One read, in blocks of a few MiB, does the control check (byte size, MD5, row count),
checks the header, and decodes the file's encoding. The file is untrusted: reading stops
as soon as it is longer than its control file says or a line is longer than the limit,
and no refusal message ever quotes the file's bytes (a "data file" may be a symlink to a
secret; the caller refuses those first, but the message must not depend on that). DuckDB
reads UTF-8 only (and its ``encodings`` extension cannot be downloaded here), so a GBK
file is transcoded to a UTF-8 working copy as it streams. A line whose bytes are not
valid in the encoding, or an empty line (which DuckDB would skip without a word), is
replaced in the working copy by a one-field placeholder that DuckDB is sure to reject,
and its line number, raw bytes and reason are kept so that the loader quarantines it:
nothing is dropped.

Line ends are LF; a CR right before the LF (CRLF line ends) belongs to the line end and
is dropped, a CR anywhere else puts the line in quarantine (DuckDB would otherwise split
the line there). A GBK-declared file whose non-ASCII text is mostly valid UTF-8 is refused:
it was written in UTF-8 and would load as mojibake without an error. The decision is
taken on the whole file, not at its first bad byte: at least ``UTF8_MIN_CHARS``
non-ASCII characters decode as UTF-8 and they make at least ``UTF8_SHARE`` of its
non-ASCII text (valid characters against invalid sequences). Real GBK text measures
18-33 % (a GBK character is rarely a valid UTF-8 sequence), UTF-8 text 100 % less its
corrupted bytes.

Memory stays at a few blocks whatever the file's size.
"""

from __future__ import annotations

import codecs
import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

from kairos import contract
from kairos.contract import Extract
from kairos.control import ControlRecord
from kairos.files import sweep_dead
from kairos.ingest.landed import LandedFile

BLOCK_BYTES = 4 * 1024 * 1024
# the whole-file rule for a GBK-declared file written in UTF-8 (see the module doc)
UTF8_SHARE = 0.75
UTF8_MIN_CHARS = 3
_ASCII = bytes(range(128))
# A line DuckDB rejects as "missing columns" for every extract (all have > 1 column).
PLACEHOLDER = "\x1f"


DEFAULT_MAX_LINE_BYTES = 1024 * 1024


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
    saw_cr: bool = False

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
        check send the file back for a careful pass if either was needed. A block with a
        CR in it is always taken line by line.
        """
        has_cr = b"\r" in raw
        blank = self.careful and (b"\n\n" in raw or raw.startswith(b"\n"))
        if not has_cr and not blank:
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
            out.append(self._line(line, first_line + offset))
        return "\n".join(out) + "\n"

    def _line(self, line: bytes, number: int) -> str:
        if line.endswith(b"\r"):  # CRLF: the CR is part of the line end
            line = line[:-1]
        reason = None
        if not line.strip():
            reason = "empty line"
        elif b"\r" in line:
            reason = "carriage return (CR) inside the line; only LF or CRLF may end a line"
        else:
            try:
                return line.decode(self.encoding)
            except UnicodeDecodeError as exc:
                reason = f"bytes not valid {self.encoding.upper()} at byte {exc.start + 1}"
        self.bad.append(BadLine(number, _raw_repr(line), reason))
        return PLACEHOLDER


def scan(
    extract: Extract,
    data_path: LandedFile,
    control: ControlRecord,
    work_dir: Path,
    careful: bool = True,
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
) -> ScanResult:
    """Check ``data_path`` (the delivered file, open once) against its control record
    and prepare it for DuckDB.

    Raises ControlCheckError, with a message a data engineer can act on, when the byte
    size, MD5, row count or header does not match, the file is longer than its control
    file says, or a line is longer than ``max_line_bytes``; no working copy is left
    behind. ``careful=False`` is the fast first attempt (see ``_LineFixer.block``).
    """
    transcode = not is_utf8(extract.encoding)
    limits = (control.byte_size, max_line_bytes)
    result = _pass(extract, data_path, work_dir if transcode else None, careful, limits)
    try:
        _check_control(extract, data_path, control, result)
        if not transcode and (result.bad_lines or result.saw_cr):
            # A UTF-8 file with empty or undecodable lines, or CRs: a second pass writes
            # a clean working copy so that line numbers stay aligned for DuckDB.
            result = _pass(extract, data_path, work_dir, True, limits)
    except BaseException:
        result.discard()
        raise
    return result


def _check_control(
    extract: Extract, data_path: LandedFile, control: ControlRecord, result: ScanResult
) -> None:
    problems = []
    if control.file_name != data_path.name:
        problems.append(f"control names another file, not {data_path.name!r}")
    if result.byte_size != control.byte_size:
        problems.append(f"{result.byte_size} bytes, control says {control.byte_size}")
    if result.md5 != control.md5:
        problems.append(f"MD5 {result.md5}, control says {control.md5}")
    if result.row_count != control.row_count:
        problems.append(f"{result.row_count} data rows, control says {control.row_count}")
    if problems:
        raise ControlCheckError(f"{extract.key} {data_path.name} refused: " + "; ".join(problems))


def sweep_work_dir(work_dir: Path) -> list[str]:
    """Delete the working copies of loads that died (killed, power lost): a full,
    unmasked copy of a delivery that nothing else would ever remove."""
    return sweep_dead(work_dir, "*.utf8.dat")


def _pass(
    extract: Extract,
    data_path: LandedFile,
    work_dir: Path | None,
    careful: bool,
    limits: tuple[int, int],
) -> ScanResult:
    out_path = None
    if work_dir is not None:
        work_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        sweep_work_dir(work_dir)
        out_path = work_dir / f"{data_path.stem}.{os.getpid()}.utf8.dat"
    scanner = _Scanner(extract, data_path, out_path, careful, limits)
    try:
        # never past the control file's size: one byte more is already "too long"
        for chunk in data_path.blocks(limits[0], BLOCK_BYTES):
            scanner.feed(chunk)
        scanner.finish()
    except BaseException:
        scanner.close()
        if out_path is not None:
            out_path.unlink(missing_ok=True)
        raise
    scanner.close()
    return ScanResult(
        load_path=out_path if out_path is not None else data_path.path,
        md5=scanner.md5.hexdigest(),
        byte_size=scanner.size,
        row_count=max(scanner.newlines - 1, 0),
        bad_lines=scanner.fixer.bad,
        is_working_copy=out_path is not None,
        careful=careful,
        saw_cr=scanner.saw_cr,
    )


class _Scanner:
    """One pass over a delivered file, block by block: MD5, size, line count, header,
    and (with a work file) the UTF-8 text of every whole line."""

    def __init__(
        self,
        extract: Extract,
        data_path: LandedFile,
        out_path: Path | None,
        careful: bool,
        limits: tuple[int, int],
    ):
        self.extract, self.data_path = extract, data_path
        self.max_bytes, self.max_line = limits
        self.md5 = hashlib.md5(usedforsecurity=False)
        self.fixer = _LineFixer(extract.encoding, keep_text=out_path is not None, careful=careful)
        self.size = self.newlines = 0
        self.carry = b""
        self.header_seen = False
        self.saw_cr = False
        # a GBK file must not be UTF-8 text (see the module doc)
        self.check_utf8 = not is_utf8(extract.encoding)
        self.utf8_valid = self.utf8_invalid = 0
        self.out = None
        if out_path is not None:  # the copy holds personal data: private from the start
            fd = os.open(out_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            self.out = open(fd, "w", encoding="utf-8", newline="\n")  # noqa: SIM115

    def _refuse(self, why: str) -> ControlCheckError:
        return ControlCheckError(f"{self.extract.key} {self.data_path.name} refused: {why}")

    def _count_utf8(self, lines: bytes) -> None:
        """Count the non-ASCII text of whole lines that is (is not) valid UTF-8."""
        if not self.check_utf8 or lines.isascii():
            return
        text = lines.translate(None, _ASCII).decode("utf-8", errors="replace")
        invalid = text.count("\ufffd")
        self.utf8_invalid += invalid
        self.utf8_valid += len(text) - invalid

    def _utf8_delivered_as_declared(self) -> str | None:
        """Why the file looks written in UTF-8 although declared otherwise, or None."""
        valid, invalid = self.utf8_valid, self.utf8_invalid
        if valid < UTF8_MIN_CHARS or valid < UTF8_SHARE * (valid + invalid):
            return None
        share = valid / (valid + invalid)
        return (
            f"declared {self.extract.encoding.upper()}, but {share:.0%} of its non-ASCII text"
            f" is valid UTF-8 ({valid} characters, {invalid} invalid sequence(s)): it was"
            " written in UTF-8 and would load as mojibake; ask for a re-delivery in"
            f" {self.extract.encoding.upper()}"
        )

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
        if self.size > self.max_bytes:
            raise self._refuse(
                f"the file is longer than its control file says ({self.max_bytes} bytes);"
                " stopped reading"
            )
        self.saw_cr = self.saw_cr or b"\r" in chunk
        buf = self.carry + chunk
        cut = buf.rfind(b"\n")
        if cut < 0:
            self.carry = buf
            self._check_line_length()
            return
        whole, self.carry = buf[: cut + 1], buf[cut + 1 :]
        if (start := _long_line(whole, self.max_line)) is not None:
            number = self.newlines + whole.count(b"\n", 0, start) + 1
            raise self._refuse(f"line {number} is longer than the limit of {self.max_line} bytes")
        if not self.header_seen:
            header, _, whole = whole.partition(b"\n")
            self._header(header)
            self.newlines += 1
        first_line = self.newlines + 1
        self.newlines += whole.count(b"\n")
        self._count_utf8(whole)
        if whole:
            self._write(self.fixer.block(whole, first_line))
        self._check_line_length()

    def _check_line_length(self) -> None:
        if len(self.carry) > self.max_line:
            raise self._refuse(
                f"line {self.newlines + 1} is longer than the limit of {self.max_line} bytes"
            )

    def finish(self) -> None:
        if self.carry:  # last line without its LF
            if not self.header_seen:
                self._header(self.carry)
            else:
                self._write(self.fixer.block(self.carry + b"\n", self.newlines + 1))
                self._count_utf8(self.carry)
            self.newlines += 1
        if not self.header_seen:
            raise self._refuse("file is empty")
        if why := self._utf8_delivered_as_declared():
            raise self._refuse(why)

    def close(self) -> None:
        if self.out is not None:
            self.out.close()
            self.out = None


def _long_line(buf: bytes, limit: int) -> int | None:
    """The offset of a line in ``buf`` longer than ``limit`` bytes, or None.

    Looks for a newline in each aligned window of half the limit: a line longer than the
    limit covers at least one such window whole, so only windows without a newline (few,
    in real data none) need the exact check."""
    half = max(limit // 2, 1)
    for start in range(0, len(buf) - half + 1, half):
        if buf.find(b"\n", start, start + half) < 0:
            first = buf.rfind(b"\n", 0, start) + 1
            end = buf.find(b"\n", start + half)
            if (len(buf) if end < 0 else end) - first > limit:
                return first
    return None


def _check_header(extract: Extract, data_path: LandedFile, header: bytes) -> None:
    """The header must be the contract's, byte for byte (a trailing CR aside).

    The message describes the difference without quoting the file: a "header" may be
    the first bytes of anything."""
    header = header.removesuffix(b"\r")
    expected = extract.header_line()
    if header == expected.encode("ascii"):
        return
    older = next(
        (
            v
            for v in range(contract.version() - 1, 0, -1)
            if header == extract.header_line(v).encode("ascii")
        ),
        None,
    )
    if older is not None:
        raise ControlCheckError(
            f"{extract.key} {data_path.name} refused: the header is contract version"
            f" {older}'s; version {contract.version()} adds"
            f" {', '.join(extract.added_since(older))} (docs/extract-contract.md, Versions)"
        )
    names = header.split(b"|")
    if len(names) != len(extract.columns):
        why = f"{len(names)} fields, the contract has {len(extract.columns)}"
    else:
        wanted = [c.name.encode() for c in extract.columns]
        k = next(i for i, (a, b) in enumerate(zip(names, wanted, strict=True)) if a != b)
        why = f"field {k + 1} is not {extract.columns[k].name!r}"
    raise ControlCheckError(
        f"{extract.key} {data_path.name} refused: the header is not the contract's ({why});"
        f" expected {expected!r}"
    )
