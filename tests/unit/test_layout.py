"""The repository layout of SPEC section 2 and STYLE.md, checked so that it cannot drift."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SOURCE_ROOTS = [REPO / "proxy", REPO / "operator"]
MAX_MODULE_LINES = 500
MAX_FUNCTION_LINES = 60  # STYLE says 50 for logic; a little slack for long literal tables and docstrings


@pytest.mark.parametrize("root", SOURCE_ROOTS, ids=lambda p: p.name)
def test_source_roots_are_not_packages(root: Path) -> None:
    """A package named `operator` would shadow the standard library's operator module."""
    assert not (root / "__init__.py").exists(), f"{root.name}/__init__.py must not exist (see STYLE.md)"


def test_stdlib_operator_is_not_shadowed_from_the_repo_root() -> None:
    result = subprocess.run(
        [sys.executable, "-c", "import collections, operator; assert hasattr(operator, 'eq')"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def _python_files() -> list[Path]:
    return sorted(p for root in SOURCE_ROOTS for p in root.rglob("*.py"))


def test_modules_stay_small() -> None:
    too_long = {
        str(p.relative_to(REPO)): n
        for p in _python_files()
        if (n := len(p.read_text().splitlines())) > MAX_MODULE_LINES
    }
    assert not too_long, f"modules over {MAX_MODULE_LINES} lines: {too_long}"


def test_functions_stay_small() -> None:
    too_long = []
    for path in _python_files():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    too_long.append(f"{path.relative_to(REPO)}:{node.lineno} {node.name} ({length} lines)")
    assert not too_long, "functions too long:\n" + "\n".join(too_long)


def test_every_module_has_a_docstring() -> None:
    missing = [
        str(p.relative_to(REPO))
        for p in _python_files()
        if p.stat().st_size and not ast.get_docstring(ast.parse(p.read_text()))
    ]
    assert not missing, f"modules without a docstring saying where they sit: {missing}"


def test_import_contracts_hold() -> None:
    """import-linter: the contract imports no aiohttp/kopf, the proxy not the operator; layers hold."""
    lint_imports = Path(sys.executable).parent / "lint-imports"
    result = subprocess.run(
        [str(lint_imports), "--no-cache"], cwd=REPO, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "broken" not in result.stdout.lower().replace("0 broken", "")
