"""The package's shape, each rule one test over the whole tree that lists every offender.

Dependencies point one way and form no cycle; nothing imports by name strings; functions stay short or say
why; the top level holds only lesson modules a notebook sends the student to; answers are hidden by one
mechanism (solution blocks); closeness, central differences and the check record each exist once; every
lesson module and every notebook's check module has its test module. (No line cap per module: a module
holds one topic, however long that topic needs.)"""
import ast
import re
from pathlib import Path

from helpers.data.paths import PROJECT_ROOT

HELPERS = PROJECT_ROOT / "helpers"
TOOLS = PROJECT_ROOT / "tools"
# A module may import from its own layer and the layers before it, never from a later one.
LAYERS = ("runtime", "data", "lessons", "models", "checks", "plots", "experiments")


def layer_of(module: str) -> str:
    """'helpers.data.cifar' and 'helpers.data' -> 'data'; a top-level lesson module ('helpers.mynet') -> 'lessons'."""
    parts = module.split(".")
    return parts[1] if len(parts) >= 2 and parts[1] in LAYERS else "lessons"  # a layer's package is in it


def module_name(path: Path) -> str:
    parts = path.relative_to(PROJECT_ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(source: str, top_level_only: bool = False) -> set[str]:
    """Every module named by an import statement (functions' local imports too, unless ``top_level_only``)."""
    tree = ast.parse(source)
    nodes = tree.body if top_level_only else ast.walk(tree)
    names = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names |= {f"{node.module}.{alias.name}" for alias in node.names}  # from helpers import mynet
    return names


MODULES = sorted(p for p in HELPERS.rglob("*.py") if "__pycache__" not in p.parts)
KNOWN = {module_name(p) for p in MODULES} | {module_name(p) for p in TOOLS.rglob("*.py")}


def upward_imports(path: Path, source: str) -> list[str]:
    own = LAYERS.index(layer_of(module_name(path)))
    found = []
    for name in sorted(imported_modules(source)):
        if name.split(".")[0] == "tools":
            found.append(f"{module_name(path)} -> {name} (helpers never imports the tools package)")
        elif name.startswith("helpers.") and name in KNOWN and LAYERS.index(layer_of(name)) > own:
            found.append(f"{module_name(path)} -> {name} ({layer_of(name)} comes after {layer_of(module_name(path))})")
    return found


def test_every_module_belongs_to_a_known_layer():
    subpackages = {p.name for p in HELPERS.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert subpackages <= set(LAYERS), f"unknown sub-packages: {sorted(subpackages - set(LAYERS))}"


def test_imports_point_down():
    offenders = [edge for path in MODULES for edge in upward_imports(path, path.read_text())]
    assert not offenders, "imports that point upward:\n" + "\n".join(offenders)


def test_the_import_rule_catches_an_upward_import():
    source = "def f():\n    from helpers.plots.style import use_style\n"
    assert upward_imports(HELPERS / "mynet.py", source) == [
        "helpers.mynet -> helpers.plots.style (plots comes after lessons)"]


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every cycle of ``graph`` found by depth-first search, each as the list of modules around it."""
    cycles, state = [], {}

    def visit(node, path):
        state[node] = "open"
        for target in sorted(graph.get(node, ())):
            if state.get(target) == "open":
                cycles.append(path[path.index(target):] + [target])
            elif target not in state:
                visit(target, path + [target])
        state[node] = "done"
    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    return cycles


def test_module_level_imports_form_no_cycle():
    graph = {module_name(p): {n for n in imported_modules(p.read_text(), top_level_only=True)
                              if n in KNOWN and n != module_name(p) and n != "helpers"} for p in MODULES}
    cycles = import_cycles(graph)
    assert not cycles, "import cycles: " + "; ".join(" -> ".join(c) for c in cycles)


def test_the_cycle_rule_finds_a_cycle():
    assert import_cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c", "a"]]
    assert import_cycles({"a": {"b"}, "b": set()}) == []


# Only the sandbox worker resolves "module:function" names: that is how a check calls the student's code.
NAME_STRING_IMPORTERS = {"helpers.checks.sandbox_worker"}


def test_nothing_imports_by_name_strings():
    pattern = re.compile(r"\bimport_module\(|\b__import__\(")
    offenders = [f"{module_name(p)}:{number}" for p in MODULES if module_name(p) not in NAME_STRING_IMPORTERS
                 for number, line in enumerate(p.read_text().splitlines(), 1) if pattern.search(line)]
    assert not offenders, "imports by name string: " + ", ".join(offenders)


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


def test_functions_stay_short_or_say_why():
    offenders = [f"{module_name(p)}: {name}" for p in MODULES + sorted(TOOLS.rglob("*.py"))
                 for name in long_functions(p.read_text())]
    assert not offenders, f"split these or say why in a '{LONG_FUNCTION_NOTE}' comment:\n" + "\n".join(offenders)


def test_the_length_rule_counts_code_not_docstrings():
    body = "\n".join(f"    x{i} = {i}" for i in range(MAX_FUNCTION_LINES))
    docstring = '    """' + "\n" * 30 + '    """\n'
    short = "\n".join(body.splitlines()[1:])
    assert long_functions(f"def f():\n{docstring}{short}\n") == []  # 50 lines with the def, and a long docstring
    assert long_functions(f"def f():\n{body}\n    return x0\n") == ["f (52 lines without its docstring)"]
    assert long_functions(f"def f():\n    {LONG_FUNCTION_NOTE} it is a table\n{body}\n") == []


LESSON_MODULES = sorted(p for p in HELPERS.glob("*.py") if p.name != "__init__.py")
CHECK_MODULES = sorted(HELPERS.glob("checks/nb0[0-9]_*.py"))


def _notebook_markdown() -> str:
    import nbformat
    return "\n".join(cell.source for path in sorted((PROJECT_ROOT / "notebooks").glob("*.ipynb"))
                     for cell in nbformat.read(path, as_version=4).cells if cell.cell_type == "markdown")


def test_the_top_level_holds_only_modules_a_notebook_sends_the_student_to():
    markdown = _notebook_markdown()
    offenders = [p.name for p in LESSON_MODULES if f"helpers/{p.name}" not in markdown]
    assert not offenders, ("top-level modules no notebook's text names (move them into a sub-package, or name "
                           "them where the notebook sends the student): " + ", ".join(offenders))


def test_one_answer_hiding_mechanism_the_solution_blocks():
    other = re.compile(r"reference_until_done|#\s*student edition:|def _question\(")
    offenders = [f"{module_name(p)}:{number}" for p in MODULES if module_name(p) != "helpers.runtime.exercises"
                 for number, line in enumerate(p.read_text().splitlines(), 1) if other.search(line)]
    assert not offenders, "answers hidden by something other than solution blocks: " + ", ".join(offenders)


def _definitions(pattern: str, modules=MODULES) -> list[str]:
    """Module-level functions and classes whose name matches ``pattern``, as ``module.name``."""
    return [f"{module_name(path)}.{node.name}" for path in modules for node in ast.parse(path.read_text()).body
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and re.fullmatch(pattern, node.name)]


CENTRAL_DIFFERENCE = re.compile(r"\)\s*/\s*\(?\s*2\s*\*\s*\w+\s*\)")  # "(f(x + h) - f(x - h)) / (2 * h)"


def test_closeness_central_differences_and_the_check_record_each_exist_once():
    assert _definitions(r"_?(close|matches|agrees|allclose)") == ["helpers.checks.toolkit.close"]
    own_rules = [f"{module_name(p)}:{n}" for p in sorted(HELPERS.glob("checks/*.py"))
                 for n, line in enumerate(p.read_text().splitlines(), 1) if re.search(r"\b(allclose|isclose)\(", line)]
    assert not own_rules, "closeness decided outside toolkit.close: " + ", ".join(own_rules)
    arithmetic = [f"{module_name(p)}:{n}" for p in MODULES for n, line in enumerate(p.read_text().splitlines(), 1)
                  if CENTRAL_DIFFERENCE.search(line)]
    assert [place.split(":")[0] for place in arithmetic] == ["helpers.gradcheck"] * 2, arithmetic
    assert sorted(_definitions(r"\w*(Outcome|Result|Record|Report)", sorted(HELPERS.glob("checks/*.py")))) == [
        "helpers.checks.exercises.ExerciseResult", "helpers.checks.toolkit.CheckOutcome"]


def test_the_central_difference_rule_recognises_the_formula():
    assert CENTRAL_DIFFERENCE.search("grad[i] = (plus - minus) / (2 * h)")
    assert CENTRAL_DIFFERENCE.search("return (f(x + eps) - f(x - eps)) / (2*eps)")
    assert not CENTRAL_DIFFERENCE.search("mean = total / count")


# A check module's sandbox side and notebook 05's instructor-only references are tested through its check module.
UNTESTED_ALONE = ("_sandbox", "_references")


def test_every_lesson_and_check_module_has_its_test_module():
    tests = {p.stem for p in (PROJECT_ROOT / "tests").glob("test_*.py")}
    missing = [f"tests/test_{p.stem}.py" for p in LESSON_MODULES + CHECK_MODULES
               if f"test_{p.stem}" not in tests and not p.stem.endswith(UNTESTED_ALONE)]
    assert not missing, "lesson or check modules without a test module: " + ", ".join(missing)
