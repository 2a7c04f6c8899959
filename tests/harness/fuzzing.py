"""Fuzzing the ingest with mutated real extracts.

Each case takes one extract of a small generated delivery, applies one to three random
mutations -- to its bytes, encoding, delimiters, line ends, header, size, or its control
file -- lands it, loads it, and checks what the README's fault matrix promises:

* the load ends in ``loaded`` / ``replaced`` / ``unchanged`` with loaded + quarantined =
  the control count, the raw table and the quarantine holding exactly those rows; or in
  ``refused`` / ``held`` / ``failed`` with a reason in the ledger, the date's rows as they
  were before, and no trace of the file's content in the reason;
* never an uncaught error;
* never a silent change of text: every loaded text value is one the delivery holds when
  decoded in its declared encoding -- and, after a change of encoding, one the original
  delivery held (a UTF-8 file declared GBK must not load as mojibake).

``python -m tests.harness.fuzzing --cases 1000`` (``make fuzz``) prints the tally; the test suite
runs a few hundred cases with a fixed seed.
"""

from __future__ import annotations

import argparse
import collections
import dataclasses
import datetime as dt
import hashlib
import random
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from kairos import contract
from kairos.config import Settings
from kairos.control import ControlRecord
from kairos.ingest import DeliveryRefused, LoadFailed, NotDelivered
from kairos.ingest.load import Limits, load_extract
from kairos.warehouse.store import connect_writer

DAY = dt.date(2026, 11, 21)
GOOD = ("loaded", "replaced", "unchanged")
BAD = ("refused", "held", "failed")
LIMITS = Limits(max_file_bytes=8 * 1024 * 1024, max_line_bytes=64 * 1024)
MARKER = b"S3CR3T"  # planted in mutations: must never appear in a ledger message


@dataclasses.dataclass
class Case:
    extract: contract.Extract
    data: bytes
    control: bytes | None  # None: no control file (not delivered)
    mutations: list[str]
    reencoded: bool = False


def rows_of(data: bytes) -> int:
    """The data rows as the control file counts them (lines, header excluded)."""
    lines = data.count(b"\n") + (1 if data and not data.endswith(b"\n") else 0)
    return max(lines - 1, 0)


def control_for(extract: contract.Extract, data: bytes, **override) -> bytes:
    record = ControlRecord(
        override.get("file_name", extract.data_path(Path("."), DAY).name),
        override.get("business_date", DAY),
        override.get("row_count", rows_of(data)),
        override.get("byte_size", len(data)),
        override.get("md5", hashlib.md5(data).hexdigest()),
    )
    return record.render().encode("ascii")


# --- mutations of the data ----------------------------------------------------------------


def _lines(data: bytes) -> list[bytes]:
    return data.split(b"\n")


def flip_bytes(rng: random.Random, data: bytes) -> bytes:
    b = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        if b:
            b[rng.randrange(len(b))] = rng.randrange(256)
    return bytes(b)


def insert_bytes(rng: random.Random, data: bytes) -> bytes:
    pick = rng.choice([b"\r", b"\x00", b"|", b"\n", b"\xff", b"\x81", b"\xe4\xb8", MARKER, b"'"])
    at = rng.randrange(len(data) + 1)
    return data[:at] + pick + data[at:]


def delete_range(rng: random.Random, data: bytes) -> bytes:
    at = rng.randrange(len(data) + 1)
    return data[:at] + data[at + rng.randint(1, 200) :]


def duplicate_line(rng: random.Random, data: bytes) -> bytes:
    lines = _lines(data)
    k = rng.randrange(1, max(len(lines) - 1, 2))
    lines.insert(k, lines[min(k, len(lines) - 1)])
    return b"\n".join(lines)


def truncate(rng: random.Random, data: bytes) -> bytes:
    return data[: rng.randrange(len(data) + 1)]


def crlf(rng: random.Random, data: bytes) -> bytes:
    return data.replace(b"\n", b"\r\n")


def cr_in_line(rng: random.Random, data: bytes) -> bytes:
    lines = _lines(data)
    k = rng.randrange(1, max(len(lines), 2))
    if k < len(lines) and lines[k]:
        at = rng.randrange(len(lines[k]))
        lines[k] = lines[k][:at] + b"\r" + lines[k][at:]
    return b"\n".join(lines)


def blank_lines(rng: random.Random, data: bytes) -> bytes:
    lines = _lines(data)
    for _ in range(rng.randint(1, 3)):
        lines.insert(rng.randrange(1, max(len(lines), 2)), rng.choice([b"", b"   ", b"\r"]))
    return b"\n".join(lines)


def field_count(rng: random.Random, data: bytes) -> bytes:
    lines = _lines(data)
    k = rng.randrange(1, max(len(lines), 2))
    if k < len(lines) and lines[k]:
        fields = lines[k].split(b"|")
        if rng.random() < 0.5 and len(fields) > 1:
            del fields[rng.randrange(len(fields))]
        else:
            fields.insert(rng.randrange(len(fields) + 1), MARKER)
        lines[k] = b"|".join(fields)
    return b"\n".join(lines)


def delimiter(rng: random.Random, data: bytes) -> bytes:
    other = rng.choice([b",", b"\t", b";"])
    if rng.random() < 0.5:
        return data.replace(b"|", other)
    lines = _lines(data)
    k = rng.randrange(len(lines))
    lines[k] = lines[k].replace(b"|", other)
    return b"\n".join(lines)


def header(rng: random.Random, data: bytes) -> bytes:
    head, _, body = data.partition(b"\n")
    names = head.split(b"|")
    how = rng.choice(["swap", "drop", "upper", "extra", "secret", "none"])
    if how == "swap" and len(names) > 1:
        names[0], names[1] = names[1], names[0]
    elif how == "drop":
        return body
    elif how == "upper":
        names = [n.upper() for n in names]
    elif how == "extra":
        names.append(b"extra")
    elif how == "secret":
        names = [MARKER * 40]
    elif how == "none":
        return b""
    return b"|".join(names) + b"\n" + body


def long_line(rng: random.Random, data: bytes) -> bytes:
    lines = _lines(data)
    k = rng.randrange(1, max(len(lines), 2))
    size = rng.choice([70_000, 200_000])
    lines.insert(k, MARKER * (size // len(MARKER)))
    return b"\n".join(lines)


def header_only(rng: random.Random, data: bytes) -> bytes:
    return data.partition(b"\n")[0] + b"\n"


def bom(rng: random.Random, data: bytes) -> bytes:
    return b"\xef\xbb\xbf" + data


MUTATIONS: dict[str, Callable[[random.Random, bytes], bytes]] = {
    "flip_bytes": flip_bytes,
    "insert_bytes": insert_bytes,
    "delete_range": delete_range,
    "duplicate_line": duplicate_line,
    "truncate": truncate,
    "crlf": crlf,
    "cr_in_line": cr_in_line,
    "blank_lines": blank_lines,
    "field_count": field_count,
    "delimiter": delimiter,
    "header": header,
    "long_line": long_line,
    "header_only": header_only,
    "bom": bom,
}

CONTROL_MUTATIONS: dict[str, Callable[[random.Random, contract.Extract, bytes], bytes | None]]
CONTROL_MUTATIONS = {
    "ctl_count": lambda rng, e, data: control_for(
        e, data, row_count=rows_of(data) + rng.choice([-1, 1, 7])
    ),
    "ctl_size": lambda rng, e, data: control_for(
        e, data, byte_size=len(data) + rng.choice([-1, 1, 10**9])
    ),
    "ctl_md5": lambda rng, e, data: control_for(e, data, md5="0" * 32),
    "ctl_date": lambda rng, e, data: control_for(e, data, business_date=DAY - dt.timedelta(days=1)),
    "ctl_name": lambda rng, e, data: control_for(
        e, data, file_name="OTHER_" + MARKER.decode() + ".dat"
    ),
    "ctl_garbage": lambda rng, e, data: (
        MARKER + bytes(rng.randrange(256) for _ in range(rng.randint(0, 80)))
    ),
    "ctl_missing": lambda rng, e, data: None,
    "ctl_huge": lambda rng, e, data: control_for(e, data) + MARKER * 2000,
}


def reencode(extract: contract.Extract, data: bytes) -> bytes | None:
    """The delivery in the other encoding (GBK <-> UTF-8), or None if it is ASCII."""
    if data.isascii():
        return None
    text = data.decode(extract.encoding, errors="strict")
    other = "utf-8" if extract.encoding.lower() == "gbk" else "gbk"
    try:
        return text.encode(other)
    except UnicodeEncodeError:
        return None


def make_case(rng: random.Random, originals: dict[str, bytes]) -> Case:
    extract = contract.get(rng.choice(sorted(originals)))
    data = originals[extract.key]
    names: list[str] = []
    reencoded = False
    if rng.random() < 0.12 and (other := reencode(extract, data)) is not None:
        data, reencoded = other, True
        names.append("reencode")
    for _ in range(rng.randint(0 if reencoded else 1, 2)):
        name = rng.choice(list(MUTATIONS))
        data = MUTATIONS[name](rng, data)
        names.append(name)
    control: bytes | None = control_for(extract, data)
    if rng.random() < 0.2:
        how = rng.choice(list(CONTROL_MUTATIONS))
        names.append(how)
        control = CONTROL_MUTATIONS[how](rng, extract, data)
    return Case(extract, data, control, names, reencoded)


# --- running and checking ------------------------------------------------------------------


def _text_values(extract: contract.Extract, data: bytes, encoding: str) -> set[tuple[int, str]]:
    """(column index, value) of every text field of every line decodable in ``encoding``."""
    text_cols = [i for i, c in enumerate(extract.columns) if c.is_text]
    out = set()
    for raw in data.split(b"\n")[1:]:
        raw = raw.removesuffix(b"\r")
        try:
            line = raw.decode(encoding)
        except UnicodeDecodeError:
            continue
        fields = line.split("|")
        if len(fields) == len(extract.columns):
            out.update((i, fields[i]) for i in text_cols)
    return out


def _state(con, extract: contract.Extract) -> tuple:
    table = con.execute(
        f"select count(*), sum(hash(t)) from {extract.raw_table} t where business_date = ?",
        [DAY],
    ).fetchone()
    quarantine = con.execute(
        "select count(*) from audit.quarantine where system = ? and extract = ?"
        " and business_date = ?",
        [extract.system, extract.name, DAY],
    ).fetchone()
    return table, quarantine


def run_case(con, cfg: Settings, case: Case, original: bytes) -> str:
    """Land and load one case; return its outcome, or raise AssertionError."""
    e = case.extract
    data_path, ctl_path = e.data_path(cfg.landing, DAY), e.control_path(cfg.landing, DAY)
    data_path.parent.mkdir(parents=True, exist_ok=True)
    data_path.write_bytes(case.data)
    ctl_path.unlink(missing_ok=True)
    if case.control is not None:
        ctl_path.write_bytes(case.control)
    before = _state(con, e)
    try:
        result = load_extract(con, e, DAY, cfg.landing, cfg.work_dir, limits=LIMITS)
    except NotDelivered:
        assert case.control is None, "not delivered although the control file is there"
        assert _state(con, e) == before
        return "not delivered"
    except (DeliveryRefused, LoadFailed) as exc:
        status, message = con.execute(
            "select status, message from audit.load_ledger where system = ? and extract = ?"
            " order by finished_at desc limit 1",
            [e.system, e.name],
        ).fetchone()
        assert status in BAD and message, (status, message)
        assert MARKER.decode() not in message and MARKER.decode() not in str(exc), message
        assert _state(con, e) == before, "a refused delivery changed the date's rows"
        return status
    assert result.status in GOOD, result
    assert result.rows_loaded + result.rows_quarantined == result.control_rows
    (count, _), (quarantined,) = _state(con, e)
    assert (count, quarantined) == (result.rows_loaded, result.rows_quarantined)
    allowed = _text_values(e, original, e.encoding)
    if not case.reencoded:
        allowed |= _text_values(e, case.data, e.encoding)
    text_cols = [c.name for c in e.columns if c.is_text]
    if text_cols and result.status != "unchanged":
        cols = ", ".join(text_cols)
        for row in con.execute(
            f"select {cols} from {e.raw_table} where business_date = ?", [DAY]
        ).fetchall():
            for name, value in zip(text_cols, row, strict=True):
                idx = e.column_names.index(name)
                if value is not None:
                    assert (idx, value) in allowed, f"text changed silently: {name}={value!r}"
    return result.status


def fuzz(cases: int, seed: int, home: Path, subscribers: int = 120) -> collections.Counter:
    """Run ``cases`` cases under ``home``; return the tally (raises on a broken promise)."""
    from kairos_sample import generate

    cfg = Settings(
        home=home,
        warehouse=home / "warehouse" / "fuzz.duckdb",
        landing=home / "landing",
        airflow_home=home / "airflow",
    )
    pristine = home / "pristine"
    generate(pristine, DAY, 1, subscribers, seed, progress=False)
    originals = {e.key: e.data_path(pristine, DAY).read_bytes() for e in contract.extracts()}
    rng = random.Random(seed)
    tally: collections.Counter = collections.Counter()
    with connect_writer(cfg) as con:
        for k in range(cases):
            case = make_case(rng, originals)
            try:
                outcome = run_case(con, cfg, case, originals[case.extract.key])
            except AssertionError as exc:
                raise AssertionError(
                    f"case {k} ({case.extract.key}: {', '.join(case.mutations)}): {exc}"
                ) from exc
            tally[outcome] += 1
            for name in case.mutations:
                tally[f"  {name}"] += 1
    return tally


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--cases", type=int, default=1000)
    p.add_argument("--seed", type=int, default=int(time.time()) % 100_000)
    args = p.parse_args(argv)
    import logging

    logging.getLogger("kairos").setLevel(logging.CRITICAL)  # refusals are the point here
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="kairos-fuzz-") as tmp:
        try:
            tally = fuzz(args.cases, args.seed, Path(tmp))
        except AssertionError as exc:
            print(f"FUZZ FAILED (seed {args.seed}): {exc}", file=sys.stderr)
            return 1
    seconds = time.perf_counter() - t0
    print(f"{args.cases} cases, seed {args.seed}, {seconds:.1f}s: every promise held")
    outcomes = {k: v for k, v in tally.items() if not k.startswith(" ")}
    print("outcomes: " + ", ".join(f"{k} {v}" for k, v in sorted(outcomes.items())))
    print("mutations applied:")
    for k, v in sorted((k, v) for k, v in tally.items() if k.startswith(" ")):
        print(f"{k:<20} {v:>6}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
