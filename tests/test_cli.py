"""The command line: clear errors for bad arguments, and the inspection commands."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import pty
import re
import subprocess
import sys
from pathlib import Path

import pytest

from kairos import cli, contract
from tests.conftest import DAY
from tests.support import PROJECT


def test_unknown_fault_is_a_usage_error(cfg, capsys):
    assert cli.main(["generate", "--date", str(DAY), "--fault", "explode"]) == 2
    assert "unknown fault 'explode'" in capsys.readouterr().err


def test_bad_date_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["ingest", "--date", "21/11/2026"])
    assert exc.value.code == 2
    assert "not a date" in capsys.readouterr().err


def test_from_needs_to(capsys):
    assert cli.main(["ingest", "--from", str(DAY)]) == 2
    assert "--from needs --to" in capsys.readouterr().err


def test_generate_ingest_and_inspect(cfg, capsys):
    assert (
        cli.main(
            [
                "generate",
                "--date",
                str(DAY),
                "--subscribers",
                "300",
                "--quiet",
                "--fault",
                "malformed:crm.customers",
            ]
        )
        == 0
    )
    assert f"wrote {len(contract.extracts())} extract files" in capsys.readouterr().out
    assert cli.main(["ingest", "--date", str(DAY), "--system", "crm"]) == 0
    capsys.readouterr()
    assert cli.main(["ledger", "--date", str(DAY)]) == 0
    ledger = capsys.readouterr().out.splitlines()
    assert ledger[0].startswith("business_date|system|extract|status")
    assert len(ledger) == 1 + len(contract.for_system("crm"))
    assert cli.main(["quarantine", "--date", str(DAY)]) == 0
    rows = capsys.readouterr().out.splitlines()[1:]
    assert rows and all("|crm|customers|" in r for r in rows)
    # analysts read the snapshot by default; there is none before a build
    assert cli.main(["sql", "select 1"]) == 1
    assert "no snapshot" in capsys.readouterr().err
    assert cli.main(["sql", "--live", "select count(*) as n from raw.crm_customers"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "n" and int(out[1]) > 0
    assert cli.main(["sql", "--live", "delete from raw.crm_customers"]) == 1  # read-only
    assert "read-only" in capsys.readouterr().err.lower()


def test_inspecting_a_missing_warehouse_says_so(cfg, capsys):
    assert cli.main(["ledger"]) == 1
    assert "no warehouse at" in capsys.readouterr().err


def test_operator_scenario_needs_enough_subscribers(cfg, capsys):
    code = cli.main(
        [
            "generate",
            "--date",
            "2026-10-01",
            "--subscribers",
            "1000",
            "--quiet",
            "--scenario",
            "operator-2010",
        ]
    )
    assert code == 2
    assert "needs at least 300,000 subscribers" in capsys.readouterr().err


def test_build_and_publish_say_what_to_run_when_they_cannot(cfg, capsys):
    assert cli.main(["build", "--date", str(DAY)]) == 2
    err = capsys.readouterr().err
    assert "not completely loaded" in err and f"kairos ingest --date {DAY}" in err
    assert cli.main(["build"]) == 0  # nothing loaded: nothing to build, and it says so
    assert "dates to build: none" in capsys.readouterr().out
    assert cli.main(["publish"]) == 2
    assert "no analysts' snapshot" in capsys.readouterr().err
    assert cli.main(["publish", "--date", str(DAY)]) == 2


def test_airflow_env_points_the_airflow_cli_at_the_committed_config(cfg, capsys):
    assert cli.main(["airflow-env"]) == 0
    out = capsys.readouterr().out
    assert "export AIRFLOW_CONFIG=" in out and "config/airflow.cfg" in out
    assert "JWT" not in out  # secrets stay in their key file


def test_the_configuration_page_lists_every_variable_kairos_reads():
    """kairos.config.VARIABLES is the one source of docs/configuration.md: every variable
    the code, the dbt profile or Airflow's configuration reads is in it, and nothing else."""
    import re

    from kairos.config import VARIABLES

    sources = [PROJECT / "src" / "kairos" / "config.py", PROJECT / "profiles.yml"]
    sources += [PROJECT / "src" / "kairos" / "airflow_local.py"]
    read = set()
    for path in sources:
        read |= set(re.findall(r"\b((?:KAIROS|AIRFLOW)_[A-Z_]+)\b", path.read_text("utf-8")))
    # Airflow's own settings that Kairos passes through, not Kairos's configuration
    read = {v for v in read if not v.startswith("AIRFLOW__") or v.endswith("JWT_SECRET")}
    listed = {name for name, _, _ in VARIABLES}
    assert read - listed == set(), "read but not on the configuration page"
    assert listed - read == set(), "on the configuration page but never read"


def test_next_day_delivers_the_day_after_the_last_with_its_size_and_seed(cfg, capsys):
    """The first week's routine step: a fresh root starts a week back; each next-day is
    the day after the last delivery, of its size and seed; a date still to come and an
    Airflow that does not answer are refused, saying why."""
    from kairos import dates
    from kairos_sample import last_delivery

    first = dates.yesterday() - cli.WEEK
    args = ["next-day", "--deliver-only", "--subscribers", "300", "--seed", "7"]
    assert cli.main(args) == 0
    assert f"delivering {first}: 300 subscribers, seed 7" in capsys.readouterr().out
    assert cli.main(["next-day", "--deliver-only"]) == 0
    second = first + dt.timedelta(days=1)
    assert f"delivering {second}: 300 subscribers, seed 7" in capsys.readouterr().out
    from kairos_sample import Planting

    assert last_delivery(cfg.landing) == (
        second,
        {"subscribers": 300, "seed": 7, "scenario": "default", "planting": Planting.shipped()},
    )
    for system in contract.systems():
        assert (cfg.landing / system / f"{second:%Y%m%d}").is_dir()

    tomorrow = dates.today() + dt.timedelta(days=1)
    assert cli.main(["next-day", "--deliver-only", "--date", str(tomorrow)]) == 2
    assert "has not happened yet" in capsys.readouterr().err
    # no kairos scheduler runs on this data root: refused before anything is written
    third = second + dt.timedelta(days=1)
    assert cli.main(["next-day"]) == 1
    assert f"Kairos's Airflow for {cfg.home} is not running" in capsys.readouterr().err
    assert not (cfg.landing / "boss" / f"{third:%Y%m%d}").exists()


def test_at_a_terminal_each_step_says_when_it_ran_and_piped_it_stays_quiet(tmp_path):
    """Progress lines (time, step, what it did) go to a terminal only: a pipe, a log file
    or CI gets the command's own output and warnings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "KAIROS_"))}
    env.update(KAIROS_HOME=str(tmp_path / "home"), KAIROS_PROJECT_DIR=str(PROJECT))
    kairos = str(Path(sys.executable).with_name("kairos"))
    day = "2026-11-21"
    subprocess.run(
        [kairos, "generate", "--date", day, "--subscribers", "200"],
        env=env, check=True, capture_output=True,
    )  # fmt: skip
    piped = subprocess.run(
        [kairos, "ingest", "--date", day, "--system", "bi"], env=env, capture_output=True, text=True
    )
    assert piped.returncode == 0, piped.stderr
    assert not re.search(r"^\d\d:\d\d:\d\d ", piped.stderr, re.M)
    leader, follower = pty.openpty()
    with os.fdopen(leader, "rb", buffering=0) as terminal:
        proc = subprocess.Popen(
            [kairos, "ingest", "--date", day, "--system", "bi", "--force"],
            env=env, stdout=subprocess.DEVNULL, stderr=follower,
        )  # fmt: skip
        os.close(follower)
        seen = b""
        with contextlib.suppress(OSError):  # EIO once the process has closed the terminal
            while chunk := terminal.read(4096):
                seen += chunk
        assert proc.wait(120) == 0
    text = seen.decode()
    assert re.search(r"^\d\d:\d\d:\d\d .*bi\.", text, re.M), text
