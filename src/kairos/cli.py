"""``kairos``: the command line of the Kairos pipeline.

kairos generate --date 2026-11-21 --subscribers 10000 --seed 42 --out var/landing
kairos ingest --date 2026-11-21            # or --from D1 --to D2, --system boss
kairos ledger --date 2026-11-21
kairos quarantine --date 2026-11-21
kairos contract-doc [--check]
kairos config-doc [--check]
kairos config                               # the settings in force; is the project found
kairos demo                                 # generate a day, run the ingest DAGs
kairos release-late --out var/landing
kairos build [--date D]                     # dbt: seeds, staging, intermediate, marts
kairos evaluate                             # marts against the generator's ground truth
kairos snapshot                             # the analysts' read-only copy
kairos publish --date 2026-11-21            # gate, build, gate, publish the target lists
kairos portal-user --user ann --team care-team && kairos portal --port 8080
"""

from __future__ import annotations

import argparse
import datetime as dt
import getpass
import logging
import os
import shlex
import subprocess
import sys
from dataclasses import fields
from pathlib import Path

import duckdb

from kairos import airflow_local, contract, dates, locks, pipeline, warehouse
from kairos.config import SECRET_VARIABLES, ConfigError, Settings, render_variables
from kairos.ingest import ingest_dates
from kairos.pipeline import daily

try:  # the sample distribution (kairos-sample, sample/): `make setup` installs it beside
    # kairos; a production install of kairos alone has no sample commands
    import kairos_sample
    from kairos import demo
    from kairos_sample import evaluation
except ModuleNotFoundError as exc:
    if exc.name != "kairos_sample":
        raise
    kairos_sample = demo = evaluation = None

SAMPLE_COMMANDS = {"demo", "next-day", "generate", "release-late", "evaluate"}
DEFAULT_SUBSCRIBERS = kairos_sample.DEFAULT_SUBSCRIBERS if kairos_sample else None
DEFAULT_SEED = kairos_sample.DEFAULT_SEED if kairos_sample else None


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


SIZE = f"subscribers (default: {DEFAULT_SUBSCRIBERS:,})" if kairos_sample else "subscribers"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="kairos", description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="command", required=True)

    g = sub.add_parser("generate", help="write a sample delivery of BOSS, CRM and BI extracts")
    g.add_argument("--date", type=_date, required=True, help="first business date")
    g.add_argument("--days", type=_positive, default=1, help="number of business dates")
    g.add_argument("--subscribers", type=_positive, default=DEFAULT_SUBSCRIBERS, help=SIZE)
    g.add_argument("--seed", type=int, default=DEFAULT_SEED, help="default: %(default)s")
    g.add_argument("--out", type=Path, default=None, help="landing area (default $KAIROS_LANDING)")
    g.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="KIND[:SYSTEM.EXTRACT]",
        help="inject a fault: malformed (bad rows of every kind), truncated (file cut after"
        " its control file was written), wrong-count (control count off by one), late"
        " (control file held back in _late/; see release-late), volume-drop (half the rows,"
        " with a consistent control file), missing (the control file never comes). Without"
        " an extract it"
        " applies to all. A duplicate delivery is the same command run again: the output is"
        " byte-identical.",
    )
    g.add_argument(
        "--plant",
        type=Path,
        default=None,
        metavar="FILE.json",
        help="plant other truth than the shipped one: KANO classes per brand, the rules' goal"
        " effects and harms (kairos_sample.planting); the ground-truth manifest says what"
        " was planted and `kairos evaluate` scores the marts against it",
    )
    g.add_argument(
        "--executing",
        nargs="?",
        const="",
        default=None,
        metavar="PUBLISH_DIR",
        help="CRM executes, on each business date, the target lists published for the date"
        " before (default folder: $KAIROS_HOME/publish): contacts with task_ref and outcome",
    )
    g.add_argument(
        "--scenario",
        default="default",
        choices=["default", "operator-2010"],
        help="operator-2010: plant the operator's 2010 care-activity table at"
        " 1:100 (needs --subscribers >= 300000 and days 1-3 of a month)",
    )
    g.add_argument("--quiet", action="store_true", help="no progress on stderr")

    r = sub.add_parser("release-late", help="deliver the control files a 'late' fault held back")
    r.add_argument("--out", type=Path, default=None)

    i = sub.add_parser("ingest", help="load delivered extracts into the warehouse")
    when = i.add_mutually_exclusive_group(required=True)
    when.add_argument("--date", type=_date)
    when.add_argument("--from", dest="first", type=_date)
    i.add_argument("--to", dest="last", type=_date, help="last date, with --from")
    i.add_argument("--system", action="append", choices=contract.systems())
    i.add_argument(
        "--extract",
        action="append",
        metavar="SYSTEM.EXTRACT",
        choices=[e.key for e in contract.extracts()],
    )
    i.add_argument(
        "--force",
        action="store_true",
        help="reload even an unchanged delivery, and load one that would be held"
        " (far smaller than the last good one)",
    )

    le = sub.add_parser("ledger", help="show the load ledger")
    le.add_argument("--date", type=_date)

    q = sub.add_parser("quarantine", help="show quarantined rows")
    q.add_argument("--date", type=_date)
    q.add_argument("--limit", type=int, default=50)

    d = sub.add_parser("demo", help="generate a day and run the ingest DAGs through Airflow")
    d.add_argument("--date", type=_date, default=None, help="default: yesterday (Beijing)")
    d.add_argument("--subscribers", type=_positive, default=DEFAULT_SUBSCRIBERS, help=SIZE)
    d.add_argument("--seed", type=int, default=DEFAULT_SEED, help="default: %(default)s")

    nd = sub.add_parser(
        "next-day",
        help="deliver the next business date (a sample of the last delivery's size and"
        " seed) and trigger its ingest DAGs in the running Kairos Airflow",
    )
    nd.add_argument(
        "--date", type=_date, default=None, help="default: the day after the last delivered"
    )
    nd.add_argument("--subscribers", type=_positive, default=None, help="default: the last's")
    nd.add_argument("--seed", type=int, default=None, help="default: the last delivery's")
    nd.add_argument("--deliver-only", action="store_true", help="write the files; trigger nothing")

    sub.add_parser("unpause", help="unpause Kairos's DAGs in the running Kairos Airflow")

    b = sub.add_parser(
        "build",
        help="build the warehouse with dbt (seeds, staging, intermediate, marts, docs,"
        " analysts' snapshot), date by date",
    )
    b.add_argument(
        "--date",
        type=_date,
        default=None,
        help="business date (default: every loaded date after the last built one); an"
        " older date is rebuilt with every later built date",
    )
    b.add_argument(
        "--no-rebuild-later",
        action="store_true",
        help="refuse a date older than the last built one instead of rebuilding the later ones",
    )
    b.add_argument(
        "--full-refresh",
        action="store_true",
        help="rebuild every loaded date from scratch in one dbt run",
    )

    sub.add_parser("docs", help="generate the dbt docs site")

    sq = sub.add_parser(
        "sql",
        help="run a query on the analysts' snapshot (read-only; --live: the warehouse itself)",
    )
    sq.add_argument("query")
    sq.add_argument(
        "--live",
        action="store_true",
        help="read the live warehouse (read-only, but it keeps writers waiting while open)",
    )

    ev = sub.add_parser(
        "evaluate",
        help="score warnings, preferences and the dissatisfied pool against the generator's"
        " ground truth",
    )
    ev.add_argument("--date", type=_date, default=None, help="pool date (default: latest)")

    sub.add_parser("snapshot", help="publish the analysts' read-only snapshot of the warehouse")

    pu = sub.add_parser(
        "publish", help="gate the warehouse, build, gate and publish the day's target lists"
    )
    pu.add_argument(
        "--date",
        type=_date,
        default=None,
        help="business date (default: every date built after the last one published)",
    )
    pu.add_argument("--run-id", default=None, help="run id (default: manual-<timestamp>)")

    po = sub.add_parser("portal", help="serve the download portal for campaign teams")
    po.add_argument("--host", default="127.0.0.1")
    po.add_argument("--port", type=int, default=8080)

    pw = sub.add_parser(
        "portal-user",
        help="create a portal user or change its password (either ends its live sessions),"
        " or disable, enable or remove it",
    )
    pw.add_argument("--user", required=True)
    pw.add_argument("--team", help="team, e.g. care-team (an owner_team of the rules)")
    pw.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    action = pw.add_mutually_exclusive_group()
    action.add_argument("--disable", action="store_true", help="refuse its sign-ins and sessions")
    action.add_argument("--enable", action="store_true", help="undo --disable")
    action.add_argument("--remove", action="store_true", help="delete the user")

    sc = sub.add_parser(
        "scheduler",
        help="run Airflow for Kairos: scheduler, DAG processor, triggerer and API server"
        " (LocalExecutor) with config/airflow.cfg: the API server first, the rest once it"
        " answers; Ctrl-C stops them all; refused while another one or a demo runs;"
        " unpauses Kairos's DAGs once they are parsed",
    )
    sc.add_argument("--paused", action="store_true", help="leave Kairos's DAGs as they are")
    af = sub.add_parser(
        "airflow",
        help="the airflow CLI with Kairos's configuration, e.g. `kairos airflow dags list`",
    )
    af.add_argument("args", nargs=argparse.REMAINDER)
    bf = sub.add_parser(
        "backfill",
        help="Airflow backfills of the ingest DAGs that load exactly the business dates"
        " FROM..TO (builds and publishing follow, date by date)",
    )
    bf.add_argument("--from", dest="first", type=_date, required=True)
    bf.add_argument("--to", dest="last", type=_date, required=True)
    bf.add_argument("--system", action="append", choices=contract.systems())
    bf.add_argument("--dry-run", action="store_true", help="show the runs, create none")
    sub.add_parser(
        "airflow-env",
        help="print the exports that point the plain `airflow` CLI at Kairos:"
        ' eval "$(kairos airflow-env)"',
    )

    cd = sub.add_parser(
        "config-doc", help="write docs/configuration.md from kairos.config.VARIABLES"
    )
    cd.add_argument("--check", action="store_true", help="only check that it is up to date")
    c = sub.add_parser("contract-doc", help="write docs/extract-contract.md from the contract")
    c.add_argument("--check", action="store_true", help="fail if the page is out of date")
    sub.add_parser(
        "config",
        help="print the configuration in force (secrets: only whether set) and check that"
        " the project's dbt project, seeds, suites and DAGs are where it says",
    )
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if sys.stderr.isatty():
        _show_progress()
    try:
        cfg = Settings.from_env()  # read once, here; passed to everything below
    except ConfigError as exc:
        print(f"kairos: {exc}", file=sys.stderr)
        return 2
    handler = COMMANDS[args.command]
    if args.command in SAMPLE_COMMANDS and kairos_sample is None:
        print(
            f"kairos {args.command}: needs the sample distribution, kairos-sample"
            " (`pip install ./sample`; `make setup` installs it)",
            file=sys.stderr,
        )
        return 2
    try:
        return handler(args, cfg)
    except ConfigError as exc:
        print(f"kairos {args.command}: {exc}", file=sys.stderr)
        return 2


def _show_progress() -> None:
    """At a terminal, every step says when it starts and what it took (a build is a
    minute or more of dbt): Kairos's INFO lines, with the time. Piped or in CI, only
    warnings and the command's own output."""
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S"))
    logger = logging.getLogger("kairos")
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    logger.propagate = False


def _generate(args, cfg: Settings) -> int:
    try:
        faults = [kairos_sample.Fault.parse(f) for f in args.fault]
    except (ValueError, KeyError) as exc:
        print(f"kairos generate: {exc}", file=sys.stderr)
        return 2
    out = args.out or cfg.landing
    try:
        plant = kairos_sample.Planting.from_file(args.plant) if args.plant else None
    except ValueError as exc:
        print(f"kairos generate: {exc}", file=sys.stderr)
        return 2
    try:
        manifest = kairos_sample.generate(
            out,
            args.date,
            args.days,
            args.subscribers,
            args.seed,
            faults,
            progress=not args.quiet,
            scenario=args.scenario,
            executing=None
            if args.executing is None
            else (Path(args.executing) if args.executing else cfg.publish_dir),
            plant=plant,
        )
    except ValueError as exc:
        print(f"kairos generate: {exc}", file=sys.stderr)
        return 2
    rows = sum(f["rows"] for day in manifest["files"].values() for f in day.values())
    files = sum(len(day) for day in manifest["files"].values())
    print(
        f"wrote {files} extract files, {rows:,} rows, to {out}"
        f" (ground truth in {out / '_ground_truth'})"
    )
    return 0


def _release_late(args, cfg: Settings) -> int:
    for path in kairos_sample.release_late(args.out or cfg.landing):
        print(f"delivered {path}")
    return 0


def _ingest(args, cfg: Settings) -> int:
    if args.first and not args.last:
        print("kairos ingest: --from needs --to", file=sys.stderr)
        return 2
    first = args.date or args.first
    last = args.date or args.last
    if last < first:
        print("kairos ingest: --to is before --from", file=sys.stderr)
        return 2
    logging.getLogger("kairos").setLevel(logging.INFO)
    results, failures = ingest_dates(cfg, first, last, args.system, args.extract, args.force)
    for r in results:
        print(r.summary())
    for f in failures:
        print(f"FAILED {f.extract} {f.business_date}: {f.error}", file=sys.stderr)
    return 1 if failures else 0


def _read_only(cfg: Settings):
    if not cfg.warehouse.exists():
        print(f"no warehouse at {cfg.warehouse}", file=sys.stderr)
        return None
    return duckdb.connect(str(cfg.warehouse), read_only=True)


def _print(con, sql: str, params: list) -> None:
    rel = con.execute(sql, params)
    names = [d[0] for d in rel.description]
    rows = rel.fetchall()
    print("|".join(names))
    for row in rows:
        print("|".join("" if v is None else str(v) for v in row))


def _ledger(args, cfg: Settings) -> int:
    con = _read_only(cfg)
    if con is None:
        return 1
    where, params = ("where business_date = ?", [args.date]) if args.date else ("", [])
    _print(
        con,
        "select business_date, system, extract, status, control_rows, rows_loaded,"
        " rows_quarantined, file_name, finished_at, message from audit.load_ledger"
        f" {where} order by finished_at",
        params,
    )
    return 0


def _quarantine(args, cfg: Settings) -> int:
    con = _read_only(cfg)
    if con is None:
        return 1
    where, params = ("where business_date = ?", [args.date]) if args.date else ("", [])
    _print(
        con,
        "select business_date, system, extract, file_name, line_number, reason, raw_line"
        f" from audit.quarantine {where} order by all limit ?",
        [*params, args.limit],
    )
    return 0


def _build(args, cfg: Settings) -> int:
    run_id = f"manual-{dt.datetime.now():%Y%m%dT%H%M%S}"
    if args.full_refresh:
        return _full_refresh(cfg, run_id)
    try:
        plan = pipeline.plan_build(cfg, args.date, not args.no_rebuild_later)
    except pipeline.PlanRefused as exc:
        print(f"kairos build: {exc}", file=sys.stderr)
        return 2
    print(plan.describe())
    if not plan.dates:
        return 0
    try:
        state = pipeline.build_dates(
            cfg, plan.dates, run_id, on_built=lambda day: print(f"built {day}", flush=True)
        )
    except warehouse.DbtBuildError as exc:
        print(f"kairos build: {exc}", file=sys.stderr)
        return 1
    print(f"snapshot {state['snapshot']}")
    return 0


def _full_refresh(cfg, run_id: str) -> int:
    try:
        dates = pipeline.full_refresh(cfg, run_id)
    except warehouse.DbtBuildError as exc:
        print(f"kairos build: {exc}", file=sys.stderr)
        return 1
    print(f"built {len(dates)} date(s) from scratch; snapshot {cfg.snapshot}")
    return 0


def _docs(args, cfg: Settings) -> int:
    target = warehouse.docs(cfg, force=True)  # asked for by name: always regenerated
    print(f"dbt docs site: {target / 'index.html'}")
    print("served to signed-in users by the portal at /docs (kairos portal), or:")
    print(f"  .venv/bin/python -m http.server --directory {target} 8081")
    return 0


def _sql(args, cfg: Settings) -> int:
    if args.live:
        con = _read_only(cfg)
    elif cfg.snapshot.exists():
        con = duckdb.connect(str(cfg.snapshot), read_only=True)
    else:
        print(f"no snapshot at {cfg.snapshot} (kairos build makes it; or --live)", file=sys.stderr)
        con = None
    if con is None:
        return 1
    try:
        _print(con, args.query, [])
    except duckdb.Error as exc:
        print(f"kairos sql: {exc}", file=sys.stderr)
        return 1
    return 0


def _evaluate(args, cfg: Settings) -> int:
    if not cfg.warehouse.exists():
        print(f"kairos evaluate: no warehouse at {cfg.warehouse}", file=sys.stderr)
        return 1
    try:
        print(evaluation.evaluate(cfg, args.date).render())
    except FileNotFoundError as exc:
        print(f"kairos evaluate: {exc}", file=sys.stderr)
        return 1
    return 0


def _snapshot(args, cfg: Settings) -> int:
    print(f"snapshot: {warehouse.refresh_snapshot(cfg)}")
    return 0


def _publish(args, cfg: Settings) -> int:
    run_id = args.run_id or f"manual-{dt.datetime.now():%Y%m%dT%H%M%S}"
    try:
        dates = pipeline.plan_publish(cfg, args.date)
    except pipeline.PlanRefused as exc:
        print(f"kairos publish: {exc}", file=sys.stderr)
        return 2
    if not dates:
        print("nothing to publish: every date built in the snapshot has an outcome")
    ok = True
    for day in dates:
        outcome = daily.run(cfg, day, run_id)
        if outcome.report is not None:
            print(outcome.report.read_text(encoding="utf-8"))
            print(f"summary: {outcome.report}")
        ok = ok and outcome.ok
    return 0 if ok else 1


def _portal(args, cfg: Settings) -> int:
    # lazy: the portal's web stack loads only for `kairos portal`
    import uvicorn

    # lazy: the portal's web stack loads only for `kairos portal`
    from kairos.portal import create_app, load_users

    if not load_users(cfg):
        print(
            "kairos portal: no users yet; add one with"
            " `kairos portal-user --user NAME --team care-team`",
            file=sys.stderr,
        )
    print(f"Kairos portal on http://{args.host}:{args.port}/ (lists of {cfg.home / 'publish'})")
    # the client's address is the socket's; a trusted proxy is the portal's own setting
    uvicorn.run(
        create_app(cfg),
        host=args.host,
        port=args.port,
        log_level="warning",
        proxy_headers=False,
        server_header=False,
    )
    return 0


def _portal_user(args, cfg: Settings) -> int:
    # lazy: the portal's web stack loads only for the portal's commands
    from kairos import portal

    try:
        if args.remove or args.disable or args.enable:
            if args.remove:
                portal.remove_user(cfg, args.user)
            else:
                portal.set_disabled(cfg, args.user, args.disable)
            done = "removed" if args.remove else ("disabled" if args.disable else "enabled")
            print(f"user {args.user} {done}")
            return 0
        if not args.team:
            raise ValueError("--team is needed to create a user or change its password")
        if args.password_stdin:
            password = sys.stdin.readline().rstrip("\n")
        else:
            password = getpass.getpass(f"password for {args.user}: ")
        portal.add_user(cfg, args.user, args.team, password)
    except ValueError as exc:
        print(f"kairos portal-user: {exc}", file=sys.stderr)
        return 1
    print(f"user {args.user} ({args.team}) saved")
    return 0


def _generated_page(doc: Path, text: str, command: str, check: bool) -> int:
    """Write a page generated from code, or (``check``) say whether it is up to date."""
    if check:
        current = doc.read_text(encoding="utf-8") if doc.exists() else ""
        if current != text:
            print(f"{doc} is out of date: run `kairos {command}`", file=sys.stderr)
            return 1
        return 0
    doc.parent.mkdir(parents=True, exist_ok=True)
    doc.write_text(text, encoding="utf-8")
    print(f"wrote {doc}")
    return 0


def _contract_doc(args, cfg: Settings) -> int:
    doc = cfg.project_dir / "docs" / "extract-contract.md"
    return _generated_page(doc, contract.render_markdown() + "\n", "contract-doc", args.check)


def _config_doc(args, cfg: Settings) -> int:
    doc = cfg.project_dir / "docs" / "configuration.md"
    return _generated_page(doc, render_variables(), "config-doc", args.check)


PROJECT_PARTS = ("dbt_project.yml", "dbt_project", "seeds", "expectations", "dags")


def _config(args, cfg: Settings) -> int:
    for f in fields(cfg):
        if f.name == "secrets":
            continue
        print(f"{f.name:<30} {getattr(cfg, f.name)}")
    for name in SECRET_VARIABLES:
        where = "set in the environment" if name in cfg.secrets else "key file"
        print(f"{name:<30} {where}")
    missing = [part for part in PROJECT_PARTS if not (cfg.project_dir / part).exists()]
    if missing:
        print(f"kairos config: {cfg.project_dir} lacks {', '.join(missing)}", file=sys.stderr)
        return 1
    print(f"project ok: {', '.join(PROJECT_PARTS)} in {cfg.project_dir}")
    return 0


def _scheduler(args, cfg: Settings) -> int:
    print(f"Kairos Airflow: config {cfg.airflow_config}")
    print(
        f"  user admin; password in {cfg.airflow_home}/simple_auth_manager_passwords.json.generated"
    )
    try:
        return airflow_local.serve(
            cfg, say=lambda text: print(text, flush=True), unpause=not args.paused
        )
    except locks.Busy as exc:
        print(exc, file=sys.stderr)
        return 1


def _airflow_cli(args, cfg: Settings) -> int:
    env = airflow_local.process_environment(cfg)
    os.execvpe(sys.executable, [sys.executable, "-m", "airflow", *args.args], env)
    return 0  # not reached


def backfill_window(first: dt.date, last: dt.date) -> tuple[str, str]:
    """``airflow backfill create`` dates whose runs load business dates first..last: the
    run for a date is at 06:00 (Asia/Shanghai) the day after, and the window's bounds are
    read in UTC (checked against Airflow 3.3's --dry-run)."""
    return (first + dt.timedelta(days=1)).isoformat(), (last + dt.timedelta(days=2)).isoformat()


def _backfill(args, cfg: Settings) -> int:
    if args.last < args.first:
        print("kairos backfill: --to is before --from", file=sys.stderr)
        return 2
    env = airflow_local.process_environment(cfg)
    start, end = backfill_window(args.first, args.last)
    status = 0
    for system in args.system or contract.systems():
        cmd = [sys.executable, "-m", "airflow", "backfill", "create", "--dag-id"]
        cmd += [f"ingest_{system}", "--from-date", start, "--to-date", end]
        cmd += ["--dry-run"] if args.dry_run else []
        print(f"ingest_{system}: business dates {args.first} to {args.last}")
        status = max(status, subprocess.run(cmd, env=env).returncode)
    return status


def _airflow_env(args, cfg: Settings) -> int:
    for key, value in airflow_local.environment(cfg).items():
        if key.startswith("AIRFLOW__API_AUTH"):
            continue  # a secret: the processes that need it get it from its key file
        print(f"export {key}={shlex.quote(value)}")
    return 0


WEEK = dt.timedelta(days=6)


def _next_day(args, cfg: Settings) -> int:
    """The routine step of the first week: the next date's delivery, then its runs."""
    last, params = kairos_sample.last_delivery(cfg.landing)
    # the first delivery starts a week back, so that a week of next-days ends yesterday
    day = args.date or (last + dt.timedelta(days=1) if last else dates.yesterday() - WEEK)
    if day > dates.today():
        print(
            f"kairos next-day: the next business date, {day}, has not happened yet"
            " (Asia/Shanghai); its delivery cannot exist",
            file=sys.stderr,
        )
        return 2
    subscribers = args.subscribers or params.get("subscribers", DEFAULT_SUBSCRIBERS)
    seed = params.get("seed", DEFAULT_SEED) if args.seed is None else args.seed
    scenario = params.get("scenario", "default")
    api = airflow_local.Api(cfg)
    if not args.deliver_only and (refusal := _not_scheduling(cfg, api)):
        print(f"kairos next-day: {refusal}", file=sys.stderr)
        return 1
    print(f"delivering {day}: {subscribers:,} subscribers, seed {seed}, scenario {scenario}")
    kairos_sample.generate(
        cfg.landing,
        day,
        1,
        subscribers,
        seed,
        scenario=scenario,
        executing=cfg.publish_dir,
        plant=params.get("planting"),  # what the last delivery planted
    )
    if args.deliver_only:
        return 0
    when = dates.run_time_for(day)
    for system in contract.systems():
        run_id = api.trigger(f"ingest_{system}", when, {"business_date": day.isoformat()})
        print(f"  triggered ingest_{system}: {run_id}")
    print(
        f"  build_warehouse and publish_target_lists follow on their own; watch them at"
        f" {api.base}/ ; the lists land in {cfg.publish_dir / 'lists' / day.isoformat()}"
    )
    return 0


def _not_scheduling(cfg: Settings, api: airflow_local.Api) -> str:
    """Why Kairos's Airflow of this data root cannot take a run now ('' when it can)."""
    holder = airflow_local.scheduler_holder(cfg)
    start = "start it with `make airflow` in another terminal"
    if holder is None:
        return f"Kairos's Airflow for {cfg.home} is not running; {start} (or --deliver-only)"
    if holder.get("purpose") != "kairos scheduler":
        return f"{locks.describe(holder)} holds Kairos's Airflow; wait for it to finish"
    if not airflow_local.healthy(api.base):
        return f"Kairos's Airflow is starting but does not answer at {api.base} yet; try again"
    return ""


def _unpause(args, cfg: Settings) -> int:
    api = airflow_local.Api(cfg)
    if refusal := _not_scheduling(cfg, api):
        print(f"kairos unpause: {refusal}", file=sys.stderr)
        return 1
    for dag_id in airflow_local.kairos_dags(cfg):
        api.unpause(dag_id)
        print(f"unpaused {dag_id}")
    return 0


def _demo(args, cfg: Settings) -> int:
    return demo.run(cfg, args.date or dates.yesterday(), args.subscribers, args.seed)


COMMANDS = {
    "demo": _demo,
    "next-day": _next_day,
    "unpause": _unpause,
    "generate": _generate,
    "release-late": _release_late,
    "ingest": _ingest,
    "ledger": _ledger,
    "quarantine": _quarantine,
    "build": _build,
    "docs": _docs,
    "sql": _sql,
    "evaluate": _evaluate,
    "snapshot": _snapshot,
    "publish": _publish,
    "portal": _portal,
    "portal-user": _portal_user,
    "contract-doc": _contract_doc,
    "config-doc": _config_doc,
    "config": _config,
    "scheduler": _scheduler,
    "airflow": _airflow_cli,
    "airflow-env": _airflow_env,
    "backfill": _backfill,
}

if __name__ == "__main__":
    sys.exit(main())
