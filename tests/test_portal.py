"""The download portal: authentication and authorisation on every route, the audit log,
and a real browser (Debian's chromium driven by Playwright) that signs in, sees only its
team's lists and downloads one whose bytes match the manifest."""

from __future__ import annotations

import concurrent.futures
import contextlib
import hashlib
import json
import shutil
import socket
import threading
import time

import httpx
import pytest
import uvicorn
from fastapi.testclient import TestClient

from kairos import pipeline, portal, publish
from kairos.ingest import ingest_dates
from kairos.pipeline import daily
from kairos_sample import generate
from tests.conftest import DAY, module_home
from tests.support import CHROMIUM, CHROMIUM_ARGS

pytestmark = pytest.mark.slow

PASSWORD = "correct horse battery"


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    """One published day, and two users of two teams."""
    mp, cfg = module_home(
        tmp_path_factory,
        "portal",
        KAIROS_PSEUDONYM_KEY="test-key-" + "0" * 32,
        KAIROS_PORTAL_INSECURE_HTTP="1",  # TestClient and the browser speak plain HTTP
    )
    generate(cfg.landing, DAY, 1, 3_000, 5, progress=False)
    ingest_dates(cfg, DAY, DAY)
    pipeline.run_steps(pipeline.BUILD_STEPS, cfg, DAY, "portal-test")
    outcome = daily.run(cfg, DAY, "portal-test")
    assert outcome.ok, outcome.report.read_text()
    portal.add_user(cfg, "carol", "care-team", PASSWORD)
    portal.add_user(cfg, "dan", "data-traffic-team", PASSWORD)
    manifest = json.loads(
        (publish.published_dir(cfg, DAY) / "manifest.json").read_text(encoding="utf-8")
    )
    yield cfg, manifest
    mp.undo()


def launch(pw):
    """Debian's chromium, headless, driven by Playwright."""
    return pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


def team_lists(manifest, team):
    return {i["list_id"]: i for i in manifest["lists"] if i["owner_team"] == team}


@pytest.fixture
def client(published):
    cfg, _ = published
    return TestClient(portal.create_app(cfg), follow_redirects=False)


def sign_in(client, user="carol", password=PASSWORD):
    return client.post("/login", data={"username": user, "password": password})


def test_every_route_needs_a_session(client, published):
    _, manifest = published
    some = manifest["lists"][0]["list_id"]
    for path in ("/", "/lists", f"/lists/{DAY}/{some}/csv", "/docs/index.html"):
        r = client.get(path)
        assert r.status_code == 303, path  # an unsigned visitor is sent to sign in
        assert r.headers["location"] == "/login"
    assert client.post("/logout").status_code == 303  # harmless without a session


def test_wrong_password_and_forged_cookie_are_refused(client, published):
    cfg, _ = published
    assert sign_in(client, password="wrong password").status_code == 401
    client.cookies.set(portal.SESSION_COOKIE, "forged.cookie.value")
    assert client.get("/lists").status_code == 303
    events = [json.loads(x) for x in portal.audit_path(cfg).read_text().splitlines()]
    assert any(e["event"] == "login_refused" and e["user"] == "carol" for e in events)


def test_a_team_sees_only_its_lists_and_cannot_fetch_others(client, published):
    cfg, manifest = published
    assert sign_in(client).status_code == 303
    page = client.get("/lists").text
    mine, theirs = team_lists(manifest, "care-team"), team_lists(manifest, "data-traffic-team")
    assert mine and theirs
    assert all(f'data-list="{list_id}"' in page for list_id in mine)
    assert not any(f'data-list="{list_id}"' in page for list_id in theirs)
    other = next(iter(theirs))
    for path in (
        f"/lists/{DAY}/{other}/csv",  # another team's list
        f"/lists/{DAY}/{next(iter(mine))}/manifest",  # not a downloadable kind
        f"/lists/{DAY}/..%2F..%2Fsecrets%2Fportal.key/csv",  # a guessed path
        f"/lists/not-a-date/{next(iter(mine))}/csv",
        "/docs/..%2F..%2Fsecrets%2Fportal.key",
        "/docs/../../portal/users.json",
    ):
        assert client.get(path).status_code == 404, path
    events = [json.loads(x) for x in portal.audit_path(cfg).read_text().splitlines()]
    assert any(e["event"] == "download_refused" and e["list_id"] == other for e in events)
    assert client.get("/docs/index.html").status_code == 200


@pytest.fixture
def throttle_reset(published):
    """Sign-in failures are counted per user name and client ("testclient" for every
    TestClient): start and end with none, so that one test's lockout is not another's."""
    cfg, _ = published
    portal.throttle_path(cfg).unlink(missing_ok=True)
    yield cfg
    portal.throttle_path(cfg).unlink(missing_ok=True)


def audit_events(cfg):
    return [json.loads(x) for x in portal.audit_path(cfg).read_text().splitlines()]


def test_signing_out_ends_the_session_everywhere(published, throttle_reset):
    cfg, _ = published
    portal.add_user(cfg, "olga", "care-team", PASSWORD)
    a = TestClient(portal.create_app(cfg), follow_redirects=False)
    b = TestClient(portal.create_app(cfg), follow_redirects=False)
    assert sign_in(a, "olga").status_code == 303 and sign_in(b, "olga").status_code == 303
    stolen = a.cookies.get(portal.SESSION_COOKIE)
    assert a.post("/logout").status_code == 303
    assert b.get("/lists").status_code == 303  # the other device's session ended too
    c = TestClient(portal.create_app(cfg), follow_redirects=False)
    c.cookies.set(portal.SESSION_COOKIE, stolen)
    assert c.get("/lists").status_code == 303  # an old cookie no longer works
    assert [e["event"] for e in audit_events(cfg) if e.get("user") == "olga"][-3:] == [
        "login",
        "login",
        "logout",
    ]


def test_a_password_change_disabling_or_removal_ends_live_sessions(published, throttle_reset):
    from kairos import cli

    cfg, _ = published
    for how in ("password", "disable", "remove"):
        portal.add_user(cfg, "petra", "care-team", PASSWORD)
        c = TestClient(portal.create_app(cfg), follow_redirects=False)
        assert sign_in(c, "petra").status_code == 303
        assert c.get("/lists").status_code == 200
        if how == "password":
            portal.add_user(cfg, "petra", "care-team", PASSWORD + "!")
        else:
            assert cli.main(["portal-user", "--user", "petra", f"--{how}"]) == 0
        assert c.get("/lists").status_code == 303, how
        if how == "disable":
            assert sign_in(c, "petra").status_code == 401


def test_sign_in_is_locked_after_repeated_failures_the_right_password_too(
    published, throttle_reset
):
    cfg, _ = published
    portal.add_user(cfg, "quinn", "care-team", PASSWORD)
    c = TestClient(portal.create_app(cfg), follow_redirects=False)
    for _ in range(portal.MAX_USER_FAILURES):
        assert sign_in(c, "quinn", "wrong password!").status_code == 401
    assert sign_in(c, "quinn").status_code == 429
    assert any(e.get("reason") == "locked" for e in audit_events(cfg))
    # one client trying many user names is locked as a client
    portal.throttle_path(cfg).unlink()
    for k in range(portal.MAX_CLIENT_FAILURES):
        assert sign_in(c, f"guess{k}", "wrong password!").status_code == 401
    assert sign_in(c, "carol").status_code == 429


def test_an_unknown_user_takes_as_long_as_a_known_one(client, published, throttle_reset):
    def timed(user):
        t0 = time.perf_counter()
        assert sign_in(client, user, "wrong password!").status_code == 401
        return time.perf_counter() - t0

    known = sorted(timed("dan") for _ in range(3))[1]
    portal.throttle_path(published[0]).unlink()
    unknown = sorted(timed(f"nobody{k}") for k in range(3))[1]
    assert 0.5 < unknown / known < 2.0, (known, unknown)


def test_oversized_input_is_refused_before_anything_is_written(client, published, throttle_reset):
    cfg, _ = published
    before = portal.audit_path(cfg).stat().st_size
    r = client.post("/login", data={"username": "x" * 1_000_000, "password": "p"})
    assert r.status_code == 413
    assert portal.audit_path(cfg).stat().st_size == before
    r = client.post("/login", data={"username": "y" * 5000, "password": "p"})
    assert r.status_code == 401
    last = audit_events(cfg)[-1]
    assert last["reason"] == "too long" and len(last["user"]) <= portal.MAX_USER + 1


def test_security_headers_and_the_secure_cookie_by_default(published, throttle_reset, monkeypatch):
    from kairos.config import Settings

    cfg, manifest = published
    local = TestClient(portal.create_app(cfg), follow_redirects=False)
    r = local.get("/login")
    assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["referrer-policy"] == "no-referrer"
    assert "strict-transport-security" not in r.headers  # plain HTTP, said explicitly
    assert sign_in(local).status_code == 303
    some = next(i for i in manifest["lists"] if i["owner_team"] == "care-team")["list_id"]
    download = local.get(f"/lists/{DAY}/{some}/csv")
    assert download.status_code == 200 and download.headers["cache-control"] == "no-store"

    monkeypatch.delenv("KAIROS_PORTAL_INSECURE_HTTP")
    tls = TestClient(portal.create_app(Settings.from_env()), follow_redirects=False)
    r = sign_in(tls)
    assert r.status_code == 303 and "secure" in r.headers["set-cookie"].lower()
    assert r.headers["strict-transport-security"].startswith("max-age=")


def test_users_need_a_long_password_and_a_known_team(published, capsys):
    from kairos import cli

    cfg, _ = published
    with pytest.raises(ValueError, match="12 to"):
        portal.add_user(cfg, "rita", "care-team", "short pass")
    with pytest.raises(ValueError, match="unknown team"):
        portal.add_user(cfg, "rita", "car-team", PASSWORD)
    assert cli.main(["portal-user", "--user", "rita", "--remove"]) == 1
    assert "no portal user" in capsys.readouterr().err


def test_the_audit_takes_the_socket_address_unless_a_proxy_is_trusted(
    published, throttle_reset, monkeypatch
):
    from kairos.config import Settings

    cfg, _ = published
    c = TestClient(portal.create_app(cfg), follow_redirects=False)
    c.post("/login", data={"username": "carol", "password": PASSWORD},
           headers={"X-Forwarded-For": "203.0.113.9"})  # fmt: skip
    assert audit_events(cfg)[-1]["client"] == "testclient"
    monkeypatch.setenv("KAIROS_PORTAL_TRUSTED_PROXY", "testclient")
    p = TestClient(portal.create_app(Settings.from_env()), follow_redirects=False)
    p.post("/login", data={"username": "carol", "password": PASSWORD},
           headers={"X-Forwarded-For": "198.51.100.7, 203.0.113.9"})  # fmt: skip
    assert audit_events(cfg)[-1]["client"] == "203.0.113.9"
    assert portal.audit_path(cfg).stat().st_mode & 0o077 == 0


def test_a_removed_user_loses_access_at_once(published):
    cfg, _ = published
    portal.add_user(cfg, "temp", "care-team", PASSWORD)
    c = TestClient(portal.create_app(cfg), follow_redirects=False)
    assert sign_in(c, "temp").status_code == 303
    assert c.get("/lists").status_code == 200
    users = json.loads(portal.users_path(cfg).read_text())
    del users["users"]["temp"]
    portal.users_path(cfg).write_text(json.dumps(users))
    assert c.get("/lists").status_code == 303


@pytest.fixture(scope="module")
def server(published):
    cfg, _ = published
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    srv = uvicorn.Server(
        uvicorn.Config(portal.create_app(cfg), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started:
        assert time.monotonic() < deadline, "portal did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(10)


def test_in_a_real_browser_a_team_signs_in_sees_its_lists_and_downloads_one(
    published, server, tmp_path
):
    from playwright.sync_api import sync_playwright

    cfg, manifest = published
    mine = team_lists(manifest, "care-team")
    with sync_playwright() as pw:
        browser = launch(pw)
        try:
            page = browser.new_context(accept_downloads=True).new_page()
            page.goto(f"{server}/lists")
            assert page.url.endswith("/login")  # sent to sign in first
            page.fill("#username", "carol")
            page.fill("#password", PASSWORD)
            page.click("#sign-in")
            page.wait_for_selector("#lists")
            assert "carol (care-team)" in page.inner_text("#who")
            shown = set(
                page.eval_on_selector_all("tr[data-list]", "rows => rows.map(r => r.dataset.list)")
            )
            assert shown == set(mine)
            assert "Certified" in page.inner_text("#certification")
            list_id = max(mine, key=lambda k: mine[k]["rows"])
            with page.expect_download() as info:
                page.click(f'tr[data-list="{list_id}"] >> text=CSV')
            target = tmp_path / "download.csv"
            info.value.save_as(target)
        finally:
            browser.close()
    data = target.read_bytes()
    entry = mine[list_id]["files"]["csv"]
    assert hashlib.sha256(data).hexdigest() == entry["sha256"]
    assert data.startswith(b"\xef\xbb\xbf")
    events = [json.loads(x) for x in portal.audit_path(cfg).read_text().splitlines()]
    download = [e for e in events if e["event"] == "download" and e["list_id"] == list_id]
    assert download and download[-1]["sha256"] == entry["sha256"]
    assert download[-1]["user"] == "carol"


# --- approval before a list goes live (issue 12, part 4) ---------------------------------


def _manifest(cfg):
    return json.loads((publish.published_dir(cfg, DAY) / "manifest.json").read_text("utf-8"))


def _csrf(page: str) -> str:
    return page.split('name="csrf" value="', 1)[1].split('"', 1)[0]


class _Cookies:
    """Just enough of a request for the portal's form token: its session cookie."""

    def __init__(self, token: str):
        self.cookies = {portal.SESSION_COOKIE: token}


def test_marketing_lists_wait_for_their_team_and_service_notices_approve_themselves(
    client, published
):
    """Publishing marks each certified list by its rule's policy: care-team's service
    notices are live at once; data-traffic-team's marketing lists wait, cannot be
    downloaded and are not worked by CRM until approved."""
    from kairos.publish.outcomes import read_outcome
    from kairos_sample import execution

    cfg, _ = published
    manifest = _manifest(cfg)
    care = team_lists(manifest, "care-team")
    data = team_lists(manifest, "data-traffic-team")
    assert care and data
    assert {i["status"] for i in care.values()} == {"published"}
    assert {i["approval"]["state"] for i in care.values()} == {"auto_approved"}
    assert {i["status"] for i in data.values()} == {"pending_approval"}
    assert "pending their team's approval" in read_outcome(cfg, DAY)["reason"]
    assert sign_in(client, "dan").status_code == 303
    pending = next(iter(data))
    assert client.get(f"/lists/{DAY}/{pending}/csv").status_code == 404
    row = client.get("/lists").text.split(f'data-list="{pending}"', 1)[1].split("</tr>")[0]
    assert "Pending approval" in row and "/csv" not in row
    tasks = execution.published_tasks(cfg.publish_dir, DAY)
    assert tasks is not None and not set(tasks.list_ids) & set(data)


def test_only_the_owner_team_decides_once_and_with_a_form_token(client, published):
    cfg, _ = published
    pending = [
        i for i, x in team_lists(_manifest(cfg), "data-traffic-team").items()
        if x["status"] == "pending_approval"
    ]  # fmt: skip
    list_id = pending[-1]
    review = f"/lists/{DAY}/{list_id}/review"
    decision = f"/lists/{DAY}/{list_id}/decision"
    # another team: the list does not exist for it
    assert sign_in(client, "carol").status_code == 303
    assert client.get(review).status_code == 404
    own = next(iter(team_lists(_manifest(cfg), "care-team")))
    own_page = client.get(f"/lists/{DAY}/{own}/review").text
    assert "Approved automatically" in own_page and 'id="approve"' not in own_page
    token = client.cookies.get(portal.SESSION_COOKIE)
    carol = portal._Portal(cfg).csrf_token(_Cookies(token))
    r = client.post(decision, data={"decision": "approve", "csrf": carol})
    assert r.status_code == 404  # a valid form of hers, on a list that is not hers
    client.post("/logout")
    assert sign_in(client, "dan").status_code == 303
    page = client.get(review).text
    assert 'id="approve"' in page
    # no token, or another session's: refused; a rejection needs a reason
    assert client.post(decision, data={"decision": "approve", "csrf": "forged"}).status_code == 403
    token = _csrf(page)
    r = client.post(decision, data={"decision": "reject", "comment": "  ", "csrf": token})
    assert r.status_code == 422 and "needs a comment" in r.text
    assert team_lists(_manifest(cfg), "data-traffic-team")[list_id]["status"] == "pending_approval"
    r = client.post(
        decision,
        data={
            "decision": "approve",
            "comment": "ok\x00 for <b>today</b>, 13812345678",
            "csrf": token,
        },
    )
    assert r.status_code == 303
    item = team_lists(_manifest(cfg), "data-traffic-team")[list_id]
    assert item["status"] == "published"
    assert (item["approval"]["state"], item["approval"]["by"]) == ("approved", "dan")
    # kept as text (shown escaped), control characters out, a mobile number masked
    assert item["approval"]["comment"] == "ok for <b>today</b>, 138****5678"
    assert "&lt;b&gt;today" in client.get(review).text
    assert client.get(f"/lists/{DAY}/{list_id}/csv").status_code == 200
    # final: a second decision is refused
    r = client.post(
        decision, data={"decision": "reject", "comment": "changed my mind", "csrf": token}
    )
    assert r.status_code == 409
    events = audit_events(cfg)
    approved = [e for e in events if e["event"] == "list_approved" and e["list_id"] == list_id]
    assert approved and approved[-1]["user"] == "dan"
    assert "13812345678" not in portal.audit_path(cfg).read_text()
    refused = {e["reason"] for e in events if e["event"] == "decision_refused"}
    assert {"bad form token", "a rejection needs a comment saying why"} <= refused


@pytest.fixture
def history(published):
    """Five earlier publications of the data team's lists (their manifests only, sizes
    80..120% of today's) on dates no other test looks at; removed afterwards."""
    import datetime as dt

    cfg, _ = published
    made = []
    today = _manifest(cfg)
    for k, share in zip(range(10, 5, -1), (0.8, 0.9, 1.0, 1.1, 1.2), strict=True):
        day = DAY - dt.timedelta(days=k)
        version = cfg.publish_dir / "versions" / f"{day}.001"
        version.mkdir(parents=True)
        past = json.loads(json.dumps(today))
        for item in past["lists"]:
            item["rows"] = round(item["rows"] * share)
            item["status"] = "published"
        (version / "manifest.json").write_text(json.dumps(past), encoding="utf-8")
        (cfg.publish_dir / "lists" / day.isoformat()).symlink_to(f"../versions/{day}.001")
        made.append((day, version))
    yield [d for d, _ in made]
    for day, version in made:
        (cfg.publish_dir / "lists" / day.isoformat()).unlink()
        shutil.rmtree(version)


def test_in_a_real_browser_a_team_reviews_rejects_and_approves_its_lists(
    published, server, history
):
    from playwright.sync_api import sync_playwright

    cfg, _ = published
    data = team_lists(_manifest(cfg), "data-traffic-team")
    pending = sorted(i for i, x in data.items() if x["status"] == "pending_approval")
    assert pending, "no list left pending"
    reject = max(pending, key=lambda i: data[i]["rows"])
    rows = data[reject]["rows"]
    with sync_playwright() as pw:
        browser = launch(pw)
        try:
            page = browser.new_context().new_page()
            page.goto(f"{server}/login")
            page.fill("#username", "dan")
            page.fill("#password", PASSWORD)
            page.click("#sign-in")
            page.wait_for_selector("#lists")
            page.click(f'tr[data-list="{reject}"] >> text=Review')
            page.wait_for_selector("#preview")
            assert page.inner_text("#rows") == str(rows)
            # yesterday's publication (the 120% one), the trailing average of the five
            yesterday = round(rows * 1.2)
            assert page.inner_text("#yesterday").startswith(str(yesterday))
            average = sum(round(rows * s) for s in (0.8, 0.9, 1.0, 1.1, 1.2)) / 5
            assert f"{average:.1f} over 5 dates" in page.inner_text("#trailing")
            assert "held out" in page.inner_text("#holdout")
            bars = page.eval_on_selector_all(
                "#chart rect.bar", "bars => bars.map(b => [b.dataset.date, b.dataset.rows])"
            )
            assert [d for d, _ in bars] == [*(d.isoformat() for d in history), DAY.isoformat()]
            assert bars[-1][1] == str(rows)
            page.fill("#comment", "too many customers for the SMS budget this week")
            page.click("#reject")
            page.wait_for_selector("#state")
            assert "Withheld: rejected by dan" in page.inner_text("#state")
            assert page.query_selector("#decide") is None  # decided: no more buttons
            page.goto(f"{server}/lists?date={DAY}")
            row = page.inner_text(f'tr[data-list="{reject}"]')
            assert "rejected by dan: too many customers" in row
            others = [i for i in pending if i != reject]
            if others:
                page.click(f'tr[data-list="{others[0]}"] >> text=Review')
                page.fill("#comment", "checked against the offer calendar")
                page.click("#approve")
                page.wait_for_selector("#state")
                assert "Approved by dan" in page.inner_text("#state")
                page.goto(f"{server}/lists?date={DAY}")
                assert page.query_selector(f'tr[data-list="{others[0]}"] >> text=CSV')
        finally:
            browser.close()
    item = team_lists(_manifest(cfg), "data-traffic-team")[reject]
    assert item["status"] == "withheld"
    assert item["withheld_reasons"] == [
        "rejected by dan: too many customers for the SMS budget this week"
    ]
    assert any(e["event"] == "list_rejected" and e["list_id"] == reject for e in audit_events(cfg))


def test_the_portal_says_what_happened_to_a_date(client, published, monkeypatch):
    """A date that was not published says so (instead of showing another date's lists);
    a withheld list shows as withheld, with its reason, and cannot be downloaded. Runs
    last: it republishes the day with a list withheld."""
    import datetime as dt

    import pyarrow.parquet as pq

    cfg, _ = published
    assert sign_in(client).status_code == 303
    other = DAY - dt.timedelta(days=1)
    page = client.get(f"/lists?date={other}").text
    assert "Not published" in page and f"Target lists of {other}" in page
    assert 'id="lists"' not in page
    assert client.get("/lists?date=not-a-date").status_code == 404

    real = publish.build_lists
    thinned = {}

    def thin(*args, **kwargs):
        built = real(*args, **kwargs)
        mine = [i for i in built.manifest["lists"] if i["owner_team"] == "care-team"]
        item = max(mine, key=lambda i: i["rows"])
        path = built.directory / item["files"]["parquet"]["name"]
        table = pq.read_table(path)
        pq.write_table(table.slice(0, 1), path)
        thinned["list_id"] = item["list_id"]
        return built

    monkeypatch.setattr(publish, "build_lists", thin)
    outcome = daily.run(cfg, DAY, "portal-withheld")
    assert outcome.status == "partial", outcome.report.read_text()
    list_id = thinned["list_id"]
    page = client.get(f"/lists?date={DAY}").text
    assert "Published, with lists withheld" in page
    row = page[page.index(f'data-list="{list_id}"') :].split("</tr>")[0]
    assert "Withheld:" in row and "list_rows=1" in row
    assert client.get(f"/lists/{DAY}/{list_id}/csv").status_code == 404


# --- phone managers (issue 12, part 3) ---------------------------------------------------


def _a_manager(manifest, team):
    """A phone manager with calls on one of the team's live lists, and those lists."""
    counts: dict[str, dict[str, int]] = {}
    for list_id, item in team_lists(manifest, team).items():
        if item["status"] == "published":
            for manager, n in item.get("managers", {}).items():
                counts.setdefault(manager, {})[list_id] = n
    assert counts, "no live call list with a phone manager"
    manager = max(counts, key=lambda m: sum(counts[m].values()))
    return manager, counts[manager]


def test_a_team_filters_its_call_lists_by_phone_manager(client, published):
    import csv
    import io

    import pyarrow.parquet as pq

    cfg, manifest = published
    manager, lists = _a_manager(manifest, "care-team")
    assert sign_in(client, "carol").status_code == 303
    assert f'<option value="{manager}"' in client.get(f"/lists?date={DAY}").text
    page = client.get(f"/lists?date={DAY}&manager={manager}").text
    assert 'id="manager-filter"' in page
    shown = {x.split('"', 1)[0] for x in page.split('data-list="')[1:]}
    assert shown == set(lists)
    list_id, n = max(lists.items(), key=lambda kv: kv[1])
    r = client.get(f"/lists/{DAY}/{list_id}/csv?manager={manager}")
    assert r.status_code == 200 and r.content.startswith(b"\xef\xbb\xbf")
    got = list(csv.DictReader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert len(got) == n and {g["phone_manager_id"] for g in got} == {manager}
    r = client.get(f"/lists/{DAY}/{list_id}/parquet?manager={manager}")
    table = pq.read_table(io.BytesIO(r.content))
    assert table.num_rows == n and set(table["phone_manager_id"].to_pylist()) == {int(manager)}
    # a manager with no call on the list, or not a manager: nothing to show
    assert client.get(f"/lists?date={DAY}&manager=999").status_code == 404
    assert client.get(f"/lists/{DAY}/{list_id}/csv?manager=999").status_code == 404
    assert client.get(f"/lists/{DAY}/{list_id}/diff?manager={manager}").status_code == 404
    events = audit_events(cfg)
    assert any(e["event"] == "download" and e.get("manager") == manager for e in events)


def test_in_a_real_browser_a_team_picks_a_phone_manager_and_downloads_their_calls(
    published, server, tmp_path
):
    import csv

    from playwright.sync_api import sync_playwright

    _, manifest = published
    manager, lists = _a_manager(manifest, "care-team")
    list_id, n = max(lists.items(), key=lambda kv: kv[1])
    with sync_playwright() as pw:
        browser = launch(pw)
        try:
            page = browser.new_context(accept_downloads=True).new_page()
            page.goto(f"{server}/login")
            page.fill("#username", "carol")
            page.fill("#password", PASSWORD)
            page.click("#sign-in")
            page.wait_for_selector("#lists")
            page.select_option("#manager", manager)
            page.click("#show")
            page.wait_for_selector("#manager-filter")
            shown = set(
                page.eval_on_selector_all("tr[data-list]", "rows => rows.map(r => r.dataset.list)")
            )
            assert shown == set(lists)
            assert page.inner_text(f'tr[data-list="{list_id}"] td.rows') == str(n)
            with page.expect_download() as info:
                page.click(f'tr[data-list="{list_id}"] >> text=CSV')
            target = tmp_path / "calls.csv"
            info.value.save_as(target)
        finally:
            browser.close()
    with target.open(encoding="utf-8-sig") as fh:
        got = list(csv.DictReader(fh))
    assert len(got) == n and {g["phone_manager_id"] for g in got} == {manager}


def test_a_chunked_body_is_cut_off_at_the_cap_before_sign_in_reads_it(server, throttle_reset):
    """F6: a body without a length (chunked) is read only up to 16 KiB, then refused with
    413 and the connection closed -- not the 400 MB the probe sent."""
    host, port = server.removeprefix("http://").split(":")
    chunk = b"username=x&password=" + b"p" * (16 * 1024)
    frame = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
    sent = 0
    with socket.create_connection((host, int(port)), timeout=20) as s:
        s.sendall(
            b"POST /login HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
            b"Content-Type: application/x-www-form-urlencoded\r\n\r\n"
        )
        try:
            while sent < 256 * 1024**2:
                s.sendall(frame)
                sent += len(frame)
        except (BrokenPipeError, ConnectionResetError):
            pass
        with contextlib.suppress(ConnectionResetError):
            reply = s.recv(4096)
    assert sent < 64 * 1024**2, f"the portal kept reading: {sent:,} bytes sent"
    assert reply.startswith(b"HTTP/1.1 413"), reply[:100]


def test_parallel_wrong_guesses_are_each_counted_before_their_password_is_checked(
    published, server, throttle_reset
):
    """F7: 25 wrong guesses sent at once. Each attempt is counted (under the throttle's
    lock) before its password is checked: at most 5 are checked, the rest are refused as
    throttled, and the right password then does not sign in."""
    cfg, _ = published
    portal.add_user(cfg, "eve", "care-team", PASSWORD)

    def attempt(password: str) -> int:
        with httpx.Client(base_url=server, follow_redirects=False, timeout=60) as c:
            return c.post("/login", data={"username": "eve", "password": password}).status_code

    with concurrent.futures.ThreadPoolExecutor(25) as pool:
        codes = list(pool.map(attempt, ["wrong password"] * 25))
    assert codes.count(401) == portal.MAX_USER_FAILURES, codes
    assert codes.count(429) == 25 - portal.MAX_USER_FAILURES, codes
    assert attempt(PASSWORD) == 429  # eve stays locked for the window
    portal.remove_user(cfg, "eve")
