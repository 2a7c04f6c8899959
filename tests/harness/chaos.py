"""Chaos: SIGKILL ingest, build, snapshot and publish at random points.

Each case starts one step as its own process (``kairos ingest|build|snapshot|publish``),
kills it -- process group and all, no clean-up handler runs -- after a random share of
the step's usual duration, then checks the invariants, re-runs the step to the end,
which must succeed, and checks them again:

* **ledger = tables**: for every extract and date, the raw rows and the quarantined rows
  are exactly what the latest good ledger row says;
* **no partial date visible**: a sealed system delivery has a good latest load of every
  extract; the build plan offers no unsealed date;
* **lists = manifests**: every published date's files match its manifest's SHA-256, and
  ``current`` points at a published date;
* the warehouse and the snapshot open (no torn file), and the re-run succeeds, leaving no
  working copy or partial snapshot of the killed run behind.

Ingest cases re-deliver the date with another seed first, so that the killed load is a
real replacement.

**Pairs** (``--pairs``) run two steps of the concurrency matrix (docs/operations.md) at
once on the one data root and SIGKILL one of them, chosen at random, at a random moment.
The survivor must end as the matrix says: it waited for the lock the victim held and
finished, or it refused with a one-line reason (exit 2, no traceback). Then the
invariants are checked, the victim is re-run to its end, and they are checked again.

``python -m tests.harness.chaos --cases 100 --pairs 100`` (``make chaos``) prints the tally; the
suite runs a sample of each.
"""

from __future__ import annotations

import argparse
import collections
import datetime as dt
import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb

from kairos import contract, pipeline
from kairos.config import Settings
from kairos_sample import generate
from tests.support import snapshot_differences

FIRST = dt.date(2026, 11, 21)
DAYS = 1
SUBSCRIBERS = 300
GOOD = ("loaded", "replaced", "unchanged")


def _env(home: Path) -> dict:
    env = dict(os.environ, KAIROS_HOME=str(home), KAIROS_PSEUDONYM_KEY="chaos-key-" + "0" * 32)
    env.pop("KAIROS_WAREHOUSE", None)
    env.pop("KAIROS_LANDING", None)
    return env


def kairos(home: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "kairos.cli", *args],
        env=_env(home),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # the kill takes the whole group
    )


def run(home: Path, *args: str) -> float:
    """Run a step to its end; return its duration (raise if it fails)."""
    t0 = time.monotonic()
    proc = kairos(home, *args)
    _, err = proc.communicate(timeout=900)
    if proc.returncode != 0:
        raise AssertionError(f"kairos {' '.join(args)} failed after a kill:\n{err[-3000:]}")
    return time.monotonic() - t0


def kill_during(home: Path, delay: float, *args: str) -> bool:
    """Start a step and SIGKILL it after ``delay`` seconds; True if it was still running."""
    proc = kairos(home, *args)
    try:
        proc.wait(timeout=delay)
        return False
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        return True


# --- invariants ---------------------------------------------------------------------------


def check_warehouse(cfg: Settings) -> None:
    con = duckdb.connect(str(cfg.warehouse), read_only=True)
    try:
        latest = con.execute(
            """
            select system, extract, business_date,
                arg_max(rows_loaded, finished_at), arg_max(rows_quarantined, finished_at)
            from audit.load_ledger where status in ? group by all
            """,
            [list(GOOD)],
        ).fetchall()
        for system, name, day, loaded, quarantined in latest:
            e = contract.get(f"{system}.{name}")
            n = con.execute(
                f"select count(*) from {e.raw_table} where business_date = ?", [day]
            ).fetchone()[0]
            q = con.execute(
                "select count(*) from audit.quarantine where system = ? and extract = ?"
                " and business_date = ?",
                [system, name, day],
            ).fetchone()[0]
            assert (n, q) == (loaded, quarantined), (
                f"{e.key} {day}: tables hold {n} + {q}, the ledger says {loaded} + {quarantined}"
            )
        for system, day in con.execute(
            "select system, business_date from audit.delivery_seal"
        ).fetchall():
            statuses = dict(
                con.execute(
                    "select extract, arg_max(status, finished_at) from audit.load_ledger"
                    " where system = ? and business_date = ? group by all",
                    [system, day],
                ).fetchall()
            )
            for e in contract.for_system(system):
                assert statuses.get(e.name) in GOOD, f"{system} {day} sealed without {e.name}"
    finally:
        con.close()
    plan = pipeline.plan_build(cfg)
    sealed = _sealed(cfg)
    assert all(all((s, d) in sealed for s in contract.systems()) for d in plan.dates), plan


def _sealed(cfg: Settings) -> set:
    con = duckdb.connect(str(cfg.warehouse), read_only=True)
    try:
        return set(con.execute("select system, business_date from audit.delivery_seal").fetchall())
    finally:
        con.close()


def check_lists(cfg: Settings) -> None:
    root = cfg.publish_dir
    if not (root / "lists").exists():
        return
    for link in (root / "lists").iterdir():
        version = link.resolve()
        manifest = json.loads((version / "manifest.json").read_text(encoding="utf-8"))
        for item in manifest["lists"]:
            for entry in item.get("files", {}).values():
                data = (version / entry["name"]).read_bytes()
                assert hashlib.sha256(data).hexdigest() == entry["sha256"], entry["name"]
    if (root / "current").is_symlink():
        assert (root / "current").resolve().parent == (root / "versions").resolve()


def check_snapshot(cfg: Settings) -> None:
    if cfg.snapshot.exists():
        con = duckdb.connect(str(cfg.snapshot), read_only=True)
        con.execute("select count(*) from audit.load_ledger").fetchone()
        con.close()


def check_all(cfg: Settings) -> None:
    check_warehouse(cfg)
    check_lists(cfg)
    check_snapshot(cfg)


# --- the cases ----------------------------------------------------------------------------


def prepare(home: Path) -> tuple[Settings, dict[str, float]]:
    """A delivery of DAYS dates, loaded, built and published; returns the usual duration
    of each step (measured here, to aim the kills)."""
    cfg = Settings.from_env(_env(home))
    generate(cfg.landing, FIRST, DAYS, SUBSCRIBERS, 1, progress=False)
    last = FIRST + dt.timedelta(days=DAYS - 1)
    run(home, "ingest", "--from", str(FIRST), "--to", str(last))
    # the kills aim at what a case runs: one date's forced reload, not the first load
    durations = {"ingest": run(home, "ingest", "--date", str(last), "--force")}
    durations["build"] = run(home, "build") / DAYS
    durations["snapshot"] = run(home, "snapshot")
    durations["publish"] = run(home, "publish", "--date", str(last), "--run-id", "p0")
    check_all(cfg)
    return cfg, durations


def chaos_case(home: Path, cfg: Settings, step: str, rng: random.Random, k: int, usual) -> bool:
    day = FIRST + dt.timedelta(days=rng.randrange(DAYS))
    if step == "ingest":
        # the source re-sends the date, changed: the killed load replaces rows
        generate(cfg.landing, day, 1, SUBSCRIBERS + rng.randint(-20, 20), 100 + k, progress=False)
        args = ("ingest", "--date", str(day), "--force")  # force: never held, all reloaded
    elif step == "build":
        args = ("build", "--date", str(day))
    elif step == "snapshot":
        args = ("snapshot",)
    else:
        args = ("publish", "--date", str(day), "--run-id", f"chaos-{k}")
        try:
            pipeline.check_snapshot(cfg, day)
        except pipeline.PlanRefused:  # re-delivered since its build: build it first
            run(home, "build", "--date", str(day))
    killed = kill_during(home, rng.uniform(0.05, 1.1) * usual[step], *args)
    check_all(cfg)
    run(home, *args)
    check_all(cfg)
    # the re-run leaves no copy of personal data behind it, the killed run's included
    if step == "ingest":
        assert not list(cfg.work_dir.glob("*.utf8.dat")), "a work copy outlived its load"
    if step == "snapshot":
        # the re-run sweeps a killed copy, link or generation away
        assert not list(cfg.snapshot.parent.rglob(".*.part")), "a killed snapshot's copy stayed"
    if step in ("snapshot", "build"):
        # whether the killed run had half built a date or half brought a snapshot
        # generation up to date, the re-run's snapshot is the warehouse again
        assert snapshot_differences(cfg) == []
    return killed


# --- concurrent pairs --------------------------------------------------------------------

# The pairs of docs/operations.md's matrix that two Kairos commands can form on one root.
PAIRS = (
    ("ingest", "ingest"),
    ("ingest", "build"),
    ("build", "build"),
    ("build", "snapshot"),
    ("snapshot", "snapshot"),
    ("snapshot", "publish"),
    ("build", "publish"),
    ("publish", "publish"),
    ("ingest", "publish"),
)


def _args(step: str, day: dt.date, k: int, who: str) -> tuple[str, ...]:
    if step == "ingest":
        return ("ingest", "--date", str(day), "--force")
    if step == "build":
        return ("build", "--date", str(day))
    if step == "snapshot":
        return ("snapshot",)
    return ("publish", "--date", str(day), "--run-id", f"pair-{k}-{who}")


def _survived(step: str, proc: subprocess.Popen, err: str) -> str:
    """The survivor either finished or refused in one clear line -- never a crash."""
    assert "Traceback" not in err, f"{step} crashed beside a killed process:\n{err[-3000:]}"
    if proc.returncode == 0:
        return "finished"
    assert proc.returncode == 2, f"{step} failed (exit {proc.returncode}):\n{err[-3000:]}"
    return "refused"


def pair_case(home: Path, cfg: Settings, pair, rng: random.Random, k: int, usual) -> tuple:
    day = FIRST + dt.timedelta(days=rng.randrange(DAYS))
    if "ingest" in pair:
        generate(cfg.landing, day, 1, SUBSCRIBERS + rng.randint(-20, 20), 500 + k, progress=False)
    if "publish" in pair:
        try:
            pipeline.check_snapshot(cfg, day)
        except pipeline.PlanRefused:  # re-delivered since its build: build it first
            run(home, "build", "--date", str(day))
    args = [_args(step, day, k, who) for step, who in zip(pair, "ab", strict=True)]
    victim = rng.randrange(2)
    first = kairos(home, *args[0])
    time.sleep(rng.uniform(0, 0.5) * usual[pair[0]])  # the second starts a little later
    second = kairos(home, *args[1])
    procs = (first, second)
    delay = rng.uniform(0.05, 1.1) * usual[pair[victim]]
    try:
        procs[victim].wait(timeout=delay)
        killed = False
    except subprocess.TimeoutExpired:
        os.killpg(procs[victim].pid, signal.SIGKILL)
        procs[victim].wait()
        killed = True
    procs[victim].communicate()
    _, err = procs[1 - victim].communicate(timeout=900)
    outcome = _survived(pair[1 - victim], procs[1 - victim], err)
    check_all(cfg)
    if pair[victim] == "publish":
        try:
            pipeline.check_snapshot(cfg, day)
        except pipeline.PlanRefused:  # the survivor re-delivered the date: build it first
            run(home, "build", "--date", str(day))
    run(home, *args[victim])
    check_all(cfg)
    if pair[victim] == "ingest":
        assert not list(cfg.work_dir.glob("*.utf8.dat")), "a work copy outlived its load"
    if "snapshot" in pair:
        assert not list(cfg.snapshot.parent.rglob(".*.part")), "a killed snapshot's copy stayed"
    return killed, outcome


def chaos(
    cases: int,
    seed: int,
    home: Path,
    mix: dict[str, int] | None = None,
    pairs: int | tuple = 0,
):
    """Run ``cases`` single cases and ``pairs`` concurrent pairs (a number, drawn from
    PAIRS, or the pairs themselves); return (tally, usual durations)."""
    cfg, usual = prepare(home)
    rng = random.Random(seed)
    weights = mix or {"ingest": 5, "snapshot": 2, "publish": 2, "build": 1}
    steps = [s for s, w in weights.items() for _ in range(w)]
    tally: collections.Counter = collections.Counter()
    for k in range(cases):
        step = steps[k % len(steps)] if mix else rng.choice(steps)
        killed = chaos_case(home, cfg, step, rng, k, usual)
        tally[(step, "killed" if killed else "finished before the kill")] += 1
    if isinstance(pairs, int):  # every pair once before any is drawn at random
        pairs = [PAIRS[k] if k < len(PAIRS) else rng.choice(PAIRS) for k in range(pairs)]
    for k, pair in enumerate(pairs):
        killed, outcome = pair_case(home, cfg, pair, rng, cases + k, usual)
        what = ("one killed" if killed else "both ended") + f", the other {outcome}"
        tally[(" + ".join(pair), what)] += 1
    return tally, usual


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--cases", type=int, default=100, help="single steps killed")
    p.add_argument("--pairs", type=int, default=100, help="concurrent pairs, one killed")
    p.add_argument("--seed", type=int, default=int(time.time()) % 100_000)
    args = p.parse_args(argv)
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="kairos-chaos-") as tmp:
        try:
            tally, usual = chaos(args.cases, args.seed, Path(tmp), pairs=args.pairs)
        except AssertionError as exc:
            print(f"CHAOS FAILED (seed {args.seed}): {exc}", file=sys.stderr)
            return 1
    print(
        f"{args.cases} cases and {args.pairs} pairs, seed {args.seed},"
        f" {time.perf_counter() - t0:.0f}s:"
        " every invariant held after every kill and every re-run"
    )
    print("usual durations: " + ", ".join(f"{k} {v:.1f}s" for k, v in usual.items()))
    for (step, what), n in sorted(tally.items()):
        print(f"  {step:<20} {what:<34} {n:>4}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
