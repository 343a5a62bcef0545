"""Dataset loading, checksums, splits and the download path (against a local server)."""

from __future__ import annotations

import functools
import http.server
import shutil
import threading

import numpy as np
import pytest
import torch

from semsim.models import data as D


def test_mnist_shapes_counts_and_values(data_dir):
    train = D.load_dataset("mnist", "train", data_dir)
    test = D.load_dataset("mnist", "test", data_dir)
    assert train.images.shape == (60000, 1, 28, 28) and train.images.dtype == torch.float32
    assert test.images.shape == (10000, 1, 28, 28)
    assert train.labels.dtype == torch.int64
    counts = torch.bincount(test.labels, minlength=10).tolist()
    assert counts == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    assert 0.0 <= float(train.images.min()) and float(train.images.max()) == 1.0
    # published mean pixel value 33.32 / 255 for the training set
    assert abs(float(train.images.mean()) * 255 - 33.32) < 0.01


def test_fashion_and_cifar_partial(data_dir):
    fashion = D.load_dataset("fashion", "test", data_dir)
    assert torch.bincount(fashion.labels).tolist() == [1000] * 10
    cifar = D.load_dataset("cifar10-partial", "train", data_dir)
    assert cifar.images.shape == (5169, 3, 32, 32)
    cifar_test = D.load_dataset("cifar10-partial", "test", data_dir)
    assert cifar_test.images.shape == (1017, 3, 32, 32)
    # first training image of data_batch_1 starts with red 59, 43, 50
    assert (cifar.images[0, 0, 0, :3] * 255).round().tolist() == [59.0, 43.0, 50.0]


def test_corrupt_and_missing_files_named(tmp_path, data_dir):
    (tmp_path / "mnist").mkdir()
    for name in ("train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz"):
        shutil.copy(data_dir / "mnist" / name, tmp_path / "mnist" / name)
    with pytest.raises(D.DatasetError, match="missing file .*train-images-idx3-ubyte.gz"):
        D.load_dataset("mnist", "test", tmp_path)
    for name in ("train-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        (tmp_path / "mnist" / name).write_bytes(b"not the real file")
    with pytest.raises(D.DatasetError, match="train-images-idx3-ubyte.gz is corrupt"):
        D.load_dataset("mnist", "test", tmp_path)
    with pytest.raises(D.DatasetError, match="unknown dataset 'svhn'"):
        D.load_dataset("svhn")


def test_env_variable_selects_data_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("SEMSIM_DATA", str(tmp_path))
    assert D.resolve_data_dir() == tmp_path
    assert D.resolve_data_dir("/x/y") == D.Path("/x/y")


def test_split_pair_adversary_disjoint_seeded():
    pair, adv = D.split_pair_adversary("mnist", 60000, seed=3)
    assert len(pair) == 40000 and len(adv) == 20000
    assert len(np.intersect1d(pair, adv)) == 0
    assert len(np.union1d(pair, adv)) == 60000
    again, _ = D.split_pair_adversary("mnist", 60000, seed=3)
    other, _ = D.split_pair_adversary("mnist", 60000, seed=4)
    assert np.array_equal(pair, again) and not np.array_equal(pair, other)
    p2, a2 = D.split_pair_adversary("cifar10-partial", 5169, seed=0)
    assert len(p2) == 3446 and len(a2) == 1723


def test_iterate_minibatches_covers_once():
    g = torch.Generator().manual_seed(0)
    batches = list(D.iterate_minibatches(10, 4, g))
    assert [len(b) for b in batches] == [4, 4, 2]
    assert sorted(torch.cat(batches).tolist()) == list(range(10))


@pytest.fixture
def file_server(tmp_path):
    """A loopback HTTP server over ``tmp_path/srv``; yields (base_url, folder)."""
    root = tmp_path / "srv"
    root.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *a, **k: None  # type: ignore[method-assign]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/", root
    finally:
        server.shutdown()
        server.server_close()


def test_download_from_local_server(file_server, tmp_path, data_dir):
    url, root = file_server
    name = "t10k-labels-idx1-ubyte.gz"  # 4.5 kB real file
    shutil.copy(data_dir / "mnist" / name, root / name)
    sha = D.sha256_file(root / name)
    out = D.download_dataset("mnist", tmp_path / "dl", url, expected_sha256={name: sha})
    assert D.sha256_file(out[name]) == sha
    # a corrupt mirror is rejected and leaves no file behind
    (root / name).write_bytes(b"tampered")
    (out[name]).unlink()
    with pytest.raises(D.DatasetError, match="has sha256"):
        D.download_dataset("mnist", tmp_path / "dl", url, expected_sha256={name: sha})
    assert list((tmp_path / "dl" / "mnist").iterdir()) == []
