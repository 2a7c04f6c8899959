"""A delivery: every extract of every system for a range of business dates, streamed to
the landing area with its control files and ground truth (see :mod:`kairos_sample`)."""

from __future__ import annotations

import contextlib
import datetime as dt
import gzip
import hashlib
import io
import json
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kairos import contract
from kairos.contract import Extract
from kairos.control import ControlRecord, write_control
from kairos.files import write_json
from kairos_sample import catalogue as cat
from kairos_sample import execution, measurement, planting, scenarios
from kairos_sample import world as w
from kairos_sample.day import Ids, generate_chunk_day, months_for
from kairos_sample.scenarios import Scenario

FAULT_KINDS = ("malformed", "truncated", "wrong-count", "late", "volume-drop", "missing")
MALFORMED_KINDS = (
    "too_few_fields",
    "too_many_fields",
    "bad_type",
    "bad_code",
    "empty_required",
    "bad_encoding",
    "blank_line",
    "duplicate_key",
    "out_of_range",
    "wrong_date",
)


def _first_column(extract: Extract, wanted) -> int | None:
    return next((j for j, c in enumerate(extract.columns) if wanted(c)), None)


def _with(fields: list[str], j: int | None, value: str) -> list[str] | None:
    if j is None:
        return None
    fields[j] = value
    return fields


def _out_of_range(e: Extract, lines, pos, fields):
    j = _first_column(e, lambda c: c.min is not None)
    if j is not None:
        return _with(fields, j, "-1")
    return _with(fields, _first_column(e, lambda c: c.pattern), "12345")


def _wrong_date(e: Extract, lines, pos, fields):
    if not e.business_date_column:
        return None
    return _with(fields, e.column_names.index(e.business_date_column), "1999-12-31")


# How each kind of malformed line is made from a good one (None: not for this extract).
_BREAKERS = {
    "too_few_fields": lambda e, lines, pos, fields: fields[:-1],
    "too_many_fields": lambda e, lines, pos, fields: [*fields, "extra"],
    "bad_type": lambda e, lines, pos, fields: _with(
        fields, _first_column(e, lambda c: not c.is_text), "n/a"
    ),
    "bad_code": lambda e, lines, pos, fields: _with(
        fields, _first_column(e, lambda c: c.values), "UNKNOWN_CODE"
    ),
    "empty_required": lambda e, lines, pos, fields: ["", *fields[1:]],
    "blank_line": lambda e, lines, pos, fields: [""],
    "duplicate_key": lambda e, lines, pos, fields: lines[pos - 1].split("|"),
    "out_of_range": _out_of_range,
    "wrong_date": _wrong_date,
}


@dataclass(frozen=True)
class Fault:
    """A fault to inject: ``kind`` into ``extract`` (``system.extract``), or all extracts."""

    kind: str
    extract: str | None = None

    @classmethod
    def parse(cls, text: str) -> Fault:
        kind, _, target = text.partition(":")
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault {kind!r}; expected one of {', '.join(FAULT_KINDS)}")
        if target:
            contract.get(target)  # raises on an unknown extract
        return cls(kind, target or None)

    def applies(self, extract: Extract) -> bool:
        return self.extract is None or self.extract == extract.key


class Progress:
    """Rows and extracts written, rate and time left, on stderr."""

    def __init__(self, total_units: int, enabled: bool = True):
        self.total = total_units
        self.done = 0
        self.rows = 0
        self.t0 = time.monotonic()
        self.last = 0.0
        self.enabled = enabled
        self.tty = sys.stderr.isatty()

    def step(self, rows: int, label: str) -> None:
        self.done += 1
        self.rows += rows
        now = time.monotonic()
        if not self.enabled or (
            now - self.last < (0.5 if self.tty else 10) and self.done < self.total
        ):
            return
        self.last = now
        elapsed = now - self.t0
        rate = self.rows / elapsed if elapsed else 0.0
        left = elapsed / self.done * (self.total - self.done)
        msg = (
            f"generate {label}: {self.done}/{self.total} chunks, {self.rows:,} rows,"
            f" {rate:,.0f} rows/s, ~{left:,.0f}s left"
        )
        sys.stderr.write(("\r" + msg + "\033[K") if self.tty else msg + "\n")
        sys.stderr.flush()

    def close(self) -> None:
        if self.enabled and self.tty:
            sys.stderr.write("\n")


class ExtractWriter:
    """One data file being written: encodes lines, counts and hashes as it goes."""

    def __init__(self, extract: Extract, landing: Path, day: dt.date):
        self.extract = extract
        self.path = extract.data_path(landing, day)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        extract.control_path(landing, day).unlink(missing_ok=True)
        self.part = self.path.with_name(self.path.name + ".part")
        self.fh = self.part.open("wb")
        self.md5 = hashlib.md5(usedforsecurity=False)
        self.bytes = 0
        self.rows = 0
        self.injected: list[dict] = []
        self._write((extract.header_line() + "\n").encode("ascii"))

    def _write(self, data: bytes) -> None:
        self.fh.write(data)
        self.md5.update(data)
        self.bytes += len(data)

    def write_lines(self, lines: list[str], malformed: bool) -> None:
        if not lines:
            return
        bad_bytes: dict[int, bytes] = {}
        if malformed and not self.injected:
            bad_bytes = self._inject(lines)
        if bad_bytes:
            for k, line in enumerate(lines):
                self._write(bad_bytes.get(k) or (line + "\n").encode(self.extract.encoding))
        else:
            self._write(("\n".join(lines) + "\n").encode(self.extract.encoding))
        self.rows += len(lines)

    def _inject(self, lines: list[str]) -> dict[int, bytes]:
        """Break a few lines, one of each kind that fits this extract; record where."""
        e = self.extract
        first_line = self.rows + 2  # header is line 1
        bad_bytes: dict[int, bytes] = {}
        for k, kind in enumerate(MALFORMED_KINDS):
            pos = 1 + 3 * k
            if pos >= len(lines):
                break
            line_no = first_line + pos
            if kind == "bad_encoding":
                bad_bytes[pos] = lines[pos].encode(e.encoding)[:5] + b"\xff\xff\n"
            else:
                fields = _BREAKERS[kind](e, lines, pos, lines[pos].split("|"))
                if fields is None:
                    continue  # this extract has no column to break that way
                lines[pos] = "|".join(fields)
            affected = [line_no - 1, line_no] if kind == "duplicate_key" else [line_no]
            self.injected.append({"line": line_no, "kind": kind, "quarantined_lines": affected})
        return bad_bytes

    def close(self) -> dict:
        self.fh.close()
        self.part.replace(self.path)
        return {"rows": self.rows, "bytes": self.bytes, "md5": self.md5.hexdigest()}


@contextlib.contextmanager
def _gzip_text(path: Path) -> Iterator[io.TextIOWrapper]:
    """A gzip text writer whose bytes depend on the content only (no name, no mtime)."""
    with (
        path.open("wb") as raw,
        gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=1) as gz,
        io.TextIOWrapper(gz, encoding="utf-8", newline="\n") as text,
    ):
        yield text


def _month_cache(
    seed: int, st: w.Static, day: dt.date, scenario: Scenario
) -> dict[tuple[int, int], w.Month]:
    return {ym: w.build_month(seed, st, *ym, scenario) for ym in months_for(day)}


class _ActivityTruth:
    """Realised figures of each care activity, accumulated chunk by chunk."""

    def __init__(self):
        self.acc: dict[int, dict[str, float]] = {}

    def add(self, st: w.Static, mo: w.Month) -> None:
        for k, a in enumerate(cat.CARE_ACTIVITIES):
            cid = w.campaign_id(mo.year, mo.month, a.slot)
            d = self.acc.setdefault(
                cid,
                {
                    "segment": a.segment,
                    "true_effect": a.true_effect,
                    "planted_reach_rate": a.reach_rate,
                },
            )
            mem = mo.care == k
            tgt = mem & ~mo.control
            part = tgt & (mo.part_day > 0)
            resp = mo.after_day > 0
            delta = mo.score_after - mo.score_before

            def bump(key, value, d=d):
                d[key] = d.get(key, 0) + float(value)

            bump("screened", ((st.segment == k) & mo.screened).sum())
            bump("members", mem.sum())
            bump("target", tgt.sum())
            bump("control", (mem & mo.control).sum())
            bump("reached", (tgt & (mo.reach_day > 0)).sum())
            bump("participants", part.sum())
            for name, mask in (
                ("participants", part),
                ("target", tgt),
                ("control", mem & mo.control),
                ("target_nonparticipants", tgt & ~part),
            ):
                m = mask & resp
                bump(f"{name}_surveyed", m.sum())
                bump(f"{name}_before_sum", mo.score_before[m].sum())
                bump(f"{name}_after_sum", mo.score_after[m].sum())
                bump(f"{name}_delta_sum", delta[m].sum())

    def summary(self) -> list[dict]:
        out = []
        for cid, d in sorted(self.acc.items()):
            row = {"campaign_id": cid, "segment": d["segment"], "true_effect": d["true_effect"]}
            for key in ("screened", "members", "target", "control", "reached", "participants"):
                row[key] = int(d.get(key, 0))
            row["participation_rate"] = (
                row["participants"] / row["target"] if row["target"] else None
            )
            means = {}
            for name in ("participants", "target", "control", "target_nonparticipants"):
                n = d.get(f"{name}_surveyed", 0)
                means[name] = {
                    "surveyed": int(n),
                    "before": d[f"{name}_before_sum"] / n if n else None,
                    "after": d[f"{name}_after_sum"] / n if n else None,
                    "lift": d[f"{name}_delta_sum"] / n if n else None,
                }
            row["satisfaction"] = means
            naive = means["participants"]["lift"]
            itt = (
                means["target"]["lift"] - means["control"]["lift"]
                if means["target"]["lift"] is not None and means["control"]["lift"] is not None
                else None
            )
            row["naive_lift_participants"] = naive
            row["did_lift_target_vs_control"] = itt
            row["did_lift_per_participant"] = (
                itt / row["participation_rate"]
                if itt is not None and row["participation_rate"]
                else None
            )
            out.append(row)
        return out


# one default size for every command that makes a delivery (generate, next-day, demo)
DEFAULT_SUBSCRIBERS = 20_000
DEFAULT_SEED = 42


def last_delivery(landing: Path) -> tuple[dt.date | None, dict]:
    """The latest business date with a folder in the landing area, and the parameters
    (subscribers, seed, scenario) of the last delivery generated there."""
    days = []
    for folder in Path(landing).glob("*/[0-9]" + "[0-9]" * 7):
        with contextlib.suppress(ValueError):
            days.append(dt.datetime.strptime(folder.name, "%Y%m%d").date())
    params = {}
    with contextlib.suppress(OSError, ValueError):
        with (Path(landing) / "_ground_truth" / "manifest.json").open(encoding="utf-8") as f:
            manifest = json.load(f)
        params = {
            "subscribers": int(manifest["subscribers"]),
            "seed": int(manifest["seed"]),
            "scenario": manifest["scenario"]["name"],
        }
        params["planting"] = planting.Planting.from_manifest(manifest.get("planted", {}))
    return (max(days) if days else None), params


def generate(
    out: Path,
    start: dt.date,
    days: int = 1,
    subscribers: int = DEFAULT_SUBSCRIBERS,
    seed: int = 42,
    faults: list[Fault] | None = None,
    progress: bool = True,
    scenario: str = "default",
    executing: Path | None = None,
    plant: planting.Planting | None = None,
) -> dict:
    """Write a delivery for ``days`` business dates from ``start`` into ``out``.

    ``executing``: a Kairos publish folder; CRM then executes, on each business date, the
    target lists published there for the date before (``kairos_sample.execution``).
    ``plant``: what to plant (None: the shipped truth, ``kairos_sample.planting``).
    Returns the manifest (also written to ``out/_ground_truth/manifest.json``), whose
    ``planted`` section is written from the same planting.
    """
    with planting.planted(plant):
        return _generate(out, start, days, subscribers, seed, faults, progress, scenario, executing)


def _generate(
    out: Path,
    start: dt.date,
    days: int,
    subscribers: int,
    seed: int,
    faults: list[Fault] | None,
    progress: bool,
    scenario: str,
    executing: Path | None,
) -> dict:
    if subscribers < 1 or days < 1:
        raise ValueError("subscribers and days must be at least 1")
    plan = scenarios.get(scenario)
    if subscribers < plan.min_subscribers:
        raise ValueError(f"scenario {scenario} needs at least {plan.min_subscribers:,} subscribers")
    faults = faults or []
    out = Path(out)
    truth_dir = out / "_ground_truth"
    truth_dir.mkdir(parents=True, exist_ok=True)
    bar = Progress(w.n_chunks(subscribers) * days, enabled=progress)
    manifest: dict = {
        "generator": "kairos",
        "seed": seed,
        "subscribers": subscribers,
        "start": str(start),
        "days": days,
        "scenario": plan.manifest(),
        "faults": [],
        "files": {},
        "executed_lists": {},
        "planted": {
            "task_execution": execution.planted(),
            "key_moments": {
                "quota_exceed_risk": "active line planted to use 1.2-1.8x its plan's data"
                " quota over the month (others stay under 0.8x)",
                "low_balance": "prepaid active line with balance under 10 yuan that day",
                "suspended_arrears": "line in status suspended_arrears that day",
                "old_device": "device_age_months reaches 24 (24 <= age < 25): the month a"
                " device becomes old",
                "birthday": "customer's birthday within the next 7 days (day 0-6)",
            },
            "dissatisfaction": {
                "explicit_share": 0.018,
                "hidden_share": 0.032,
                "explicit": "complains (4%/day) and rates resolutions 1-3",
                "hidden": "never complains; calls the hotline 12x as often,"
                " satisfaction 10 points lower",
            },
            "preferences": {
                "channel": "responses to outbound offers: 0.04 + 0.5 on the preferred channel"
                " + 0.12 inside the preferred window; GoTone ARPU >= 500 leans to"
                " outbound_call, Easyown ARPU < 50 to sms (70%)",
                "promotion_gift_timing": "campaign participation: 0.1 + 0.3 promotion"
                " form + 0.3 gift + 0.2 timing matching the customer's",
            },
            "short_boards": {
                "reminders": "GoTone with ARPU >= 500, and Easyown with ARPU < 50",
                "hotline": "M-Zone (other groups without a board)",
                "network": "customers in rural cities: "
                + ", ".join(c for c, _ in cat.CITIES[w.RURAL_CITY_FROM :]),
                "effect": "the board indicator is 12 points lower and weighs double in overall",
            },
            # docs/domain.md#kano: how each indicator moves overall satisfaction, per brand
            "kano": {b: dict(classes) for b, classes in planting.current().kano.items()},
            # the weak standard items behind the short boards (measurement.CAUSES)
            "service_standard": measurement.planted(),
            "care_activities": {
                "timeline": f"monthly: screening survey day 1-2 of a segment sample, members"
                f" = screened with score < {w.SCREEN_THRESHOLD}, 10% control,"
                f" run day {plan.timeline.care_start_day}-{plan.timeline.care_end_day},"
                f" follow-up survey day {plan.timeline.after_wave[0]}-"
                f"{plan.timeline.after_wave[1] - 1}",
                "regression_to_mean": "members are selected on a noisy low score, so their"
                " scores rise without any effect; only the control"
                " group shows by how much",
            },
        },
    }
    activity = _ActivityTruth()
    seen_months: set[tuple[int, int, int]] = set()
    try:
        with _gzip_text(truth_dir / "customers.csv.gz") as customers_truth:
            customers_truth.write(
                "customer_id|subscriber_id|segment|dissatisfaction|latent_satisfaction|"
                "pref_channel|pref_window|pref_promotion|pref_gift|pref_timing|short_board\n"
            )
            for offset in range(days):
                day = start + dt.timedelta(days=offset)
                _generate_day(
                    out,
                    day,
                    offset == 0,
                    seed,
                    subscribers,
                    faults,
                    manifest,
                    activity,
                    seen_months,
                    customers_truth,
                    bar,
                    plan,
                    executing,
                )
    finally:
        bar.close()
    manifest["care_activities"] = activity.summary()
    write_json(truth_dir / "manifest.json", manifest, sort_keys=False)
    return manifest


def _generate_day(
    out,
    day,
    first,
    seed,
    subscribers,
    faults,
    manifest,
    activity,
    seen_months,
    customers_truth,
    bar,
    scenario: Scenario,
    executing: Path | None = None,
) -> None:
    day_key = f"{day:%Y%m%d}"
    truth_dir = out / "_ground_truth"
    writers = {e.name: ExtractWriter(e, out, day) for e in contract.extracts()}
    malformed = {
        e.name
        for e in contract.extracts()
        if any(f.kind == "malformed" and f.applies(e) for f in faults)
    }
    dropped = {
        e.name
        for e in contract.extracts()
        if any(f.kind == "volume-drop" and f.applies(e) for f in faults)
    }
    ids = Ids(day)
    tasks = _tasks_to_execute(executing, day, manifest)
    opted_out = _opted_out_before(truth_dir, day)
    opt_outs: list[int] = []
    due = _effects_due(truth_dir, day)
    later: list[str] = []
    # the truth files too: their bytes depend on the content only, so reruns are identical
    with _gzip_text(truth_dir / f"key_moments_{day_key}.csv.gz") as moments_fh:
        moments_fh.write("subscriber_id|customer_id|moment\n")
        for chunk in range(w.n_chunks(subscribers)):
            st = w.build_static(seed, chunk, subscribers)
            months = _month_cache(seed, st, day, scenario)
            result = generate_chunk_day(
                seed, st, months, day, ids, scenario, tasks, opted_out, due.get(chunk)
            )
            opt_outs += result.opt_outs
            later += [
                f"{dt.date.fromordinal(when):%Y%m%d}|{chunk}|{i}|{event}|{rule}\n"
                for when, i, event, rule in result.later
            ]
            rows = 0
            for name, lines in result.lines.items():
                if name in dropped:  # a consistent delivery of half the rows
                    lines = lines[::2]
                writers[name].write_lines(lines, name in malformed)
                rows += len(lines)
            if result.key_moments:
                moments_fh.write("\n".join(result.key_moments) + "\n")
            for ym, mo in months.items():
                if (*ym, chunk) not in seen_months:
                    seen_months.add((*ym, chunk))
                    activity.add(st, mo)
            if first:
                _write_customer_truth(customers_truth, st)
            bar.step(rows, day_key)
    # today's opt-outs on executed tasks: CRM marks those customers from tomorrow on
    with _gzip_text(truth_dir / f"opt_outs_{day_key}.csv.gz") as fh:
        fh.write("customer_id\n" + "".join(f"{c}\n" for c in sorted(set(opt_outs))))
    # today's contacts' goal events that come on a later day (within the goal window)
    with _gzip_text(truth_dir / f"effects_due_{day_key}.csv.gz") as fh:
        fh.write("due_date|chunk|position|event|rule\n" + "".join(later))
    manifest["files"][day_key] = {}
    for e in contract.extracts():
        info = writers[e.name].close()
        _finish_delivery(e, out, day, info, faults, manifest)
        manifest["files"][day_key][e.key] = info
        for item in writers[e.name].injected:
            manifest["faults"].append(
                {"date": str(day), "extract": e.key, "fault": "malformed", **item}
            )


def _opted_out_before(truth_dir: Path, day: dt.date) -> np.ndarray:
    """The customers who opted out on a task executed before ``day`` (sorted ids), from
    the ground truth of the days generated before it: what CRM knows on ``day``."""
    found: list[int] = []
    for path in sorted(truth_dir.glob("opt_outs_[0-9]*.csv.gz")):
        stem = path.name.removeprefix("opt_outs_").removesuffix(".csv.gz")
        try:
            when = dt.datetime.strptime(stem, "%Y%m%d").date()
        except ValueError:
            continue
        if when < day:
            with gzip.open(path, "rt", encoding="utf-8") as fh:
                next(fh, None)
                found.extend(int(line) for line in fh if line.strip())
    return np.unique(np.array(found, dtype=np.int64))


def _effects_due(truth_dir: Path, day: dt.date) -> dict[int, list[tuple[int, str, str]]]:
    """Goal events of earlier days' contacts that come on ``day``, per chunk: (position,
    event, rule), from the ground truth of the goal windows' days before it."""
    longest = max(planting.GOAL_WINDOW.values())
    due: dict[int, list[tuple[int, str, str]]] = {}
    for back in range(longest, 0, -1):
        path = truth_dir / f"effects_due_{day - dt.timedelta(days=back):%Y%m%d}.csv.gz"
        try:
            with gzip.open(path, "rt", encoding="utf-8") as fh:
                next(fh, None)
                for line in fh:
                    when, chunk, i, event, rule = line.rstrip("\n").split("|")
                    if when == f"{day:%Y%m%d}":
                        due.setdefault(int(chunk), []).append((int(i), event, rule))
        except FileNotFoundError:
            continue  # no contacts that day, or a delivery generated before the spread
    return due


def _tasks_to_execute(executing: Path | None, day: dt.date, manifest: dict):
    """The tasks CRM executes on ``day``: those published for the day before."""
    tasks = execution.published_tasks(executing, day - dt.timedelta(days=1))
    if tasks is not None:
        manifest["executed_lists"][f"{day:%Y%m%d}"] = {
            "list_date": str(tasks.list_date),
            "tasks": tasks.size,
        }
    return tasks


def _finish_delivery(
    e: Extract, out: Path, day: dt.date, info: dict, faults: list[Fault], manifest: dict
) -> None:
    """Write the control file, applying truncated / wrong-count / late / missing faults."""
    data_path = e.data_path(out, day)
    record = ControlRecord(data_path.name, day, info["rows"], info["bytes"], info["md5"])
    ctl_path = e.control_path(out, day)
    for f in faults:
        if not f.applies(e):
            continue
        if f.kind == "truncated":
            with data_path.open("r+b") as fh:
                fh.truncate(int(info["bytes"] * 0.6))
            manifest["faults"].append({"date": str(day), "extract": e.key, "fault": f.kind})
        elif f.kind == "wrong-count":
            record = ControlRecord(
                record.file_name, day, record.row_count + 1, record.byte_size, record.md5
            )
            manifest["faults"].append({"date": str(day), "extract": e.key, "fault": f.kind})
        elif f.kind in ("volume-drop", "missing"):
            manifest["faults"].append({"date": str(day), "extract": e.key, "fault": f.kind})
            if f.kind == "missing":  # the data file lies there, its control file never comes
                return
        elif f.kind == "late":
            late_dir = out / "_late" / e.system / f"{day:%Y%m%d}"
            late_dir.mkdir(parents=True, exist_ok=True)
            ctl_path = late_dir / ctl_path.name
            manifest["faults"].append(
                {
                    "date": str(day),
                    "extract": e.key,
                    "fault": f.kind,
                    "held_control_file": str(ctl_path),
                }
            )
    write_control(ctl_path, record)


def _write_customer_truth(fh, st: w.Static) -> None:
    dissat = ["none", "explicit", "hidden"]
    rows = []
    for i in np.flatnonzero(st.is_primary).tolist():
        seg = st.segment[i]
        board = st.short_board[i]
        rows.append(
            f"{st.cust_id[i]}|{st.sub_id[i]}|"
            f"{cat.CARE_ACTIVITIES[seg].segment if seg >= 0 else ''}|{dissat[st.dissat[i]]}|"
            f"{st.latent_sat[i]:.2f}|{cat.CONTACT_CHANNELS[st.pref_channel[i]]}|"
            f"{cat.WINDOWS[st.pref_window[i]][0]}|{cat.PROMOTION_FORMS[st.pref_promo[i]]}|"
            f"{cat.GIFT_TYPES[st.pref_gift[i]]}|{cat.TIMING_TYPES[st.pref_timing[i]]}|"
            f"{cat.INDICATORS[board] if board >= 0 else ''}"
        )
    fh.write("\n".join(rows) + "\n")


def release_late(out: Path) -> list[Path]:
    """Deliver the control files that ``late`` faults held back; returns their new paths."""
    moved = []
    late_root = Path(out) / "_late"
    if not late_root.exists():
        return moved
    for ctl in sorted(late_root.rglob("*" + contract.CONTROL_SUFFIX)):
        rel = ctl.relative_to(late_root)
        target = Path(out) / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(ctl, target)
        moved.append(target)
    return moved
