"""The shared helpers every notebook uses: paths, seeding, device, headless mode, widgets, report hooks."""
import json
import random

import numpy as np
import pytest
import torch

from helpers.runtime import report_hooks as artifacts

from helpers.data import paths
from helpers.runtime.device import get_device
from helpers.runtime.headless import HEADLESS_ENV, is_headless
from helpers.runtime.progress import progress
from helpers.runtime.seeding import seed_everything
from helpers.runtime.widgets import classroom_widget


def test_data_dir_defaults_to_project_data_and_follows_the_override(monkeypatch, tmp_path):
    monkeypatch.delenv(paths.DATA_ENV, raising=False)
    assert paths.data_dir() == paths.PROJECT_ROOT / "data"
    monkeypatch.setenv(paths.DATA_ENV, str(tmp_path))
    assert paths.data_dir() == tmp_path.resolve()
    assert paths.cache_dir() == tmp_path.resolve() / "cache" and (tmp_path / "cache").is_dir()


def test_shared_datasets_dir_is_none_when_missing(monkeypatch, tmp_path):
    monkeypatch.setenv(paths.SHARED_DATASETS_ENV, str(tmp_path / "nowhere"))
    assert paths.shared_datasets_dir() is None
    monkeypatch.setenv(paths.SHARED_DATASETS_ENV, str(tmp_path))
    assert paths.shared_datasets_dir() == tmp_path.resolve()


def test_a_workspace_finds_the_datasets_through_its_data_link(monkeypatch, tmp_path):
    """In a student workspace (no ../shared/datasets beside it) the datasets come through <data>/shared-datasets."""
    monkeypatch.delenv(paths.SHARED_DATASETS_ENV, raising=False)
    monkeypatch.setattr(paths, "PROJECT_ROOT", tmp_path / "workspace")
    monkeypatch.setenv(paths.DATA_ENV, str(tmp_path / "workspace" / "data"))
    assert paths.shared_datasets_dir() is None
    (tmp_path / "datasets").mkdir()
    (tmp_path / "workspace" / "data").mkdir(parents=True)
    (tmp_path / "workspace" / "data" / "shared-datasets").symlink_to(tmp_path / "datasets")
    assert paths.shared_datasets_dir() == (tmp_path / "datasets").resolve()


def test_seed_everything_makes_every_generator_repeat():
    def draw():
        return random.random(), np.random.rand(), torch.rand(3)
    seed_everything(123)
    first = draw()
    seed_everything(123)
    second = draw()
    assert first[:2] == second[:2] and torch.equal(first[2], second[2])
    seed_everything(124)
    assert draw()[0] != first[0]


@pytest.mark.parametrize("seed", [-1, 1.5, "0", True])
def test_seed_everything_rejects_non_integer_seeds(seed):
    with pytest.raises(ValueError, match="non-negative int"):
        seed_everything(seed)


def test_get_device_matches_cuda_availability():
    assert get_device().type == ("cuda" if torch.cuda.is_available() else "cpu")


@pytest.mark.parametrize("value, expected", [("1", True), ("true", True), ("0", False), ("", False)])
def test_headless_flag(monkeypatch, value, expected):
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    monkeypatch.setenv(HEADLESS_ENV, value)
    assert is_headless() is expected


def test_nbgrader_execution_counts_as_headless(monkeypatch):
    """nbgrader sets NBGRADER_EXECUTION while it autogrades: widgets must not wait for a person there."""
    monkeypatch.setenv(HEADLESS_ENV, "0")
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    assert is_headless()


def test_progress_is_silent_headless(monkeypatch, capsys):
    monkeypatch.setenv(HEADLESS_ENV, "1")
    assert sum(progress(range(5), desc="silent")) == 10
    assert capsys.readouterr().err == ""


def test_classroom_widget_headless_calls_once_with_defaults(monkeypatch):
    import ipywidgets
    monkeypatch.setenv(HEADLESS_ENV, "1")
    calls = []
    result = classroom_widget(lambda lr, seed, label: calls.append((lr, seed, label)) or "drawn",
                              lr=ipywidgets.FloatLogSlider(value=1e-2, min=-4, max=0),
                              seed=ipywidgets.Dropdown(options=[0, 1, 2], value=1), label="fixed")
    assert result == "drawn" and calls == [(1e-2, 1, "fixed")]


def test_report_hooks_do_nothing_outside_a_report_build(monkeypatch):
    monkeypatch.delenv(artifacts.REPORT_ENV, raising=False)
    assert artifacts.record_metrics("s", a=1) is None
    assert artifacts.write_deliverable("f.txt", "x") is None


def test_report_hooks_write_and_merge_inside_a_report_build(monkeypatch, tmp_path):
    monkeypatch.setenv(artifacts.REPORT_ENV, str(tmp_path))
    artifacts.record_metrics("01_x", accuracy=0.9, steps=[1, 2])
    artifacts.record_metrics("01_x", loss=0.5)
    assert json.loads((tmp_path / "metrics" / "01_x.json").read_text()) == {"accuracy": 0.9, "loss": 0.5, "steps": [1, 2]}
    assert (tmp_path / "q.txt") == artifacts.write_deliverable("q.txt", "1.0\n")


HEADLINES = """def loss(losses, steps=None):
    return {"final_loss": losses[-1], **({"steps": steps} if steps is not None else {})}


def nothing_yet(part=None):
    return {} if part is None else {"part": part}


def not_a_dict(losses):
    return losses
"""


def test_headline_numbers_take_the_notebook_variables_their_parameters_name(monkeypatch, tmp_path):
    monkeypatch.setenv(artifacts.REPORT_ENV, str(tmp_path))
    source = tmp_path / "07_x.py"
    source.write_text(HEADLINES)
    namespace = {"losses": [0.5, 0.25], "unrelated": object()}
    artifacts.record_headline_numbers("07_x", source, "loss", namespace)  # steps: a default, may be absent
    assert json.loads((tmp_path / "metrics" / "07_x.json").read_text()) == {"final_loss": 0.25}
    artifacts.record_headline_numbers("07_x", source, "loss", {**namespace, "steps": 12})
    assert json.loads((tmp_path / "metrics" / "07_x.json").read_text()) == {"final_loss": 0.25, "steps": 12}
    assert artifacts.record_headline_numbers("08_y", source, "nothing_yet", namespace) is None  # nothing to record
    assert not (tmp_path / "metrics" / "08_y.json").exists()


@pytest.mark.parametrize("name, namespace, error, message", [
    ("loss", {"steps": 3}, NameError, "loss (SOURCE) needs the notebook variable(s) losses, which the notebook has "
                                      "not defined by the cell tagged 'report-metrics:loss'"),
    ("losses", {"losses": [1.0]}, LookupError, "SOURCE defines no function 'losses' for the cell tagged "
                                               "'report-metrics:losses'"),
    ("not_a_dict", {"losses": [1.0]}, TypeError, "not_a_dict (SOURCE) must return a dict of headline numbers, got list"),
])
def test_headline_numbers_that_cannot_be_made_say_which_tag_and_what_is_missing(monkeypatch, tmp_path, name, namespace,
                                                                                 error, message):
    monkeypatch.setenv(artifacts.REPORT_ENV, str(tmp_path))
    source = tmp_path / "07_x.py"
    source.write_text(HEADLINES)
    with pytest.raises(error) as raised:
        artifacts.record_headline_numbers("07_x", source, name, namespace)
    assert str(raised.value) == message.replace("SOURCE", str(source))
    assert not (tmp_path / "metrics").exists()


@pytest.mark.parametrize("value, error", [(float("nan"), ValueError), ([1.0, float("inf")], ValueError), (object(), TypeError)])
def test_record_metrics_rejects_non_finite_and_non_json_values(monkeypatch, tmp_path, value, error):
    monkeypatch.setenv(artifacts.REPORT_ENV, str(tmp_path))
    with pytest.raises(error):
        artifacts.record_metrics("s", bad=value)
