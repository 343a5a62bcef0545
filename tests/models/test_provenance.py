import os
import stat

import pytest

from models.provenance import atomic_write, atomic_write_text, git_state, sha256_file


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
    assert git_state(tmp_path) == {"commit": None, "dirty": None}
