"""Who may touch what, checked by reading the code: the import layers, and one owner for admission.

- Only the lease module takes or gives back a concurrency slot, a bucket's tokens or a breaker's permit
  (and the breaker and limits modules themselves, which define them).
- The import-linter contracts of pyproject.toml hold today and fail on an import against the layers
  (shown on a copy of the package with one bad import added).
- No module-level mutable state in the sidecar package.
"""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "proxy" / "switchboard_proxy"
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"

# The calls that take or give back admission resources (breaker permits, slots, bucket tokens).
ADMISSION_CALLS = frozenset(
    {"acquire", "on_success", "on_failure", "on_release", "try_acquire", "release_slot", "try_take", "settle"}
)
# The admission layer: the lease and the state machines it holds (the breaker; the concurrency slots and
# their queue; the rate buckets, local or leased from the fleet; the route budgets' books).
OWNERS = {"leasing.py", "breaker.py", "limits.py", "slots.py", "buckets.py", "budgeting.py"}


def _calls_in(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in ADMISSION_CALLS
        ):
            found.append(f"{path.relative_to(REPO)}:{node.lineno} .{node.func.attr}()")
    return found


def test_only_the_lease_module_takes_or_releases_admission_resources() -> None:
    execution = PACKAGE / "execution"
    offenders = [
        call
        for path in sorted(PACKAGE.rglob("*.py"))
        if not (path.parent == execution and path.name in OWNERS) and "sim" not in path.parts
        for call in _calls_in(path)
    ]
    helpers = [
        p for p in (REPO / "tests").rglob("*.py") if p.name not in ("test_breaker.py", "test_limits.py")
    ]
    offenders += [call for path in helpers for call in _calls_in(path) if path.name != Path(__file__).name]
    assert offenders == [], "admission resources are taken or released outside leasing.py:\n" + "\n".join(
        offenders
    )


def test_the_import_contracts_hold() -> None:
    result = subprocess.run([str(LINT_IMPORTS), "--no-cache"], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_an_import_against_the_layers_fails_the_lint(tmp_path: Path) -> None:
    shutil.copytree(REPO / "proxy", tmp_path / "proxy", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(REPO / "operator", tmp_path / "operator", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    planner = tmp_path / "proxy" / "switchboard_proxy" / "routing" / "strategies.py"
    planner.write_text(planner.read_text() + "\nfrom switchboard_proxy.execution import leasing  # noqa\n")
    result = subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": f"{tmp_path / 'proxy'}:{tmp_path / 'operator'}"},
    )
    assert result.returncode != 0, result.stdout
    assert "switchboard_proxy.routing.strategies -> switchboard_proxy.execution.leasing" in result.stdout


def test_a_new_module_outside_the_layers_fails_the_lint(tmp_path: Path) -> None:
    shutil.copytree(REPO / "proxy", tmp_path / "proxy", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(REPO / "operator", tmp_path / "operator", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    (tmp_path / "proxy" / "switchboard_proxy" / "helpers.py").write_text('"""Unlayered."""\n')
    result = subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": f"{tmp_path / 'proxy'}:{tmp_path / 'operator'}"},
    )
    assert result.returncode != 0 and "helpers" in result.stdout, result.stdout


# What builds shared mutable state when called at import: registries and metrics, generators, caches.
STATEFUL = frozenset(
    {
        "Random",
        "SystemRandom",
        "CollectorRegistry",
        "Counter",
        "Gauge",
        "Histogram",
        "Summary",
        "Families",
        "Metrics",
        "defaultdict",
        "OrderedDict",
        "deque",
        "set",
        "dict",
        "list",
        "register",
        "lru_cache",
        "cache",
    }
)


def _module_level_calls(path: Path) -> list[tuple[int, str]]:
    calls = []
    for statement in ast.parse(path.read_text()).body:
        nodes: list[ast.AST] = []
        if isinstance(statement, ast.Assign | ast.AnnAssign | ast.Expr) and statement.value is not None:
            nodes.append(statement.value)
        if isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            nodes += statement.decorator_list
        for node in (n for root in nodes for n in ast.walk(root)):
            if isinstance(node, ast.Call):
                func = node.func
                calls.append(
                    (node.lineno, func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", ""))
                )
            elif isinstance(node, ast.Attribute | ast.Name) and (
                getattr(node, "attr", "") or getattr(node, "id", "")
            ) in {"cache", "lru_cache"}:
                calls.append((node.lineno, "cache"))
    return calls


def test_no_module_level_mutable_state_in_the_sidecar() -> None:
    """Module globals are constants: nothing at import builds a registry, a generator, a cache or a
    container that requests then fill, so two apps in one process share nothing."""
    offenders = [
        f"{path.relative_to(REPO)}:{line} {name}()"
        for path in sorted(PACKAGE.rglob("*.py"))
        for line, name in _module_level_calls(path)
        if name in STATEFUL
    ]
    assert offenders == [], "module-level state built at import:\n" + "\n".join(offenders)
