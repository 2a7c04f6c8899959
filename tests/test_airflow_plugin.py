"""The one Kairos Airflow plugin: listed by Airflow, light at import, and its view behind
Airflow's own authentication -- on the real API server app with the real auth manager."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import textwrap
import time
import urllib.error
import urllib.request

import pytest

from tests.conftest import DAY
from tests.support import CHROMIUM, CHROMIUM_ARGS, PROJECT

pytestmark = pytest.mark.slow


def _python(script: str, env: dict) -> dict:
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_airflow_lists_exactly_one_kairos_plugin_and_imports_no_kairos_module(airflow_db):
    listed = subprocess.run(
        [sys.executable, "-m", "airflow", "plugins", "--output", "json"],
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert listed.returncode == 0, listed.stderr[-3000:]
    plugins = json.loads(listed.stdout)
    assert [p["name"] for p in plugins] == ["kairos"], plugins
    loaded = _python(
        """
        import json, sys
        from airflow import plugins_manager
        plugins_manager.ensure_plugins_loaded()
        plugins, errors = plugins_manager._get_plugins()
        print(json.dumps({
            "plugins": [p.name for p in plugins],
            "errors": errors,
            "kairos": sorted(m for m in sys.modules if m == "kairos" or m.startswith("kairos.")),
        }))
        """,
        dict(os.environ),
    )
    assert loaded["plugins"] == ["kairos"] and not loaded["errors"], loaded
    assert loaded["kairos"] == [], "loading the plugin imported Kairos runtime modules"


@pytest.fixture
def loaded_home(cfg, deliver):
    from kairos.ingest import ingest_dates

    deliver(subscribers=300)
    _, failures = ingest_dates(cfg, DAY, DAY)
    assert not failures
    return cfg


def test_the_operations_view_refuses_anonymous_and_serves_a_signed_in_viewer(
    airflow_db, loaded_home, tmp_path
):
    passwords = tmp_path / "passwords.json"
    passwords.write_text(json.dumps({"viewer": "viewer-pw", "admin": "admin-pw"}))
    env = dict(
        os.environ,
        AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS="viewer:viewer,admin:admin",
        AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE=str(passwords),
        AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS="False",
        AIRFLOW__API_AUTH__JWT_SECRET="test-only-secret-" + "0" * 32,
        KAIROS_HOME=str(loaded_home.home),
    )
    result = _python(
        f"""
        import json
        from fastapi.testclient import TestClient
        from airflow.api_fastapi.app import create_app

        client = TestClient(create_app(), follow_redirects=False)
        out = {{}}
        for path in ("/kairos/", "/kairos/dates/{DAY}", "/kairos/docs/index.html"):
            out["anonymous " + path] = client.get(path).status_code
        out["forged"] = client.get(
            "/kairos/", headers={{"Authorization": "Bearer not-a-token"}}
        ).status_code
        login = client.post("/auth/token", json={{"username": "viewer", "password": "viewer-pw"}})
        out["login"] = login.status_code
        token = login.json()["access_token"]
        auth = {{"Authorization": "Bearer " + token}}
        page = client.get("/kairos/", headers=auth)
        out["viewer overview"] = page.status_code
        out["overview text"] = page.text
        day = client.get("/kairos/dates/{DAY}", headers=auth)
        out["viewer date"] = day.status_code
        out["date text"] = day.text
        out["viewer docs escape"] = client.get(
            "/kairos/docs/..%2F..%2Fsecrets%2Fportal.key", headers=auth
        ).status_code
        bad = client.post("/auth/token", json={{"username": "viewer", "password": "wrong"}})
        out["wrong password"] = bad.status_code
        print(json.dumps(out))
        """,
        env,
    )
    for key in (
        "anonymous /kairos/",
        f"anonymous /kairos/dates/{DAY}",
        "anonymous /kairos/docs/index.html",
    ):
        assert result[key] in (401, 403), (key, result[key])
    assert result["forged"] in (401, 403)
    assert result["wrong password"] in (401, 403)
    assert result["login"] in (200, 201)
    assert result["viewer overview"] == 200
    assert str(DAY) in result["overview text"]
    assert "<svg" in result["overview text"]  # the 30-day trend
    assert result["viewer date"] == 200
    text = result["date text"]
    assert "Load ledger" in text and "daily_usage" in text and "subscribers" in text
    # the ledgers keep UTC; the page shows the operator's time, and says so
    assert "times in Asia/Shanghai" in text
    assert re.search(r"<td>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \+0800</td>", text)
    assert result["viewer docs escape"] == 404


def test_a_run_links_to_its_airflow_run_and_a_command_line_run_is_only_named():
    sys.path.insert(0, str(PROJECT / "plugins"))
    try:
        import kairos_operations as view
    finally:
        sys.path.pop(0)
    link = view._run_link("ingest_boss", "scheduled__2026-11-21T22:00:00+00:00")
    assert link == (
        "<a href='/dags/ingest_boss/runs/scheduled__2026-11-21T22%3A00%3A00%2B00%3A00'>"
        "scheduled__2026-11-21T22:00:00+00:00</a>"
    )
    assert view._run_link("build_warehouse", "manual-20261122T0600") == "manual-20261122T0600"
    assert "<script>" not in view._run_link("x", "<script>")


def test_in_a_real_browser_a_viewer_signs_in_to_airflow_and_reads_the_kairos_view(
    airflow_db, loaded_home, tmp_path
):
    """A real `airflow api-server` and Debian's chromium: the Kairos page refuses a
    browser that has not signed in; after signing in on Airflow's own login page (the
    session cookie, no token handling by hand) it shows the dates and a date's ledger."""
    from playwright.sync_api import sync_playwright

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    base = f"http://127.0.0.1:{port}"
    passwords = tmp_path / "passwords.json"
    passwords.write_text(json.dumps({"viewer": "viewer-pw"}))
    env = dict(
        os.environ,
        AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS="viewer:viewer",
        AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE=str(passwords),
        AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS="False",
        AIRFLOW__API_AUTH__JWT_SECRET="test-only-secret-" + "0" * 32,
        AIRFLOW__API__BASE_URL=base,
        KAIROS_HOME=str(loaded_home.home),
    )
    log = (tmp_path / "api-server.log").open("w")
    server = subprocess.Popen(
        [sys.executable, "-m", "airflow", "api-server", "--port", str(port), "--workers", "1"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        _wait_for(f"{base}/api/v2/monitor/health", server, tmp_path / "api-server.log")
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                page = browser.new_context().new_page()
                anonymous = page.goto(f"{base}/kairos/")
                assert anonymous.status in (401, 403)
                page.goto(f"{base}/auth/login?next={base}/kairos/")
                page.get_by_label("Username").fill("viewer")
                page.get_by_label("Password").fill("viewer-pw")
                page.get_by_role("button", name="Sign in").click()
                page.wait_for_url(f"{base}/kairos/", timeout=30_000)
                page.wait_for_selector("h1")
                assert "Kairos: business dates" in page.inner_text("h1")
                page.get_by_role("link", name=str(DAY), exact=True).first.click()
                page.wait_for_selector("text=Load ledger")
                assert "daily_usage" in page.content()
            finally:
                browser.close()
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
        log.close()


def _wait_for(url: str, server: subprocess.Popen, log_path) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert server.poll() is None, log_path.read_text()[-3000:]
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except (urllib.error.URLError, OSError):
            time.sleep(0.5)
    raise AssertionError("the API server did not start:\n" + log_path.read_text()[-3000:])
