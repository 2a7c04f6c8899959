"""The contract's loader: columns, types and rules of every extract, from extracts.yaml,
and the page it renders."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml

CONTRACT_FILE = Path(__file__).with_name("extracts.yaml")
DATA_SUFFIX = ".dat"
CONTROL_SUFFIX = ".ctl"


@dataclass(frozen=True)
class Column:
    """One column of an extract."""

    name: str
    type: str
    nullable: bool = False
    description: str = ""
    values: tuple[str, ...] | None = None
    min: float | None = None
    max: float | None = None
    pattern: str | None = None
    pii: bool = False
    since: int = 1  # the contract version that added the column

    @property
    def is_text(self) -> bool:
        return self.type.upper() == "VARCHAR"

    @property
    def masked_pattern(self) -> str | None:
        """The pattern the column's values match where they are masked (the analysts'
        snapshot, which the gates read): a mobile number shows its first three and last
        four digits; other identifying text is not checked there."""
        if not self.pii:
            return self.pattern
        return "1[3-9][0-9][*]{4}[0-9]{4}" if "msisdn" in self.name else None


def masked(column: str, data_type: str) -> str:
    """SQL for an identifying column's value as the analysts' snapshot holds it: a
    number as the lists show it (138****1234), a name's first character, a date's year
    (1 January); anything else null."""
    col = '"' + column.replace('"', '""') + '"'
    if data_type == "VARCHAR" and "msisdn" in column:
        return f"substr({col}, 1, 3) || '****' || substr({col}, 8, 4)"
    if data_type == "VARCHAR":
        return f"substr({col}, 1, 1) || '**'"
    if data_type == "DATE":
        return f"cast(date_trunc('year', {col}) as date)"
    return f"cast(null as {data_type})"


@dataclass(frozen=True)
class Extract:
    """One interface file of one source system."""

    system: str
    name: str
    kind: str
    description: str
    encoding: str
    primary_key: tuple[str, ...]
    columns: tuple[Column, ...]
    business_date_column: str | None = None
    # a snapshot whose size may legitimately fall from one day to the next (it follows
    # campaigns) is not held for shrinking against the day before
    size_varies: bool = False
    # the contract version that added the extract: a business date is complete without
    # it until the first date it is delivered for (kairos.pipeline)
    since: int = 1
    # fewest rows a delivery may have on a date with no accepted history to compare it
    # with (held below it): 1 for a snapshot whose size is stable -- an empty subscriber
    # or customer snapshot is never real -- else 0; ``min_rows`` in the YAML overrides
    min_rows: int = 0

    @property
    def key(self) -> str:
        """``system.extract``, the name used on the command line and in the ledger."""
        return f"{self.system}.{self.name}"

    @property
    def raw_table(self) -> str:
        """The warehouse table the extract loads into."""
        return f"raw.{self.system}_{self.name}"

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"{self.key} has no column {name!r}")

    def file_stem(self, business_date: dt.date) -> str:
        return f"{self.system.upper()}_{self.name.upper()}_{business_date:%Y%m%d}"

    def data_path(self, landing: Path, business_date: dt.date) -> Path:
        """Where the data file of a business date is delivered."""
        return delivery_dir(landing, self.system, business_date) / (
            self.file_stem(business_date) + DATA_SUFFIX
        )

    def control_path(self, landing: Path, business_date: dt.date) -> Path:
        """Where the control file of a business date is delivered."""
        return delivery_dir(landing, self.system, business_date) / (
            self.file_stem(business_date) + CONTROL_SUFFIX
        )

    def header_line(self, version: int | None = None) -> str:
        """The header row of the current contract version, or of an older ``version``."""
        return DELIMITER.join(c.name for c in self.columns if version is None or c.since <= version)

    def added_since(self, version: int) -> list[str]:
        """The columns added after contract ``version``."""
        return [c.name for c in self.columns if c.since > version]


def delivery_dir(landing: Path, system: str, business_date: dt.date) -> Path:
    """``{landing}/{system}/{YYYYMMDD}``: one folder per system and business date."""
    return landing / system / f"{business_date:%Y%m%d}"


@cache
def _document() -> dict:
    with CONTRACT_FILE.open(encoding="utf-8") as fh:
        return yaml.safe_load(fh)


DELIMITER: str = "|"


@cache
def extracts() -> tuple[Extract, ...]:
    """Every extract of every system, in contract order."""
    doc = _document()
    if doc["delimiter"] != DELIMITER:
        raise ValueError("the contract's delimiter must be '|'")
    out = []
    for system, sdef in doc["systems"].items():
        for name, edef in sdef["extracts"].items():
            cols = tuple(
                Column(
                    name=c["name"],
                    type=c["type"],
                    nullable=bool(c.get("nullable", False)),
                    description=c.get("description", ""),
                    values=tuple(str(v) for v in c["values"]) if "values" in c else None,
                    min=c.get("min"),
                    max=c.get("max"),
                    pattern=c.get("pattern"),
                    pii=bool(c.get("pii", False)),
                    since=int(c.get("since", 1)),
                )
                for c in edef["columns"]
            )
            ext = Extract(
                system=system,
                name=name,
                kind=edef["kind"],
                description=" ".join(str(edef["description"]).split()),
                encoding=sdef["encoding"],
                primary_key=tuple(edef["primary_key"]),
                columns=cols,
                business_date_column=edef.get("business_date_column"),
                size_varies=bool(edef.get("size_varies", False)),
                since=int(edef.get("since", 1)),
                min_rows=int(
                    edef.get(
                        "min_rows",
                        1 if edef["kind"] == "snapshot" and not edef.get("size_varies") else 0,
                    )
                ),
            )
            missing = set(ext.primary_key) - set(ext.column_names)
            if missing:
                raise ValueError(f"{ext.key}: primary key columns {missing} are not columns")
            out.append(ext)
    return tuple(out)


def version() -> int:
    """The contract version in force (``version`` in extracts.yaml)."""
    return int(_document()["version"])


def versions() -> list[dict]:
    """Every contract version, oldest first: version, date, changes."""
    return list(_document()["versions"])


def systems() -> tuple[str, ...]:
    """The source systems, in contract order (boss, crm, bi)."""
    return tuple(_document()["systems"])


def system_title(system: str) -> str:
    return _document()["systems"][system]["title"]


def for_system(system: str) -> tuple[Extract, ...]:
    """The extracts one system delivers."""
    if system not in systems():
        raise KeyError(f"unknown system {system!r}; expected one of {', '.join(systems())}")
    return tuple(e for e in extracts() if e.system == system)


def get(key: str) -> Extract:
    """An extract by ``system.extract``."""
    for e in extracts():
        if e.key == key:
            return e
    raise KeyError(f"unknown extract {key!r}; known: {', '.join(e.key for e in extracts())}")


def render_markdown() -> str:
    """The contract as a Markdown page (docs/extract-contract.md is this, committed)."""
    doc = _document()
    lines = [
        "# The extract contract",
        "",
        "<!-- Generated by `kairos contract-doc` from src/kairos/contract/extracts.yaml;"
        " edit the YAML, not this page. -->",
        "",
        "BOSS, CRM and BI each deliver one data file per extract per business date, with a"
        " control file beside it. This page is made from the machine-readable contract that"
        " the loader, the generator and the tests read.",
        "",
        "## Delivery",
        "",
        "- Folder: `$KAIROS_LANDING/<system>/<YYYYMMDD>/` (default `$KAIROS_HOME/landing`).",
        "- Data file: `<SYSTEM>_<EXTRACT>_<YYYYMMDD>.dat`; control file: the same name with"
        " `.ctl`. A data file without its control file is not yet delivered.",
        "- One header row with exactly the column names below, in order; fields separated"
        " by `|`, no quoting, LF line ends; an empty field is NULL and allowed only where"
        " the column is nullable.",
        "- DATE `YYYY-MM-DD`; TIMESTAMP `YYYY-MM-DD HH:MM:SS` (Beijing time); BOOLEAN `1`/`0`;"
        " DECIMAL with `.` and no thousands separator.",
        "- Control file: " + " ".join(str(doc["control_file"]["description"]).split()),
        "- *snapshot* extracts carry the whole current state each day; *events* extracts"
        " carry what happened on the business date.",
        "",
        "## What the loader does with a delivery",
        "",
        "- Control check first: row count, byte size and MD5 must match and the header must"
        " be the contract's; otherwise the whole file is refused, nothing of it is loaded,"
        " and the ledger says why.",
        "- A row that breaks the contract (wrong number of fields, a value of the wrong type,"
        " a code outside its list, a NULL where none is allowed, a value out of range or not"
        " matching its pattern, a duplicate primary key, a date that is not the business"
        " date, bytes that are not valid in the file's encoding, an empty line) is kept in"
        " `raw._quarantine` with file, line, raw text and reason. Loaded plus quarantined"
        " rows always equal the control count.",
        "",
    ]
    lines += [
        f"## Versions (in force: version {version()})",
        "",
        "A column or an extract added in a later version is marked *since N*. A file with an"
        " older version's header is refused whole, the ledger naming the version and the"
        " columns it lacks; the warehouse's raw tables gain new columns in place (earlier"
        " rows hold NULL). A business date is complete without an extract added later until"
        " the first date that extract is delivered for; from then on every date needs it.",
        "",
        "| version | from | changes |",
        "|---|---|---|",
        *(
            f"| {v['version']} | {v['date']} | {' '.join(str(v['changes']).split())} |"
            for v in versions()
        ),
        "",
    ]
    for system in systems():
        sdef = doc["systems"][system]
        lines += [f"## {sdef['title']}", "", f"Encoding: **{sdef['encoding'].upper()}**.", ""]
        for e in for_system(system):
            lines += [
                f"### `{e.system}.{e.name}` → `{e.raw_table}`",
                "",
                f"{e.description}",
                "",
                f"- File: `{e.system.upper()}_{e.name.upper()}_<YYYYMMDD>.dat`; kind: {e.kind};"
                f" primary key: `{', '.join(e.primary_key)}`"
                + (
                    f"; `{e.business_date_column}` must equal the business date."
                    if e.business_date_column
                    else "."
                )
                + (f" *Since {e.since}.*" if e.since > 1 else "")
                + (
                    f" A first delivery with fewer than {e.min_rows} row(s) is held."
                    if e.min_rows
                    else ""
                ),
                "",
                "| column | type | null | rule | description |",
                "|---|---|---|---|---|",
            ]
            for c in e.columns:
                rule = []
                if c.values:
                    rule.append("one of " + ", ".join(f"`{v}`" for v in c.values))
                if c.min is not None:
                    rule.append(f"≥ {c.min}")
                if c.max is not None:
                    rule.append(f"≤ {c.max}")
                if c.pattern:
                    rule.append(f"matches `{c.pattern}`")
                if c.pii:
                    rule.append("**PII**")
                if c.since > 1:
                    rule.append(f"*since {c.since}*")
                lines.append(
                    f"| `{c.name}` | {c.type} | {'yes' if c.nullable else 'no'} |"
                    f" {'; '.join(rule)} | {c.description} |"
                )
            lines.append("")
    return "\n".join(lines)
