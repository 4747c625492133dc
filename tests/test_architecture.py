"""The package's shape: dependencies point one way, functions stay short, tools stay outside helpers.

(No line cap per module: a module holds one topic, however long that topic needs.)"""
import ast
from pathlib import Path

import pytest

from helpers.data.paths import PROJECT_ROOT

HELPERS = PROJECT_ROOT / "helpers"
# A module may import from its own layer and the layers before it, never from a later one.
LAYERS = ("runtime", "data", "lessons", "models", "checks", "plots", "experiments")


def layer_of(module: str) -> str:
    """'helpers.data.cifar' -> 'data'; a top-level lesson module ('helpers.mynet') -> 'lessons'."""
    parts = module.split(".")
    return parts[1] if len(parts) > 2 and parts[1] in LAYERS else "lessons"


def module_name(path: Path) -> str:
    parts = path.relative_to(PROJECT_ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path) -> set[str]:
    """Every module named by an import statement, functions' local imports included."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names |= {f"{node.module}.{alias.name}" for alias in node.names}  # from helpers import mynet
    return names


def project_modules() -> set[str]:
    return {module_name(p) for root in ("helpers", "tools") for p in (PROJECT_ROOT / root).rglob("*.py")}


MODULES = sorted(HELPERS.rglob("*.py"))


def test_every_module_belongs_to_a_known_layer():
    subpackages = {p.name for p in HELPERS.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert subpackages <= set(LAYERS), f"unknown sub-packages: {sorted(subpackages - set(LAYERS))}"


@pytest.mark.parametrize("path", MODULES, ids=lambda p: module_name(p))
def test_imports_point_down(path):
    own = LAYERS.index(layer_of(module_name(path)))
    known = project_modules()
    upward = []
    for name in imported_modules(path):
        if name.split(".")[0] == "tools":
            upward.append(f"{name} (helpers never imports the tools package)")
        elif name.split(".")[0] == "helpers" and name in known and name != "helpers":
            if LAYERS.index(layer_of(name)) > own:
                upward.append(f"{name} ({layer_of(name)} comes after {layer_of(module_name(path))})")
    assert not upward, f"{module_name(path)} imports upward: {upward}"


def test_the_rule_catches_an_upward_import(tmp_path):
    # The checker itself must see an upward edge: a lesson module importing a plot module.
    fake = tmp_path / "fake.py"
    fake.write_text("def f():\n    from helpers.plots.style import use_style\n")
    assert "helpers.plots.style" in imported_modules(fake)
    assert LAYERS.index(layer_of("helpers.plots.style")) > LAYERS.index(layer_of("helpers.mynet"))


MAX_FUNCTION_LINES = 50
LONG_FUNCTION_NOTE = "# long because"  # a function over the limit says why, in a comment that starts so


def length_without_docstring(function: ast.FunctionDef) -> int:
    first = function.body[0]
    has_docstring = (isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant)
                     and isinstance(first.value.value, str))
    return function.end_lineno - function.lineno + 1 - (first.end_lineno - first.lineno + 1 if has_docstring else 0)


def long_functions(source: str) -> list[str]:
    """Functions over the limit whose source gives no reason for their length."""
    lines = source.splitlines()
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and length_without_docstring(node) > \
                MAX_FUNCTION_LINES and LONG_FUNCTION_NOTE not in "\n".join(lines[node.lineno - 1:node.end_lineno]):
            found.append(f"{node.name} ({length_without_docstring(node)} lines without its docstring)")
    return found


@pytest.mark.parametrize("path", MODULES + sorted((PROJECT_ROOT / "tools").rglob("*.py")),
                         ids=lambda p: module_name(p))
def test_functions_stay_short_or_say_why(path):
    too_long = long_functions(path.read_text())
    assert not too_long, f"{module_name(path)}: split these or say why in a '{LONG_FUNCTION_NOTE}' comment: {too_long}"


def test_the_length_rule_counts_code_not_docstrings():
    body = "\n".join(f"    x{i} = {i}" for i in range(MAX_FUNCTION_LINES))
    docstring = '    """' + "\n" * 30 + '    """\n'
    short = "\n".join(body.splitlines()[1:])
    assert long_functions(f"def f():\n{docstring}{short}\n") == []  # 50 lines with the def, and a long docstring
    assert long_functions(f"def f():\n{body}\n    return x0\n") == ["f (52 lines without its docstring)"]
    assert long_functions(f"def f():\n    {LONG_FUNCTION_NOTE} it is a table\n{body}\n") == []
