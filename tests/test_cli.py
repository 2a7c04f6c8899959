"""The command line: clear errors for bad arguments, and the inspection commands."""

from __future__ import annotations

import pytest

from kairos import cli, contract
from tests.conftest import DAY


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
