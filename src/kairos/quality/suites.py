"""Suites: what a gate checks, read from the project's ``expectations/*.yml``.

A suite file is data, not code: each suite names a DuckDB query (over ``ref``'d tables:
``raw``, ``audit``, ``reference``, ``staging``, ``intermediate``, ``marts``, and the staged
lists through ``$lists_dir``) and the Great Expectations expectations its result must
meet, in GX's own vocabulary (``expect_column_values_to_be_in_set: {column: ...}``)::

    suites:
      - name: marts_key_moment_tasks_rows
        description: decisions, channels, reasons
        shape: rows            # rows (streamed in batches) | aggregate (one small result)
        list_column: list_id   # optional: a failure withholds only the failing lists
        sensitive: false       # true: no example values kept (the rows hold PII)
        constants: {ratio_low: 0.3}   # written into the query as $ratio_low
        query: select ... where business_date = $business_date
        expectations:
          - expect_column_values_to_not_be_null: {column: decision}

A suite with ``for_each: extract`` is a template expanded once per extract of the
contract (``{raw_table}``, ``{system}``, ``{name}``, ``{key}``, ``{keys}``, ``{columns}``);
``contract_columns: true`` adds the expectations the contract states for each column, and
``trailing_bounds`` (by extract) one on ``ratio_to_trailing_avg``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import yaml

from kairos import contract
from kairos.config import Settings

DEFAULT_BATCH_ROWS = 500_000


class SuiteError(ValueError):
    """A suite file that cannot be understood."""


@dataclass(frozen=True)
class Suite:
    """A named query and the GX expectations its result must meet.

    ``query`` is DuckDB SQL with named parameters (``$business_date``, and for the
    target lists ``$lists_dir``); ``expectations`` builds the GX expectation objects
    (a function, so loading a suite does not import GX).
    """

    name: str
    description: str
    query: str
    expectations: Callable[[], list]
    shape: str = "rows"  # rows | aggregate
    batch_rows: int = DEFAULT_BATCH_ROWS
    # Over PII columns: keep no example values in results, reports or Data Docs (an
    # unexpected value of a phone-number column is a phone number).
    sensitive: bool = False
    # Set on suites whose every row belongs to one list (``list_id``): a failure there
    # withholds the failing lists only, and GX reports which rows (lists) failed.
    list_column: str | None = None
    # the expectations as written, (type, kwargs) each: what kairos.quality.compiled
    # compiles to SQL when it can
    entries: tuple[tuple[str, dict], ...] = ()

    def __post_init__(self):
        if self.shape not in ("rows", "aggregate"):
            raise SuiteError(f"suite {self.name}: shape must be rows or aggregate")


def load_suites(cfg: Settings, name: str) -> list[Suite]:
    """The suites of ``<project>/expectations/<name>.yml``."""
    path = cfg.expectations_dir / f"{name}.yml"
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        raise SuiteError(f"no suite file {path}") from None
    suites: list[Suite] = []
    for spec in document.get("suites") or []:
        if spec.get("for_each") == "extract":
            suites.extend(_suite(_for_extract(spec, e), path) for e in contract.extracts())
        else:
            suites.append(_suite(spec, path))
    if not suites:
        raise SuiteError(f"{path} defines no suite")
    return suites


def _suite(spec: dict, path: Path) -> Suite:
    try:
        query = spec["query"]
        for constant, value in (spec.get("constants") or {}).items():
            query = query.replace(f"${constant}", repr(value))
        entries = tuple(_parse(e) for e in spec.get("expectations") or [])
        return Suite(
            name=spec["name"],
            description=spec.get("description", ""),
            query=query,
            expectations=_builder(entries),
            entries=entries,
            shape=spec.get("shape", "rows"),
            batch_rows=int(spec.get("batch_rows", DEFAULT_BATCH_ROWS)),
            sensitive=bool(spec.get("sensitive", False)),
            list_column=spec.get("list_column"),
        )
    except (KeyError, TypeError) as exc:
        raise SuiteError(f"{path}: suite {spec.get('name', '?')}: {exc!r}") from None


def _parse(entry) -> tuple[str, dict]:
    if not isinstance(entry, dict) or len(entry) != 1:
        raise TypeError(f"an expectation is one mapping {{type: kwargs}}, not {entry!r}")
    ((kind, kwargs),) = entry.items()
    if not kind.startswith("expect_"):
        raise TypeError(f"not an expectation type: {kind!r}")
    return kind, dict(kwargs or {})


def _builder(entries: tuple[tuple[str, dict], ...]) -> Callable[[], list]:
    def build() -> list:
        # lazy: GX takes seconds to import; reading a suite's YAML does not need it
        from great_expectations.expectations.expectation_configuration import (
            ExpectationConfiguration,
        )

        out = []
        for kind, kwargs in entries:
            kwargs = dict(kwargs)
            description = kwargs.pop("description", None)
            out.append(
                ExpectationConfiguration(
                    type=kind, kwargs=kwargs, description=description
                ).to_domain_obj()
            )
        return out

    return build


def _for_extract(spec: dict, extract: contract.Extract) -> dict:
    """The template ``spec`` for one extract of the contract."""
    names = {
        "raw_table": extract.raw_table,
        "system": extract.system,
        "name": extract.name,
        "key": extract.key,
        "keys": ", ".join(extract.primary_key),
        "columns": ", ".join(c.name for c in extract.columns),
        # the rows the trailing-average comparison counts (all, unless the template says)
        "volume_filter": (spec.get("volume_filters") or {}).get(extract.key, "true"),
    }
    out = {k: v for k, v in spec.items() if k not in ("for_each", "contract_columns")}
    for field in ("name", "description", "query"):
        out[field] = spec.get(field, "").format(**names)
    expectations = list(spec.get("expectations") or [])
    if spec.get("contract_columns"):
        expectations += _column_expectations(extract)
    bounds = (spec.get("trailing_bounds") or {}).get(extract.key)
    if bounds:
        # null on the first day with no history: column expectations skip nulls
        expectations.append(
            {
                "expect_column_values_to_be_between": {
                    "column": "ratio_to_trailing_avg",
                    "min_value": bounds[0],
                    "max_value": bounds[1],
                }
            }
        )
    out.pop("trailing_bounds", None)
    out.pop("volume_filters", None)
    out["expectations"] = expectations
    if spec.get("sensitive") == "contract":
        out["sensitive"] = any(c.pii for c in extract.columns)
    return out


def _column_expectations(extract: contract.Extract) -> list[dict]:
    """What the contract says of each column, as expectations."""
    out: list[dict] = []
    for c in extract.columns:
        if not c.nullable:
            out.append({"expect_column_values_to_not_be_null": {"column": c.name}})
        if c.values:
            out.append(
                {
                    "expect_column_values_to_be_in_set": {
                        "column": c.name,
                        "value_set": list(c.values),
                    }
                }
            )
        if c.min is not None or c.max is not None:
            out.append(
                {
                    "expect_column_values_to_be_between": {
                        "column": c.name,
                        "min_value": c.min,
                        "max_value": c.max,
                    }
                }
            )
        # the gates read the analysts' snapshot, where identifying columns are masked
        if c.masked_pattern:
            out.append(
                {
                    "expect_column_values_to_match_regex": {
                        "column": c.name,
                        "regex": c.masked_pattern,
                    }
                }
            )
    return out
