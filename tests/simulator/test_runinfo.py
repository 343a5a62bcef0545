from simulator.runinfo import atomic_write_text, git_commit, package_versions


def test_package_versions_and_git(tmp_path):
    v = package_versions()
    assert v["numpy"] and v["simpy"] and v["python"]
    assert git_commit(tmp_path) == {"commit": None, "dirty": None}  # not a repository
    info = git_commit()
    assert set(info) == {"commit", "dirty"}


def test_atomic_write_text_replaces(tmp_path):
    p = tmp_path / "a" / "x.json"
    atomic_write_text(p, "1")
    atomic_write_text(p, "2")
    assert p.read_text() == "2" and [q.name for q in p.parent.iterdir()] == ["x.json"]
