"""No solution leaks into the student edition: not in code, Markdown, outputs, docstrings or printed source.

Every solution block (helpers and notebook cells) and every Markdown answer cell of the instructor edition is
normalised (comments dropped, all whitespace removed) and searched for in the whole student edition, each
file normalised the same way (a notebook as its cells' sources and outputs). So is every sentence of the
instructor edition's generated observations (``tests/leak_sentences.py``); ``tests/test_student_edition_runs.py``
looks for them in the student edition's outputs, executed.
"""
import io
import re
import tokenize

import nbformat
import pytest

from helpers.data.paths import PROJECT_ROOT
from tests.leak_sentences import leaked, observation_sentences
from tools.editions import ANSWER_TAG, BEGIN, END, student_files

MIN_LENGTH = 8  # a normalised solution shorter than this ("returnx") is too short to call a leak


def without_comments(source: str) -> str:
    """Python source without its comments (tokenize: a ``#`` inside a string stays)."""
    try:
        tokens = [t for t in tokenize.generate_tokens(io.StringIO(source).readline) if t.type != tokenize.COMMENT]
        return tokenize.untokenize(tokens)
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return re.sub(r"(?m)#.*$", "", source)


def normalised(text: str) -> str:
    return re.sub(r"\s+", "", text)


def solution_blocks(source: str) -> list[str]:
    blocks, current = [], None
    for line in source.splitlines():
        if line.strip() == BEGIN:
            current = []
        elif line.strip() == END:
            blocks.append("\n".join(current))
            current = None
        elif current is not None:
            current.append(line)
    return blocks


def instructor_solutions() -> dict[str, str]:
    """Where -> normalised text, for every solution block and Markdown answer cell."""
    found = {}
    for path in sorted((PROJECT_ROOT / "helpers").rglob("*.py")):
        for number, block in enumerate(solution_blocks(path.read_text())):
            found[f"{path.relative_to(PROJECT_ROOT)} block {number}"] = normalised(without_comments(_dedented(block)))
    for path in sorted((PROJECT_ROOT / "notebooks").glob("*.ipynb")):
        for index, cell in enumerate(nbformat.read(path, as_version=4).cells):
            if cell.cell_type == "code":
                for number, block in enumerate(solution_blocks(cell.source)):
                    found[f"{path.name} cell {index} block {number}"] = normalised(without_comments(_dedented(block)))
            elif ANSWER_TAG in cell.metadata.get("tags", []):
                found[f"{path.name} answer cell {index}"] = normalised(cell.source)
    return {where: text for where, text in found.items() if len(text) >= MIN_LENGTH}


def _dedented(block: str) -> str:
    import textwrap
    return textwrap.dedent(block)


def student_corpus() -> dict[str, str]:
    """Every file of the student edition, normalised; notebooks as their cells' sources and outputs."""
    corpus = {}
    for name, content in student_files().items():
        if name.endswith(".py"):
            corpus[name] = normalised(without_comments(content.decode())) + "\n" + normalised(content.decode())
        elif name.endswith(".ipynb"):
            notebook = nbformat.reads(content.decode(), as_version=4)
            parts = [cell.source for cell in notebook.cells]
            parts += [str(output) for cell in notebook.cells for output in cell.get("outputs", [])]
            corpus[name] = "\n".join(normalised(part) for part in parts)
        elif name.endswith((".md", ".txt")):
            corpus[name] = normalised(content.decode())
    return corpus


SOLUTIONS = instructor_solutions()


@pytest.fixture(scope="module")
def corpus():
    return student_corpus()


def test_there_are_solutions_to_protect():
    assert len(SOLUTIONS) >= 20


@pytest.mark.parametrize("where", sorted(SOLUTIONS))
def test_a_solution_appears_nowhere_in_the_student_edition(corpus, where):
    leaks = [name for name, text in corpus.items() if SOLUTIONS[where] in text]
    assert not leaks, f"the solution of {where} is in the student edition: {leaks}"


STEMS = sorted(path.stem for path in (PROJECT_ROOT / "notebooks").glob("*.ipynb"))


def test_the_observations_to_protect_are_found():
    """Notebooks 03-05 each display observations written from their numbers (04: also answers (a)-(g))."""
    counts = {stem: len(observation_sentences(stem)) for stem in STEMS}
    assert counts["03_mynet_delta_rule"] >= 5 and counts["05_deepdream"] >= 3, counts
    assert counts["04_cifar_cat_vs_car"] >= 40, counts


@pytest.mark.parametrize("stem", STEMS)
def test_no_sentence_of_a_generated_observation_is_in_the_student_edition(corpus, stem):
    found = leaked(stem, "\n".join(corpus.values()))
    assert not found, f"observations of {stem} in the student edition's files:\n" + "\n".join(found)


def test_the_observation_writers_return_only_a_prompt_in_the_student_edition(monkeypatch):
    """Where ``SHOWS_ANSWERS`` is False they return the prompt before looking at their arguments."""
    from helpers.experiments import catcar_eval, catcar_extension, catcar_sweep, delta_norms, dream_ladder, zero_grad
    from helpers.runtime import edition
    from helpers.runtime.exercises import HIDDEN_OBSERVATIONS
    monkeypatch.setattr(edition, "SHOWS_ANSWERS", False)
    for write, n_arguments in ((catcar_sweep.observations, 1), (catcar_extension.ablation_observations, 2),
                               (catcar_eval.interpret_test_accuracy, 5), (delta_norms.observations, 6),
                               (dream_ladder.observations, 5), (zero_grad.observation, 5)):
        assert write(*[None] * n_arguments) == HIDDEN_OBSERVATIONS, write.__name__


# ---- exercise 0.3's reverse sweep is only in its own solution blocks ----------------------------------------

SWEEP_EXERCISE_FILE = "helpers/scalar_autodiff.py"  # topological_order and Value.backward (exercise 0.3)


def _reverse_sweeps(source: str) -> list[int]:
    """Lines of ``for ... in reversed(...)`` loops that propagate something backwards through the graph: the
    body reads ``.operands`` (pushes to the operands) or stores into a table (``gradient[id(node)] = ...``)."""
    import ast
    found = []
    for loop in ast.walk(ast.parse(source)):
        if not (isinstance(loop, ast.For) and isinstance(loop.iter, ast.Call)
                and getattr(loop.iter.func, "id", None) == "reversed"):
            continue
        body = [node for statement in loop.body for node in ast.walk(statement)]
        pushes = any(isinstance(node, ast.Attribute) and node.attr == "operands" for node in body)
        stores = any(isinstance(node, (ast.Assign, ast.AugAssign)) and any(
            isinstance(target, ast.Subscript) for target in getattr(node, "targets", [getattr(node, "target", None)]))
            for node in body)
        if pushes or stores:
            found.append(loop.lineno)
    return found


def test_no_reverse_sweep_of_the_scalar_graph_outside_exercise_0_3():
    """The walkthrough and the chain-rule table step through the student's own ``Value.backward`` (or its
    labelled stand-in): no other module of the student edition holds a reverse sweep to copy."""
    sweeps = {name: lines for name, content in student_files().items()
              if name.startswith("helpers/") and name.endswith(".py") and name != SWEEP_EXERCISE_FILE
              and "scalar_autodiff" in content.decode()
              and (lines := _reverse_sweeps(content.decode()))}
    assert not sweeps, f"a reverse sweep of the scalar engine's graph in the student edition: {sweeps}"


# ---- diagnoses name the mistake, not the right formula -------------------------------------------------------

# Formulas (and parts of formulas) of the solutions, whitespace, "·" and "*" removed, each with where it is the
# answer. A diagnosis says what went wrong ("the derivative of r is wrong"), never what is right.
ANSWER_FRAGMENTS = {
    "x/r": "1.1 spiral_grad: ∇r",
    "sin(u)cos(u)": "1.1 spiral_grad: the derivative of sin²",
    "cos(u)": "1.1 spiral_grad: the local derivative of sin", "(cosu)": "1.1 spiral_grad",
    "ŷ-y": "the squared error's derivative (2.3, 3.1)", "y_hat-y": "2.3 mse_backward",
    "θ−lr": "the update (1.2, 2.4, 3.2)", "θ-lr": "the update", "θ−η": "4.4 the SGD update", "θ-η": "4.4",
    "λθ": "4.4 weight decay", "1-weight_decay": "5.1 the decay towards centre", "1−dampening": "4.4 dampening", "1-dampening": "4.4 dampening",
    "1-σ": "σ' (0.2, 0.6, 0.10)", "σ(1-σ)": "σ'", "logisticσ(x)": "0.10 softplus' derivative",
    "insteadofthelogistic": "0.10 softplus' derivative", "1-tanh": "0.2 tanh'",
    "tanhinthederivativeisnotsquared": "0.2 tanh'", "tanhnotsquared": "0.2 tanh'",
    "lna": "0.2 ∂(aᵇ)/∂b", "loweredbyone": "0.2 the power rule", "factorn": "0.2 the power rule",
    "divisornotsquared": "0.2 the quotient rule", "divisorisnotsquared": "0.2 the quotient rule",
    "insteadofx²": "0.8 the closed form of (sin x / x)'", "multipliedbyx": "0.8 the series near 0",
    "xin∂L/∂w": "0.4 ∂L/∂w", "f'(z)": "3.1 δ", "pre-activationz": "3.1 δ", "x_(t-1)": "1.2 the saved gradients",
}


def _normalised_formula(text: str) -> str:
    return re.sub(r"[\s·*]", "", text)


def _string_value(node) -> str | None:
    import ast
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(part.value if isinstance(part, ast.Constant) else "{}" for part in node.values)
    return None


def diagnosis_strings() -> dict[str, list[str]]:
    """Every text a check may print about a mistake, by file of helpers/checks: the keys of the mistakes' dicts,
    the texts given to CheckOutcome and to the exercises' diagnoses lists, and the module's string constants."""
    import ast
    found = {}
    for path in sorted((PROJECT_ROOT / "helpers" / "checks").glob("*.py")):
        tree, texts = ast.parse(path.read_text(encoding="utf-8")), []
        for node in ast.walk(tree):
            if isinstance(node, ast.Dict):
                texts += [_string_value(key) for key in node.keys if key is not None]
            elif isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", "")) in (
                    "CheckOutcome", "Exercise", "_diagnoses"):
                for argument in [*node.args, *(keyword.value for keyword in node.keywords)]:
                    texts += [_string_value(part) for part in ast.walk(argument)]
            elif isinstance(node, ast.Assign) and all(isinstance(t, ast.Name) and t.id.isupper() for t in node.targets):
                texts += [_string_value(part) for part in ast.walk(node.value)]
        found[path.name] = list(dict.fromkeys(text for text in texts if text))
    return found


def test_the_diagnoses_are_found():
    texts = diagnosis_strings()
    assert "sign error in the local gradient" in texts["nb00_graphs.py"]
    assert any("the factor 2 from the square is missing" in t for t in texts["nb00_graphs.py"])
    assert sum(map(len, texts.values())) > 300


def test_no_diagnosis_states_a_formula_of_the_answer():
    stated = [(name, text, fragment) for name, texts in diagnosis_strings().items() for text in texts
              for fragment in ANSWER_FRAGMENTS if fragment in _normalised_formula(text)]
    assert not stated, "diagnoses stating the answer (file, diagnosis, the answer's fragment):\n" + "\n".join(
        f"  {name}: {text!r} ({fragment!r}: {ANSWER_FRAGMENTS[fragment]})" for name, text, fragment in stated)
