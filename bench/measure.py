"""How the benchmarks measure a step: run it as its own process and read the kernel's
account of it (wall seconds, and the peak RSS of it and its children)."""

from __future__ import annotations

import os
import subprocess
import time


def measured(argv: list[str], env: dict, mark: str = "") -> tuple[float, float, str]:
    """Run a command; return (seconds, peak RSS in MiB, a line of its output): the last
    line, or -- given ``mark`` -- what follows ``mark`` on the last line that holds it.
    A command that fails stops the benchmark with the end of its output."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - t0
    what = " ".join(argv[:4])[:200]
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{what} failed:\n{out[-5000:]}")
    if not mark:
        lines = out.strip().splitlines()
    else:  # the mark may follow a line the child's stderr left unfinished (both merged)
        lines = [line.split(mark, 1)[1] for line in out.splitlines() if mark in line]
        if not lines:
            raise SystemExit(f"{what} printed no {mark.strip()}:\n{out[-5000:]}")
    return seconds, usage.ru_maxrss / 1024, lines[-1] if lines else ""
