"""Row expectations compiled to one DuckDB aggregate: the gate's cost at scale.

GX's pandas engine evaluates a row expectation value by value in Python for every
column that is not a plain number (a DECIMAL column arrives as Python ``Decimal``
objects), after the rows were fetched out of DuckDB batch by batch: at a million
subscribers the warehouse gate spent 8 times as long as fetching the same rows. The
column-map expectations the suites use most -- not null, in a set, between, matching or
not matching a pattern -- are simple predicates, so a suite made only of them is
evaluated where the data is: one pass of DuckDB over the suite's query counting, per
expectation, the rows that break it.

The counts follow GX's own semantics exactly, so a suite passes or fails the same way
on either engine (``tests/test_quality.py`` runs both on the same broken rows and
compares every count):

* ``element_count`` is every row; an expectation other than not-null skips nulls (GX's
  map metrics filter them out first);
* ``between`` is inclusive unless ``strict_min`` / ``strict_max``;
* a pattern is searched, not anchored (pandas ``str.contains``; DuckDB
  ``regexp_matches``), on the value as text.

A suite with any other expectation, a ``mostly``, or a list column (whose failures GX
attributes to lists row by row) stays on GX. Examples of unexpected values (at most
three) are fetched only for a failed expectation of a suite that is not sensitive, and
not for a null (the example would be "None").
"""

from __future__ import annotations

from collections.abc import Callable

import duckdb

COMPILABLE = {
    "expect_column_values_to_not_be_null",
    "expect_column_values_to_be_in_set",
    "expect_column_values_to_be_between",
    "expect_column_values_to_match_regex",
    "expect_column_values_to_not_match_regex",
}
ARGUMENTS = {"column", "value_set", "min_value", "max_value", "strict_min", "strict_max", "regex"}
EXAMPLES = 3


def _literal(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    raise TypeError(f"no SQL literal for {type(value).__name__}")


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _between(column: str, kwargs: dict) -> str:
    parts = []
    if kwargs.get("min_value") is not None:
        op = "<=" if kwargs.get("strict_min") else "<"
        parts.append(f"{column} {op} {_literal(kwargs['min_value'])}")
    if kwargs.get("max_value") is not None:
        op = ">=" if kwargs.get("strict_max") else ">"
        parts.append(f"{column} {op} {_literal(kwargs['max_value'])}")
    if not parts:
        raise TypeError("between needs min_value or max_value")
    return " or ".join(parts)


def _violation(kind: str, kwargs: dict) -> str:
    """The SQL predicate true for a row that breaks the expectation."""
    column = _ident(kwargs["column"])
    if kind == "expect_column_values_to_not_be_null":
        return f"{column} is null"
    if kind == "expect_column_values_to_be_in_set":
        values = ", ".join(_literal(v) for v in kwargs["value_set"])
        test = f"{column} not in ({values})" if values else "true"
    elif kind == "expect_column_values_to_be_between":
        test = _between(column, kwargs)
    else:
        matches = f"regexp_matches(cast({column} as varchar), {_literal(kwargs['regex'])})"
        test = matches if kind == "expect_column_values_to_not_match_regex" else f"not {matches}"
    return f"{column} is not null and ({test})"


def compilable(entries: tuple[tuple[str, dict], ...] | None) -> bool:
    """Whether every expectation of a suite can be counted in SQL with GX's semantics."""
    if not entries:
        return False
    for kind, kwargs in entries:
        if kind not in COMPILABLE or not set(kwargs) <= ARGUMENTS | {"description"}:
            return False
        try:
            _violation(kind, kwargs)
        except (KeyError, TypeError):
            return False
    return True


def evaluate(
    con: duckdb.DuckDBPyConnection,
    query: str,
    params: dict,
    entries: tuple[tuple[str, dict], ...],
    sensitive: bool,
    outcome: Callable[..., object],
) -> tuple[int, list]:
    """(rows, one outcome per expectation) of ``query``'s result, counted by DuckDB."""
    predicates = [_violation(kind, kwargs) for kind, kwargs in entries]
    counts = ", ".join(f"count(*) filter (where {p})" for p in predicates)
    source = f"with checked as ({query}) "
    row = con.execute(f"{source}select count(*), {counts} from checked", params).fetchall()[0]
    rows, unexpected = row[0], row[1:]
    outcomes = []
    for (kind, kwargs), predicate, bad in zip(entries, predicates, unexpected, strict=True):
        details = ""
        if bad and not sensitive and kind != "expect_column_values_to_not_be_null":
            column = _ident(kwargs["column"])
            values = con.execute(
                f"{source}select {column} from checked where {predicate} limit {EXAMPLES}",
                params,
            ).fetchall()
            details = "(e.g. " + ", ".join(repr(v[0]) for v in values) + ")"
        outcomes.append(
            outcome(
                expectation=kind,
                column=kwargs.get("column"),
                success=bad == 0,
                element_count=rows,
                unexpected_count=bad,
                details=details,
                description=kwargs.get("description") or "",
            )
        )
    return rows, outcomes
