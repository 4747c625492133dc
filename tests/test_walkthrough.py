"""The walkthrough's steps (helpers.plots.walkthrough_steps): every number a step shows against torch autograd on an
independent float64 replay of the graph, against the engine and against central differences."""
from __future__ import annotations

import math
import types

import pytest
import torch

from helpers.chain_rule import chain_rule_table
from helpers.gradcheck import AUTOGRAD_TOLERANCE, FINITE_DIFFERENCE_TOLERANCE, compare, numerical_input_gradients
from helpers.graph_derivations import logistic_graph, nyu_graph, quadratic_form_graph
from helpers.scalar_autodiff import Value, exp, log, node_names, sigmoid, topological_order
from helpers.plots.walkthrough_steps import build_walkthrough, key_frames

TORCH_OPS = {"add": torch.add, "sub": torch.sub, "mul": torch.mul, "div": torch.div, "neg": torch.neg,
             "exp": torch.exp, "log": torch.log, "sin": torch.sin, "cos": torch.cos, "sigmoid": torch.sigmoid,
             "tanh": torch.tanh, "pow": torch.pow}


def cs475_task2():
    x, b, w = Value(0.5, "x"), Value(0.3, "b"), Value(1.5, "w")
    f = (w * exp(b * x) + log(w * x)) * b
    f.label = "f"
    return f


def neuron_with_loss():
    w, x, b, y = Value(0.8, "w"), Value(1.5, "x"), Value(-0.4, "b"), Value(1.0, "y")
    loss = (sigmoid(w * x + b) - y) ** 2
    loss.label = "L"
    return loss


def square_plus_itself():
    x = Value(3.0, "x")
    return x * x + x  # x feeds one primitive twice and another once


EXPRESSIONS = {
    "NYU 1.4 (b)": lambda: nyu_graph(1.0, 2.0, -1.5, 0.5),
    "CS475 task 2": cs475_task2,
    "CS-587 logistic": lambda: logistic_graph(1.0),
    "CS-587 quadratic form": lambda: quadratic_form_graph(1.0, -2.0, 1.5, -0.5, 2.0),
    "neuron with its loss": neuron_with_loss,
    "x·x + x": square_plus_itself,
}


def torch_replay(output: Value, inputs: dict[str, torch.Tensor] | None = None) -> dict[str, torch.Tensor]:
    """The recorded graph rebuilt op by op in float64 torch, every node's tensor by name. Leaves take their
    tensor from ``inputs`` if given there, else their recorded value, requiring grad unless constants."""
    names, tensors = node_names(output), {}
    for node in topological_order(output):
        name = names[id(node)]
        if node.is_leaf:
            tensor = (inputs or {}).get(name)
            if tensor is None:
                tensor = torch.tensor(node.data, dtype=torch.float64, requires_grad=not node.is_constant)
        elif node.primitive.exponent is not None:
            tensor = tensors[names[id(node.operands[0])]] ** node.primitive.exponent
        else:
            tensor = TORCH_OPS[node.primitive.name](*(tensors[names[id(o)]] for o in node.operands))
        if tensor.requires_grad and not tensor.is_leaf:
            tensor.retain_grad()
        tensors[name] = tensor
    return tensors


def local_gradient(output: Value, consumer: str, operand: str) -> float:
    """∂consumer/∂operand of the consumer's primitive alone, by autograd on fresh copies of its operands (the
    same copy wherever the operand appears twice: x·x gives 2x)."""
    names = node_names(output)
    node = next(n for n in topological_order(output) if names[id(n)] == consumer)
    copies = {names[id(o)]: torch.tensor(o.data, dtype=torch.float64, requires_grad=True) for o in node.operands}
    arguments = [copies[names[id(o)]] for o in node.operands]
    if node.primitive.exponent is not None:
        result = arguments[0] ** node.primitive.exponent
    else:
        result = TORCH_OPS[node.primitive.name](*arguments)
    (gradient,) = torch.autograd.grad(result, copies[operand])
    return gradient.item()


def close(a: float, b: float) -> bool:
    return compare("", torch.tensor(a), torch.tensor(b), AUTOGRAD_TOLERANCE).passed


@pytest.mark.parametrize("name", EXPRESSIONS)
def test_forward_steps_show_the_values_autograd_computes(name):
    output = EXPRESSIONS[name]()
    tensors = torch_replay(output)
    forward = [s for s in build_walkthrough(output).steps if s.phase == "forward"]
    assert len(forward) == sum(not n.is_leaf for n in topological_order(output))
    for step in forward:
        assert close(step.value, tensors[step.node].item()), (name, step.node)


@pytest.mark.parametrize("name", EXPRESSIONS)
def test_backward_steps_show_autograds_upstream_local_and_summed_gradients(name):
    output = EXPRESSIONS[name]()
    tensors = torch_replay(output)
    out_name = node_names(output)[id(output)]
    tensors[out_name].backward(retain_graph=True)
    autograd = {name: 1.0 if name == out_name else t.grad.item() for name, t in tensors.items() if t.grad is not None}
    for step in (s for s in build_walkthrough(output).steps if s.phase == "backward"):
        assert close(step.gradient, autograd[step.node]), (name, step.node)
        assert close(step.engine_gradient, autograd[step.node]) and step.agrees_with_engine
        total = 0.0
        for edge in step.contributions:
            assert close(edge.local, local_gradient(output, edge.consumer, step.node)), (name, step.node, edge.consumer)
            assert close(edge.upstream, autograd[edge.consumer])
            assert edge.contribution == edge.upstream * edge.local
            total += edge.contribution
            assert edge.running_sum == total
        if step.node != out_name:
            assert step.contributions and step.contributions[-1].running_sum == step.gradient


@pytest.mark.parametrize("name", EXPRESSIONS)
def test_input_gradients_agree_with_central_differences(name):
    output = EXPRESSIONS[name]()
    names = node_names(output)
    inputs = [names[id(n)] for n in topological_order(output) if n.is_leaf and not n.is_constant]
    steps = {s.node: s for s in build_walkthrough(output).steps if s.phase == "backward"}

    def replayed(*values):
        return torch_replay(output, dict(zip(inputs, values)))[names[id(output)]]

    points = [torch.tensor(steps[name].value, dtype=torch.float64) for name in inputs]
    for name_of_input, estimate in zip(inputs, numerical_input_gradients(replayed, *points)):
        result = compare(name_of_input, torch.tensor(steps[name_of_input].gradient), estimate,
                         FINITE_DIFFERENCE_TOLERANCE, f_value=output.data)
        assert result.passed, (name, result)


def test_z_of_the_nyu_graph_adds_two_paths_in_the_order_backward_reaches_them():
    steps = {s.node: s for s in build_walkthrough(nyu_graph(1.0, 2.0, -1.5, 0.5)).steps if s.phase == "backward"}
    z = steps["z"]
    assert [c.consumer for c in z.contributions] == ["w", "b"]  # w is processed before b
    # ∂w/∂z = ∂w/∂w·1 + ∂w/∂b·o with ∂w/∂b = a = x + y = 3 and o = 0.5, written out by hand
    assert [(c.upstream, c.local) for c in z.contributions] == [(1.0, 1.0), (3.0, 0.5)]
    assert [c.running_sum for c in z.contributions] == [1.0, 2.5]
    assert all(len(s.contributions) == 1 for name, s in steps.items() if name not in ("z", "w"))


def test_steps_point_at_their_rows_of_the_chain_rule_table():
    output = cs475_task2()
    walk = build_walkthrough(output)
    table = chain_rule_table(cs475_task2(), check_numerically=False)
    for step in walk.steps:
        if step.phase == "forward":
            row = table.rows[step.table_index]
            assert step.table_section == "rows" and row.name == step.node and row.value == step.value
        elif step.phase == "backward":
            line = table.backward[step.table_index]
            assert step.table_section == "backward" and line.name == step.node
            assert close(line.gradient, step.gradient)
        else:
            assert step.table_section is None


def test_the_sequence_is_start_forward_backward_end_and_constants_get_no_backward_step():
    output = quadratic_form_graph(1.0, -2.0, 1.5, -0.5, 2.0)
    phases = [s.phase for s in build_walkthrough(output).steps]
    primitives = 8  # v₁ ... v₇ and f
    assert phases == ["start"] + ["forward"] * primitives + ["backward"] * (primitives + 2) + ["end"]
    assert not {"a", "b", "c"} & {s.node for s in build_walkthrough(output).steps if s.phase == "backward"}


def test_a_wrong_engine_backward_shows_at_the_step_where_it_happens(monkeypatch):
    def backward_that_forgets_to_accumulate(self):  # '=' instead of '+=': a student's classic slip
        order = topological_order(self)
        for node in order:
            node.grad = 1.0 if node is self else 0.0
        for node in reversed(order):
            for operand, local in zip(node.operands, node.local_grads):
                operand.grad = local * node.grad

    monkeypatch.setattr(Value, "backward", backward_that_forgets_to_accumulate)
    steps = build_walkthrough(nyu_graph(1.0, 2.0, -1.5, 0.5)).steps
    disagreeing = [s.node for s in steps if not s.agrees_with_engine]
    assert disagreeing == ["z"]  # the one node reached by two paths


def test_key_frames_pick_start_a_forward_step_the_two_path_node_and_the_end():
    steps = build_walkthrough(nyu_graph(1.0, 2.0, -1.5, 0.5)).steps
    start, forward, backward, end = (steps[i] for i in key_frames(steps))
    assert (start.phase, forward.phase, backward.phase, end.phase) == ("start", "forward", "backward", "end")
    assert backward.node == "z"


def test_bad_input_says_what_was_expected():
    with pytest.raises(TypeError, match="expects the Value an expression produced"):
        build_walkthrough(2.5)
    with pytest.raises(ValueError, match="nothing to walk through"):
        key_frames(build_walkthrough(Value(1.0, "x")).steps)
    assert math.isfinite(build_walkthrough(Value(1.0, "x")).steps[0].value)



def test_the_walkthrough_steps_through_the_engines_own_backward_pass(monkeypatch):
    """The upstream gradients a step shows are the ones the engine's backward() left (exercise 0.3, or its
    stand-in), not those of a second reverse sweep of the walkthrough's own: with an engine that writes `=`
    instead of `+=`, p (used three times) keeps one path, every upstream shown is the engine's (x and y get
    p's wrong gradient), and the first step that disagrees with the engine is p's."""
    import helpers.scalar_autodiff as engine
    from helpers.data.paths import PROJECT_ROOT
    from tests.exercise_bugs import mutate
    from tests.exercise_bugs_scalar import PLANTED_BUGS
    path, line, planted, _ = PLANTED_BUGS["0.3"]  # the planted bug of exercise 0.3: one path only
    mutated = {}
    exec(compile(mutate((PROJECT_ROOT / path).read_text(), line, planted, path), path, "exec"), mutated)
    planted_backward = mutated["Value"].backward
    one_path_only = types.FunctionType(planted_backward.__code__, vars(engine))  # the engine's own Value

    x, y = Value(1.5, "x"), Value(-2.0, "y")
    p = x * y
    p.label = "p"
    output = p * p + p
    monkeypatch.setattr(engine.Value, "backward", one_path_only)
    steps = [s for s in build_walkthrough(output).steps if s.phase == "backward"]
    nodes = {node_names(output)[id(n)]: n for n in topological_order(output)}
    assert any(edge.consumer == "p" for step in steps for edge in step.contributions)
    for step in steps:
        for edge in step.contributions:
            assert edge.upstream == nodes[edge.consumer].grad, (step.node, edge.consumer)
    assert [s.node for s in steps if not s.agrees_with_engine][:1] == ["p"]
