"""What the walkthrough writes: the table panel's lines, each box's label, the caption of each step.

Pure text from :mod:`helpers.plots.walkthrough_steps`'s steps (no drawing), used by :mod:`helpers.plots.walkthrough`.
"""
from __future__ import annotations

from helpers.chain_rule import _factor as as_factor  # one way to write a factor: 6·(-1)
from helpers.scalar_autodiff import format_number
from helpers.plots.walkthrough_steps import Step, Walkthrough


def table_lines(walk: Walkthrough) -> list[tuple[str, str | None, int | None]]:
    """(text, section, index) per line of the table panel, forward rows then the backward pass; headers and
    the blank line between have section None."""
    lines = [("forward: each primitive, its value and local gradients", None, None)]
    for index, row in enumerate(walk.table.rows):
        local = ", ".join(g.text(row.name) for g in row.local_gradients)
        lines.append((f"{row.breakdown} = {format_number(row.value)}    {local}", "rows", index))
    lines.append(("", None, None))
    lines.append(("backward: upstream × local, summed over the uses", None, None))
    lines += [(text, "backward", index) for index, text in enumerate(walk.table.backward_lines())]
    return lines


def node_label(full: str, computed: bool, done: Step | None, output: str) -> str:
    """A value box's text: its value once computed ('?' before), its gradient once reached backward."""
    first = full.splitlines()[0]
    name = first.split(" = ")[0]
    lines = [first if computed else f"{name} = ?"]
    if done is not None:
        lines.append(f"∂{output}/∂{name} = {format_number(done.gradient)}")
    return "\n".join(lines)


def sum_text(step: Step) -> str:
    """A multi-path node's gradient as its contributions adding up: '1 + 1.5 = 2.5'."""
    return " + ".join(as_factor(c.contribution) for c in step.contributions) + f" = {format_number(step.gradient)}"


def caption(output: str, step: Step, index: int, count: int) -> str:
    """One line saying what step ``index`` of ``count`` does, with its numbers."""
    head = f"step {index}/{count - 1} · "
    if step.phase == "start":
        return head + "start: the inputs are known; nothing is computed yet"
    if step.phase == "forward":
        return head + f"forward: compute {step.node} = {format_number(step.value)}"
    if step.phase == "end":
        return head + f"end: {output} = {format_number(step.value)} and every gradient is known"
    if not step.contributions:
        return head + f"backward: start at the output, ∂{output}/∂{step.node} = 1"
    products = " + ".join(f"{format_number(c.upstream)} × {format_number(c.local)}" for c in step.contributions)
    paths = f" ({len(step.contributions)} paths add up)" if len(step.contributions) > 1 else ""
    return head + f"backward at {step.node}: ∂{output}/∂{step.node} = {products} = {format_number(step.gradient)}{paths}"
