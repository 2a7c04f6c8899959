"""Two Kairos processes on one data root, for real: the cells of the matrix in
docs/operations.md ("Two at once") that no other module drives. Each test starts real
processes and checks what the second one does -- waits, saying for whom, or refuses,
naming the holder -- and that nothing is lost either way."""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kairos.config import Settings
from tests.support import PROJECT

DAY = dt.date(2026, 11, 3)


def env_for(home: Path, **extra: str) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "KAIROS_"))}
    return {**base, "KAIROS_HOME": str(home), "KAIROS_PROJECT_DIR": str(PROJECT), **extra}


def python(code: str, env: dict[str, str], **kwargs) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", code],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kwargs,
    )


HOLD_WRITER = """
import sys, time
from kairos.config import Settings
from kairos.warehouse.store import writer_lock
cfg = Settings.from_env()
with writer_lock(cfg.writer_lock, 60, purpose="kairos build 2026-11-03"):
    print("holding", flush=True)
    time.sleep(float(sys.argv[1]) if len(sys.argv) > 1 else 30)
"""


def test_a_writer_that_will_not_wait_names_the_process_holding_the_warehouse(tmp_path):
    """ingest x build: the second writer waits (saying for whom) up to its timeout, then
    refuses with the holder's purpose and pid, and what sets the wait."""
    env = env_for(tmp_path / "home", KAIROS_WRITER_LOCK_TIMEOUT="2")
    holder = python(HOLD_WRITER, env)
    try:
        assert holder.stdout.readline().strip() == "holding"
        second = subprocess.run(
            [str(Path(sys.executable).with_name("kairos")), "ingest", "--date", str(DAY)],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        holder.kill()
        holder.wait()
    out = second.stdout + second.stderr
    assert second.returncode != 0
    assert "waiting for the warehouse writer lock, held by kairos build 2026-11-03" in out
    assert f"(pid {holder.pid}," in out and "KAIROS_WRITER_LOCK_TIMEOUT" in out


PUBLISHER = """
import datetime as dt, os, sys
from pathlib import Path
from kairos import publish
from kairos.config import Settings
cfg = Settings.from_env()
day = dt.date.fromisoformat(sys.argv[1])
for i in range(int(sys.argv[2])):
    staging = cfg.publish_dir / "_staging" / f"{day}.run-{os.getpid()}-{i}"
    (staging / "_private").mkdir(parents=True)
    (staging / "manifest.json").write_text('{"by": %d}' % os.getpid())
    target = publish.publish(cfg, staging, day)
    print(target.name, flush=True)
"""

READER = """
import sys
from pathlib import Path
link, stop = Path(sys.argv[1]), Path(sys.argv[2])
looks = misses = 0
while not stop.exists():
    if link.is_symlink():
        looks += 1
        misses += not (link / "manifest.json").exists()
print(looks, misses)
"""


def test_two_publishers_of_one_date_take_turns_and_readers_always_see_a_version(tmp_path):
    """publish x publish (F8, F11): two processes publish the same date 15 times each,
    with a retention of one date, while a third reads ``lists/<date>`` in a loop. Every
    publication gets its own version number, none fails, and the reader never finds the
    link pointing at a version retention removed."""
    home = tmp_path / "home"
    env = env_for(home, KAIROS_PUBLISH_RETENTION="1")
    link = home / "publish" / "lists" / str(DAY)
    stop = tmp_path / "stop"
    reader = subprocess.Popen(
        [sys.executable, "-c", READER, str(link), str(stop)],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    publishers = [
        subprocess.Popen(
            [sys.executable, "-c", PUBLISHER, str(DAY), "15"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    names = []
    for p in publishers:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err[-3000:]
        names += out.split()
    stop.touch()
    looks, misses = map(int, reader.communicate(timeout=60)[0].split())
    assert len(names) == 30 and len(set(names)) == 30, names
    assert looks > 0 and misses == 0, f"{misses} of {looks} looks found no version"
    publish_dir = home / "publish"
    versions = sorted(p.name for p in (publish_dir / "versions").iterdir())
    assert versions == [os.path.basename(os.readlink(link))]  # retention kept the current
    assert (link / "manifest.json").exists()
    assert (publish_dir / "current").resolve() == link.resolve()


def test_a_second_publisher_waits_saying_for_whom(tmp_path):
    home = tmp_path / "home"
    env = env_for(home)
    hold = """
import time
from kairos import publish
from kairos.config import Settings
with publish.publish_lock(Settings.from_env(), "kairos publish 2026-11-03 (run a)"):
    print("holding", flush=True)
    time.sleep(3)
"""
    holder = python(hold, env)
    assert holder.stdout.readline().strip() == "holding"
    waiter = subprocess.Popen(
        [sys.executable, "-c", PUBLISHER, str(DAY), "1"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    out, err = waiter.communicate(timeout=120)
    holder.wait()
    assert waiter.returncode == 0, err
    assert "waiting for the publishing lock, held by kairos publish 2026-11-03 (run a)" in err
    assert out.strip() == f"{DAY}.001"


KEY = """
from kairos.config import Settings
print(Settings.from_env().secret("KAIROS_PSEUDONYM_KEY", "pseudonym.key"))
"""


def test_processes_starting_together_agree_on_one_key_and_never_read_an_empty_one(tmp_path):
    """F9: 30 times, four processes start together on a data root without a key file:
    each round all four print the same 64-character key (once, 9 in 200 read it empty)."""
    for round_ in range(30):
        env = env_for(tmp_path / f"home{round_}")
        procs = [python(KEY, env) for _ in range(4)]
        keys = set()
        for p in procs:
            out, err = p.communicate(timeout=60)
            assert p.returncode == 0, err
            keys.add(out.strip())
        assert len(keys) == 1 and len(keys.pop()) == 64
        key = tmp_path / f"home{round_}" / "secrets" / "pseudonym.key"
        assert oct(key.stat().st_mode & 0o777) == "0o600"
        assert not [p for p in key.parent.iterdir() if p.name.endswith(".tmp")]


def test_an_empty_or_short_key_stops_the_run_naming_where_it_came_from(tmp_path, monkeypatch):
    from kairos.config import SecretError

    key = tmp_path / "home" / "secrets" / "pseudonym.key"
    key.parent.mkdir(parents=True)
    monkeypatch.setenv("KAIROS_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("KAIROS_PSEUDONYM_KEY", raising=False)
    cfg = Settings.from_env()
    for text in ("", "\n", "short"):
        key.write_text(text)
        with pytest.raises(SecretError, match=f"the key file {key} holds"):
            cfg.secret("KAIROS_PSEUDONYM_KEY", "pseudonym.key")
    env_cfg = dataclasses.replace(cfg, secrets={"KAIROS_PSEUDONYM_KEY": "chaos"})
    with pytest.raises(SecretError, match="KAIROS_PSEUDONYM_KEY is 5 bytes long") as exc:
        env_cfg.secret("KAIROS_PSEUDONYM_KEY", "pseudonym.key")
    assert "chaos" not in str(exc.value)
    # the CLI stops with the error, and publishes nothing under a guessable key
    run = subprocess.run(
        [str(Path(sys.executable).with_name("kairos")), "publish", "--date", str(DAY)],
        env=env_for(tmp_path / "home"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode != 0
    assert not (tmp_path / "home" / "publish" / "lists").exists()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_the_demo_and_a_running_scheduler_refuse_each_other_and_the_scheduler_stays_up(
    tmp_path,
):
    """demo x scheduler: with `kairos scheduler` up, `kairos demo` refuses at once naming
    it (it would write into the scheduler's metadata DB), so does a second scheduler, and
    the first stays healthy; stopped with SIGTERM (Ctrl-C), it leaves no part running."""
    from kairos.airflow_local import Api, healthy

    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    env = env_for(
        tmp_path / "home",
        AIRFLOW__API__PORT=str(port),
        AIRFLOW__API__BASE_URL=base,
        AIRFLOW__LOGGING__LOGGING_LEVEL="WARNING",
    )
    kairos = str(Path(sys.executable).with_name("kairos"))
    scheduler = subprocess.Popen(
        [kairos, "scheduler"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        lines = []
        deadline = time.monotonic() + 300
        while not any(line.startswith("  running:") for line in lines):
            assert time.monotonic() < deadline and scheduler.poll() is None, lines
            lines.append(scheduler.stdout.readline())
        assert healthy(base)
        for command, why in (
            (["demo", "--subscribers", "100"], "dag.test() in the metadata database"),
            (["scheduler"], "it is already running"),
        ):
            second = subprocess.run(
                [kairos, *command], env=env, capture_output=True, text=True, timeout=120
            )
            assert second.returncode == 1
            assert f"kairos scheduler (pid {scheduler.pid}," in second.stderr
            assert "holds Kairos's Airflow" in second.stderr and why in second.stderr
        assert not (tmp_path / "home" / "landing").exists()  # the demo generated nothing
        # a trigger retried after an answer that never came finds the run it made
        api = Api(Settings.from_env(env), base)
        while "ingest_boss" not in api.dag_ids():
            assert time.monotonic() < deadline, "ingest_boss never parsed"
            time.sleep(2)
        logical = dt.datetime(2026, 11, 1, 16, tzinfo=dt.UTC)
        first = api.trigger("ingest_boss", logical)
        assert api.trigger("ingest_boss", logical) == first
        time.sleep(10)  # a scheduler heartbeat later, everything still answers
        assert healthy(base) and scheduler.poll() is None
    finally:
        scheduler.terminate()
        out, _ = scheduler.communicate(timeout=180)
    assert scheduler.returncode == 0, out
    assert "stopping: scheduler" in out
    assert not healthy(base)  # the API server, stopped last, is gone too
