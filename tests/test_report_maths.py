"""Formulas in the report (``tools.report.maths``) leave matplotlib's global state alone."""
import subprocess
import sys

from tools.report.maths import render_math

# In a fresh interpreter: choose a backend other than Agg, import and use the module, check nothing moved.
CHECK = """
import sys
import matplotlib
matplotlib.use("svg")
rc_before = dict(matplotlib.rcParams)
import tools.report.maths as maths
assert maths.render_math("\\\\frac{a}{b}", 12.0, "png", 100).data.startswith(b"\\x89PNG")
assert maths.render_math("x^2", 12.0, "svg").data.lstrip().startswith(b"<?xml")
assert matplotlib.get_backend() == "svg", matplotlib.get_backend()
assert dict(matplotlib.rcParams) == rc_before, "rcParams changed"
assert "matplotlib.pyplot" not in sys.modules, "pyplot imported"
"""


def test_importing_and_rendering_leaves_the_backend_and_rcparams_unchanged():
    result = subprocess.run([sys.executable, "-c", CHECK], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]


def test_unparsable_tex_gives_none_and_a_formula_has_a_positive_size():
    assert render_math("\\begin{aligned}a\\end{aligned}") is None
    image = render_math("x_i^2", 10.0, "png", 100)
    assert image.width_pt > 0 and image.height_pt > 0 and image.depth_pt >= 0
