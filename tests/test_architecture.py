"""The package's shape: the runtime never imports the sample-data code, nothing but the
configuration reads the environment, and a wheel installed outside the checkout finds
its project through configuration."""

from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import textwrap
from pathlib import Path

import pytest

from tests.support import PROJECT

PACKAGE = PROJECT / "src" / "kairos"
# the command line is an edge: it imports the sample code for `generate`, `demo`, `evaluate`
EDGES = {"cli.py"}


def _modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE)
        if relative.parts[0] == "sample" or str(relative) in EDGES:
            continue
        yield relative, ast.parse(path.read_text(encoding="utf-8"))


def _imported(tree: ast.AST) -> set[str]:
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names |= {f"{node.module}.{a.name}" for a in node.names}
    return names


def test_the_runtime_imports_nothing_from_the_sample_code():
    offenders = {
        str(path): sorted(n for n in _imported(tree) if n.startswith("kairos.sample"))
        for path, tree in _modules()
    }
    assert not {k: v for k, v in offenders.items() if v}


def test_importing_the_runtime_loads_no_sample_module():
    code = textwrap.dedent(
        """
        import json, sys
        import kairos.ingest, kairos.warehouse, kairos.quality, kairos.publish.daily
        import kairos.portal, kairos.pipeline, kairos.operations, kairos.orchestration
        print(json.dumps(sorted(m for m in sys.modules if m.startswith("kairos.sample"))))
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == []


def test_only_the_configuration_reads_the_environment():
    """Settings are read once at an edge and passed down; airflow_local is the documented
    exception (Airflow reads its own configuration from the process environment)."""
    allowed = {Path("config.py"), Path("airflow_local.py")}
    readers = []
    for path, tree in _modules():
        for node in ast.walk(tree):
            is_environ = isinstance(node, ast.Attribute) and node.attr in ("environ", "getenv")
            if is_environ and path not in allowed:
                readers.append(f"{path}:{node.lineno}")
    assert readers == []


@pytest.mark.slow
def test_a_wheel_installed_outside_the_checkout_finds_its_project_by_configuration(tmp_path):
    # built from a copy of what a source distribution holds (setuptools builds in-tree)
    source = tmp_path / "source"
    shutil.copytree(PROJECT / "src", source / "src", ignore=shutil.ignore_patterns("*.egg-info"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(PROJECT / name, source / name)
    wheels = tmp_path / "wheels"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(wheels),
            str(source),
        ],
        check=True,
        capture_output=True,
    )
    (wheel,) = wheels.glob("kairos-*.whl")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    # the dependencies come from the test environment's site-packages (a plain path: its
    # .pth files -- among them the editable install of the checkout -- are not run)
    Path(site, "dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--no-deps", "--no-index", str(wheel)],
        check=True,
        capture_output=True,
    )
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KAIROS_", "AIRFLOW"))}
    env["KAIROS_HOME"] = str(tmp_path / "home")
    kairos = str(venv / "bin" / "kairos")

    def run(*args, **extra):
        return subprocess.run(
            [kairos, *args], cwd=outside, env={**env, **extra}, capture_output=True, text=True
        )

    assert run("--help").returncode == 0
    where = subprocess.run(
        [str(python), "-c", "import kairos; print(kairos.__file__)"],
        cwd=outside,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert where.startswith(str(venv)), where  # the wheel, not the checkout
    lost = run("config")
    assert lost.returncode == 2 and "KAIROS_PROJECT_DIR" in lost.stderr
    found = run("config", KAIROS_PROJECT_DIR=str(PROJECT))
    assert found.returncode == 0, found.stderr
    assert f"project ok: dbt_project.yml, dbt_project, seeds, expectations, dags in {PROJECT}" in (
        found.stdout
    )
    # the contract (package data) and the project's page agree: both were found
    page = run("contract-doc", "--check", KAIROS_PROJECT_DIR=str(PROJECT))
    assert page.returncode == 0, page.stderr
