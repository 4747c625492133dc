"""The hub recipe's own safety rules (tools/hub/demo.py), without starting a hub: what students cannot reach is
found, a folder that is not the demo's is never claimed nor removed, students get no instructor extension. The
whole loop on a running hub is tests/browser/test_hub_class.py."""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import pytest

from tools.hub.demo import (INSTRUCTOR_ONLY_LAB, INSTRUCTOR_ONLY_SERVER, MARKER, HubError, claim_state, stop,
                            unreadable_part, write_jupyter_config)


@pytest.fixture
def open_folder():
    """A folder every user can enter (pytest's own tmp_path sits in a folder only its owner can)."""
    folder = Path(tempfile.mkdtemp(prefix="hub-recipe-", dir="/tmp"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder)


def test_the_first_folder_closed_to_other_users_is_named(open_folder):
    course = open_folder / "open" / "closed" / "course"
    course.mkdir(parents=True)
    assert unreadable_part(course) is None  # mkdir's default 755 all the way
    (open_folder / "open" / "closed").chmod(0o700)
    assert unreadable_part(course) == open_folder / "open" / "closed"
    (open_folder / "open" / "closed").chmod(0o755)
    settings = course / "settings.json"
    settings.write_text("{}")
    settings.chmod(0o600)
    assert unreadable_part(settings) == settings  # a file must be readable, a folder enterable


def test_a_folder_that_is_not_the_demos_is_neither_claimed_nor_removed(tmp_path):
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    with pytest.raises(HubError, match="not the demo hub's"):
        claim_state(foreign)
    with pytest.raises(HubError, match="nothing stopped"):
        stop(foreign)
    assert [p.name for p in foreign.iterdir()] == ["notes.txt"]
    ours = tmp_path / "ours"
    claim_state(ours)
    assert (ours / MARKER).is_file() and oct(ours.stat().st_mode & 0o777) == "0o755"
    assert stop(ours) == [] and not ours.exists()  # a failed start's state goes, and no user was created


def test_students_get_the_exchange_but_no_instructor_extension(tmp_path):
    write_jupyter_config(tmp_path, tmp_path / "exchange")
    for role in ("instructors", "students"):
        config = (tmp_path / "jupyter-config" / role / "nbgrader_config.py").read_text()
        assert f"c.Exchange.root = {str(tmp_path / 'exchange')!r}" in config
        assert os.stat(tmp_path / "jupyter-config" / role).st_mode & 0o005 == 0o005  # each user's server reads it
    students = tmp_path / "jupyter-config" / "students"
    server = json.loads((students / "jupyter_server_config.json").read_text())["ServerApp"]["jpserver_extensions"]
    lab = json.loads((students / "labconfig" / "page_config.json").read_text())["disabledExtensions"]
    assert server == {name: False for name in INSTRUCTOR_ONLY_SERVER} and set(lab) == set(INSTRUCTOR_ONLY_LAB)
    assert not (tmp_path / "jupyter-config" / "instructors" / "jupyter_server_config.json").exists()
