"""CSE 849's q2_ytest.txt: the format a grader's script reads (one prediction per line, in x_test's order,
numpy.loadtxt gives (N,)), and save_result's safety rules (atomic, deterministic, never overwriting a file
it did not write)."""
import re

import numpy as np
import pytest
import torch

from helpers.data import results
from helpers.data.paths import PROJECT_ROOT
from helpers.experiments.rainfall_fit import q2_ytest_text

LINE = re.compile(r"^-?\d+\.\d{6}$")


def predictions():
    return torch.tensor([0.25, -1.5, 3.1415926535, -0.0000001, 12.0], dtype=torch.float64)


def test_the_text_is_one_fixed_point_number_per_line_and_reads_back_as_the_predictions(tmp_path):
    text = q2_ytest_text(predictions())
    assert text.endswith("\n") and text.count("\n") == 5
    assert all(LINE.match(line) for line in text.splitlines())
    path = tmp_path / "q2_ytest.txt"
    path.write_text(text)
    loaded = np.loadtxt(path)
    assert loaded.shape == (5,)
    np.testing.assert_allclose(loaded, predictions().numpy(), rtol=0, atol=5e-7)
    assert text.splitlines()[2] == "3.141593"  # rounded, not truncated


def test_the_text_is_deterministic_and_refuses_what_a_grader_could_not_score():
    assert q2_ytest_text(predictions()) == q2_ytest_text(predictions().clone())
    for bad in (predictions()[:, None], torch.tensor([1.0, float("nan")]), torch.tensor([]), [1.0, 2.0],
                torch.tensor([1, 2])):
        with pytest.raises(ValueError, match="1-D tensor of finite predictions"):
            q2_ytest_text(bad)


def test_save_writes_then_reports_the_same_words_when_the_file_is_already_there(tmp_path):
    folder = tmp_path / "results"
    first = results.save_result("q2_ytest.txt", "1.000000\n", folder)
    second = results.save_result("q2_ytest.txt", "1.000000\n", folder)
    assert (first.status, second.status) == ("written", "unchanged") and first.message == second.message
    assert (folder / "q2_ytest.txt").read_text() == "1.000000\n"
    assert (folder / ".gitignore").read_text().splitlines()[-1] == "*"  # generated: never committed
    assert sorted(p.name for p in folder.iterdir()) == [".gitignore", results.MANIFEST, "q2_ytest.txt"]


def test_save_replaces_its_own_file_but_keeps_anyone_elses(tmp_path):
    folder = tmp_path / "results"
    results.save_result("q2_ytest.txt", "1.000000\n", folder)
    assert results.save_result("q2_ytest.txt", "2.000000\n", folder).status == "written"  # ours: replaced
    (folder / "q2_ytest.txt").write_text("2.5\n")  # edited by hand since
    kept = results.save_result("q2_ytest.txt", "3.000000\n", folder)
    assert kept.status == "kept" and "not written by this notebook" in kept.message
    assert (folder / "q2_ytest.txt").read_text() == "2.5\n"
    (folder / "other.txt").write_text("the student's own\n")  # never written by us at all
    assert results.save_result("other.txt", "x\n", folder).status == "kept"
    assert (folder / "other.txt").read_text() == "the student's own\n"


def test_a_folder_it_did_not_create_gets_no_gitignore(tmp_path):
    results.save_result("q2_ytest.txt", "1.000000\n", tmp_path)
    assert not (tmp_path / ".gitignore").exists() and (tmp_path / "q2_ytest.txt").exists()


def test_a_failed_write_leaves_the_old_file_and_no_partial(tmp_path, monkeypatch):
    results.save_result("q2_ytest.txt", "1.000000\n", tmp_path)
    real = results._write_atomically

    def fail_on_target(path, data):
        if path.name == "q2_ytest.txt":
            with results.atomic_target(path) as partial:
                partial.write_bytes(data[:3])
                raise OSError("disk full")
        real(path, data)
    monkeypatch.setattr(results, "_write_atomically", fail_on_target)
    with pytest.raises(OSError, match="disk full"):
        results.save_result("q2_ytest.txt", "2.000000\n", tmp_path)
    assert (tmp_path / "q2_ytest.txt").read_text() == "1.000000\n"
    assert not list(tmp_path.glob("*.partial-*"))
    monkeypatch.undo()
    assert results.save_result("q2_ytest.txt", "2.000000\n", tmp_path).status == "written"  # recorded: ours


@pytest.mark.parametrize("name", ["", "sub/q2.txt", "../q2.txt", results.MANIFEST, ".gitignore"])
def test_only_plain_file_names_are_accepted(tmp_path, name):
    with pytest.raises(ValueError, match="plain file name"):
        results.save_result(name, "x", tmp_path)


def test_the_folder_is_the_projects_results_unless_overridden(tmp_path, monkeypatch):
    monkeypatch.delenv(results.RESULTS_ENV, raising=False)
    assert results.results_dir() == PROJECT_ROOT / "results"
    assert results.SavedResult(PROJECT_ROOT / "results" / "q2_ytest.txt", "written").message == \
        "saved results/q2_ytest.txt"
    monkeypatch.setenv(results.RESULTS_ENV, str(tmp_path))
    assert results.results_dir() == tmp_path.resolve()
