from semsim.models.common.provenance import atomic_write_text, git_state, package_versions


def test_package_versions_and_git(tmp_path):
    v = package_versions()
    assert v["numpy"] and v["simpy"] and v["python"]
    assert git_state(tmp_path)["commit"] is None  # not a repository
    info = git_state()
    assert set(info) == {"commit", "dirty", "diff_sha256"}


def test_atomic_write_text_replaces(tmp_path):
    p = tmp_path / "a" / "x.json"
    atomic_write_text(p, "1")
    atomic_write_text(p, "2")
    assert p.read_text() == "2" and [q.name for q in p.parent.iterdir()] == ["x.json"]
