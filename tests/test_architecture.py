"""The package's shape: every module has a layer and imports only its own layer or those
below, with no cycle (imports inside functions included); an import inside a function
says why it is lazy; the runtime never imports the sample-data code; nothing but the
configuration reads the environment; and a wheel installed outside the checkout finds
its project through configuration. docs/architecture.md draws the layers."""

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
SAMPLE = PROJECT / "sample" / "src" / "kairos_sample"
# the edges that import the sample distribution: the command line (`generate`, `next-day`,
# `evaluate`) and the demo driver
EDGES = {"cli.py", "demo.py"}


def _modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE)
        if str(relative) in EDGES:
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


# docs/architecture.md's layers, lowest first; a module imports its own layer or lower ones
LAYERS = {
    "foundations": (
        "kairos",
        "kairos.config",
        "kairos.contract",
        "kairos.control",
        "kairos.dates",
        "kairos.files",
        "kairos.locks",
        "kairos.alerts",
    ),
    "stores": ("kairos.warehouse.store", "kairos.publish.outcomes"),
    "steps": (
        "kairos.ingest",
        "kairos.warehouse",
        "kairos.quality",
        "kairos.publish",
        "kairos.spark",
        "kairos.retention",
    ),
    "pipeline": ("kairos.pipeline",),
    "orchestration": ("kairos.orchestration", "kairos.airflow_local", "kairos.operations"),
    # the demo drives Airflow over a sample delivery: above the runtime, which never
    # imports it or the sample distribution (below)
    "demo": ("kairos.demo",),
    "edges": ("kairos.cli", "kairos.portal"),
}
RANK = {layer: i for i, layer in enumerate(LAYERS)}


def _module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer_of(module: str) -> str | None:
    """The layer of the longest prefix named in LAYERS (a package's modules share it
    unless one of them is named on its own)."""
    named = [
        (len(prefix), layer)
        for layer, prefixes in LAYERS.items()
        for prefix in prefixes
        if module == prefix or module.startswith(prefix + ".")
    ]
    return max(named)[1] if named else None


def import_graph(root: Path) -> tuple[dict[str, set[str]], dict[str, list[ast.stmt]]]:
    """Every module of the package at ``root`` and the package modules it imports --
    at the top, inside functions and under ``if`` alike -- and its function-level
    imports. ``from a import b`` counts as an import of ``a.b`` when that is a module."""
    modules = {_module_name(p, root): p for p in sorted(root.rglob("*.py"))}
    graph: dict[str, set[str]] = {}
    lazy: dict[str, list[ast.stmt]] = {}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        targets: set[str] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                wanted = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    up = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join(up + ([base] if base else []))
                wanted = [
                    f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base
                    for a in node.names
                ]
            else:
                continue
            for target in wanted:
                while target and target not in modules:
                    target = target.rpartition(".")[0]
                if target and target != name:
                    targets.add(target)
        graph[name] = targets
        inner = {
            node.lineno: node
            for fn in ast.walk(tree)
            if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef))
            for node in ast.walk(fn)
            if isinstance(node, (ast.Import, ast.ImportFrom))
        }
        lazy[name] = [inner[k] for k in sorted(inner)]
    return graph, lazy


def _reach(graph: dict[str, set[str]], start: str) -> set[str]:
    seen, todo = set(), list(graph[start])
    while todo:
        node = todo.pop()
        if node not in seen:
            seen.add(node)
            todo.extend(graph.get(node, ()))
    return seen


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The import cycles: groups of modules that each reach the others."""
    reach = {m: _reach(graph, m) for m in graph}
    groups = {
        tuple(sorted(m2 for m2 in reach[m] if m in reach[m2])) for m in graph if m in reach[m]
    }
    return sorted(list(g) for g in groups)


def layering_problems(root: Path) -> list[str]:
    graph, _ = import_graph(root)
    problems = [f"{m}: no layer in LAYERS" for m in graph if layer_of(m) is None]
    for module, targets in sorted(graph.items()):
        for target in sorted(targets):
            mine, theirs = layer_of(module), layer_of(target)
            if mine and theirs and RANK[theirs] > RANK[mine]:
                problems.append(f"{module} ({mine}) imports {target} ({theirs}), a higher layer")
    problems += [f"import cycle: {' -> '.join(c)}" for c in cycles(graph)]
    return problems


def test_every_import_goes_down_the_layers_and_none_makes_a_cycle():
    assert layering_problems(PACKAGE) == []


def test_a_planted_upward_import_or_cycle_is_caught(tmp_path):
    copy = tmp_path / "kairos"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    # hidden in a function, as the pipeline/publish loop once was
    with (copy / "files.py").open("a", encoding="utf-8") as f:
        f.write("\n\ndef _planted():\n    from kairos.pipeline import daily  # lazy: planted\n")
    problems = layering_problems(copy)
    assert (
        "kairos.files (foundations) imports kairos.pipeline.daily (pipeline), a higher layer"
        in problems
    )
    assert any(p.startswith("import cycle:") and "kairos.files" in p for p in problems), problems


def test_an_import_inside_a_function_says_why_it_is_lazy():
    """Imports belong at the top; one inside a function is kept only where loading it
    later is the point (Airflow's configuration set first, a DAG file parsed light, a
    web stack or GX loaded only by the command that needs them) and says so."""
    _, lazy = import_graph(PACKAGE)
    unexplained = []
    for module, nodes in lazy.items():
        if not nodes:
            continue
        path = PACKAGE.parent.joinpath(*module.split(".")).with_suffix(".py")
        if not path.exists():
            path = path.with_suffix("") / "__init__.py"
        lines = path.read_text(encoding="utf-8").splitlines()
        for node in nodes:
            here = (
                lines[node.lineno - 1 : node.end_lineno] + lines[node.lineno - 2 : node.lineno - 1]
            )
            if not any("# lazy:" in line for line in here):
                unexplained.append(f"{module}:{node.lineno}")
    assert unexplained == []


def test_the_runtime_imports_nothing_from_the_sample_code():
    offenders = {
        str(path): sorted(n for n in _imported(tree) if n.startswith("kairos_sample"))
        for path, tree in _modules()
    }
    assert not {k: v for k, v in offenders.items() if v}


def test_the_sample_distribution_stands_on_the_foundations_only():
    """kairos_sample writes deliveries to the contract and reads marts with DuckDB: of
    Kairos it may use the foundations (contract, control files, configuration), nothing
    that loads, builds or publishes."""
    upward = []
    for path in sorted(SAMPLE.rglob("*.py")):
        for name in _imported(ast.parse(path.read_text(encoding="utf-8"))):
            if name == "kairos" or not name.startswith("kairos."):
                continue
            module = name
            while module and layer_of(module) is None:
                module = module.rpartition(".")[0]
            if layer_of(module) != "foundations":
                upward.append(f"{path.relative_to(PROJECT)} imports {name}")
    assert upward == []


def test_importing_the_runtime_loads_no_sample_module():
    code = textwrap.dedent(
        """
        import json, sys
        import kairos.ingest, kairos.warehouse, kairos.quality, kairos.pipeline.daily
        import kairos.portal, kairos.pipeline, kairos.operations, kairos.orchestration
        print(json.dumps(sorted(m for m in sys.modules if m.startswith("kairos_sample"))))
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
    # the portal's templates are package data too
    templates = subprocess.run(
        [
            str(python),
            "-c",
            "from kairos.portal import routes; routes._env.get_template('lists.html')",
        ],
        cwd=outside,
        env=env,
        capture_output=True,
        text=True,
    )
    assert templates.returncode == 0, templates.stderr
    # kairos alone is the runtime: the sample commands say what they need
    sample = run("generate", "--date", "2026-11-21", KAIROS_PROJECT_DIR=str(PROJECT))
    assert sample.returncode == 2 and "needs the sample distribution, kairos-sample" in (
        sample.stderr
    )
