"""The core reads no clock and no environment, and starts nothing (STYLE.md §3)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

CORE = Path(__file__).resolve().parents[2] / "src" / "patchfleet" / "core"

FORBIDDEN_CALLS = {
    ("datetime", "now"),
    ("datetime", "utcnow"),
    ("datetime", "today"),
    ("date", "today"),
    ("time", "time"),
    ("time", "monotonic"),
    ("time", "perf_counter"),
    ("time", "sleep"),
    ("os", "getenv"),
    ("os", "system"),
    ("random", "random"),
}
FORBIDDEN_ATTRS = {("os", "environ")}
FORBIDDEN_MODULES = {
    "subprocess",
    "socket",
    "logging",
    "random",
    "os",
    "pathlib",
    "io",
    "shutil",
    "sqlite3",
}


def core_modules() -> list[Path]:
    return sorted(CORE.glob("*.py"))


def dotted(node: ast.AST) -> tuple[str, str] | None:
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
        return node.value.id, node.attr
    return None


def violations(tree: ast.AST) -> list[str]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [
                f"import {a.name}"
                for a in node.names
                if a.name.split(".")[0] in FORBIDDEN_MODULES
            ]
        elif (
            isinstance(node, ast.ImportFrom)
            and (node.module or "").split(".")[0] in FORBIDDEN_MODULES
        ):
            found.append(f"from {node.module} import ...")
        elif isinstance(node, ast.Call) and dotted(node.func) in FORBIDDEN_CALLS:
            found.append("call %s.%s()" % dotted(node.func))  # noqa: UP031
        elif isinstance(node, ast.Attribute) and dotted(node) in FORBIDDEN_ATTRS:
            found.append("use of %s.%s" % dotted(node))  # noqa: UP031
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in {"open", "print"}
        ):
            found.append(f"call {node.func.id}()")
    return found


def test_core_has_modules():
    assert len(core_modules()) >= 5


@pytest.mark.parametrize("path", core_modules(), ids=lambda p: p.name)
def test_core_module_is_pure(path):
    assert violations(ast.parse(path.read_text())) == []


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        pytest.param(
            "from datetime import datetime\nx = datetime.now()",
            ["call datetime.now()"],
            id="clock",
        ),
        pytest.param(
            "import os\nx = os.environ['A']",
            ["import os", "use of os.environ"],
            id="environ",
        ),
        pytest.param("import subprocess", ["import subprocess"], id="subprocess"),
        pytest.param("open('x')", ["call open()"], id="file"),
        pytest.param("def f(now):\n    return now", [], id="clean"),
    ],
)
def test_checker_catches_impurity(source, expected):
    assert violations(ast.parse(source)) == expected
