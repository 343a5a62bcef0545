import os
import stat
import subprocess
import sys

import pytest

from semsim.models.common.provenance import (
    atomic_write,
    atomic_write_text,
    command_line,
    git_state,
    sha256_file,
)


def test_atomic_write_is_world_readable_and_checksummed(tmp_path):
    path = atomic_write_text(tmp_path / "a" / "x.txt", "hello")
    assert path.read_text() == "hello"
    mode = stat.S_IMODE(os.stat(path).st_mode)
    umask = os.umask(0)
    os.umask(umask)
    assert mode == 0o666 & ~umask  # not the 0600 of a mkstemp file
    assert sha256_file(path) == "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"


def test_failed_write_keeps_old_file_and_leaves_no_temp(tmp_path):
    path = atomic_write_text(tmp_path / "x.txt", "old")

    def boom(tmp):
        with open(tmp, "w") as fh:
            fh.write("half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        atomic_write(path, boom)
    assert path.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.txt"]


def test_git_state_outside_a_repository(tmp_path):
    assert git_state(tmp_path) == {"commit": None, "dirty": None, "diff_sha256": None}


def test_git_state_names_the_uncommitted_change(tmp_path):
    def git(*args):
        subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True)

    git("init", "-q")
    (tmp_path / "a.txt").write_text("one\n")
    git("add", "a.txt")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "init")
    clean = git_state(tmp_path)
    assert clean["dirty"] is False and clean["diff_sha256"] is None
    assert len(clean["commit"]) == 40
    (tmp_path / "a.txt").write_text("two\n")
    first = git_state(tmp_path)
    (tmp_path / "a.txt").write_text("three\n")
    second = git_state(tmp_path)
    assert first["dirty"] and second["dirty"]
    assert len(first["diff_sha256"]) == 64 and first["diff_sha256"] != second["diff_sha256"]
    assert first["commit"] == clean["commit"]


def test_command_line_is_argv():
    assert command_line() == sys.argv
