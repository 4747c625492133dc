"""The instructor edition's generated observations, sentence by sentence, for the leak tests.

An observation is the Markdown a cell tagged ``report-text:<name>`` displays in a committed notebook (what the
report harvests): the bundle's interpretation of its own numbers, which in the student edition is the student's
answer. ``tests/test_leaks.py`` looks for its sentences in the student edition's files, and
``tests/test_student_edition_runs.py`` in the outputs of the student edition, executed.
"""
from __future__ import annotations

import re

import nbformat

from helpers.data.paths import PROJECT_ROOT

MIN_SENTENCE = 30  # characters, whitespace collapsed: shorter fragments ("validation accuracy 86.00%") are not prose
REPORT_TEXT = "report-text:"
_SENTENCE_END = re.compile(r"(?<=[.;!?])\s+|\n+")
_BULLET = re.compile(r"^\s*(?:[-*]|\d+\.)\s+")


def squeezed(text: str) -> str:
    """``text`` with all whitespace removed: how the leak tests compare (line breaks and indentation never count)."""
    return re.sub(r"\s+", "", text)


def sentences(markdown: str) -> list[str]:
    """The sentences of ``markdown`` (split at . ; ! ? followed by a space, and at line breaks; bullets dropped)
    of at least :data:`MIN_SENTENCE` characters, whitespace collapsed. Questions (ending in ``?``, bold or not)
    are left out: the student edition poses them too."""
    found = []
    for part in _SENTENCE_END.split(markdown):
        sentence = " ".join(_BULLET.sub("", part).split())
        if len(sentence) >= MIN_SENTENCE and not sentence.rstrip("*_ ").endswith("?"):
            found.append(sentence)
    return found


def displayed_markdown(cell) -> str:
    """The Markdown a code cell displayed (its ``text/markdown`` outputs), joined by blank lines."""
    return "\n\n".join(output["data"]["text/markdown"] for output in cell.get("outputs", [])
                       if "text/markdown" in output.get("data", {}))


def observation_sentences(stem: str) -> dict[str, str]:
    """Sentence (whitespace collapsed) -> the ``report-text`` tag that displayed it, for the committed notebook
    ``notebooks/<stem>.ipynb`` (the instructor edition, executed)."""
    notebook = nbformat.read(PROJECT_ROOT / "notebooks" / f"{stem}.ipynb", as_version=4)
    found = {}
    for cell in notebook.cells:
        tags = [tag for tag in cell.metadata.get("tags", []) if tag.startswith(REPORT_TEXT)]
        if cell.cell_type == "code" and tags:
            for sentence in sentences(displayed_markdown(cell)):
                found.setdefault(sentence, tags[0])
    return found


def leaked(stem: str, student_text: str) -> list[str]:
    """The observation sentences of notebook ``stem`` found in ``student_text`` (whitespace ignored), each with
    its tag: ``["report-text:summary: The grader's six checks passed ..."]``."""
    haystack = squeezed(student_text)
    return [f"{tag}: {sentence}" for sentence, tag in observation_sentences(stem).items()
            if squeezed(sentence) in haystack]
