"""Datasets: MNIST, Fashion-MNIST and the partial CIFAR-10, with checksums and splits.

Files are read from a data directory: the ``data_dir`` argument, else the environment
variable ``SEMSIM_DATA``, else ``../shared/data`` next to the repository (when present).
Every file's sha256 is checked against the published value before it is parsed. Nothing
here unpickles: IDX files are parsed by hand and the CIFAR-10 archive is a plain ``.npz``.

Images come back as float32 tensors in [0, 1] of shape (N, C, H, W); labels as int64 (N,).
"""

from __future__ import annotations

import gzip
import os
import shutil
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from semsim.models.common.provenance import atomic_write, sha256_file

__all__ = [
    "DATASETS",
    "DEFAULT_URLS",
    "DatasetError",
    "ImageSet",
    "dataset_files",
    "dataset_sha256",
    "download_dataset",
    "iterate_minibatches",
    "load_dataset",
    "resolve_data_dir",
    "sha256_file",
    "split_pair_adversary",
]

DATASETS = ("mnist", "fashion", "cifar10-partial")

#: sub-folder, then file name -> sha256 (values from ``shared/data/README.md``).
_FILES: dict[str, tuple[str, dict[str, str]]] = {
    "mnist": (
        "mnist",
        {
            "train-images-idx3-ubyte.gz": (
                "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609"
            ),
            "train-labels-idx1-ubyte.gz": (
                "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c"
            ),
            "t10k-images-idx3-ubyte.gz": (
                "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6"
            ),
            "t10k-labels-idx1-ubyte.gz": (
                "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6"
            ),
        },
    ),
    "fashion": (
        "fashion-mnist",
        {
            "train-images-idx3-ubyte.gz": (
                "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84"
            ),
            "train-labels-idx1-ubyte.gz": (
                "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845"
            ),
            "t10k-images-idx3-ubyte.gz": (
                "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073"
            ),
            "t10k-labels-idx1-ubyte.gz": (
                "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5"
            ),
        },
    ),
    "cifar10-partial": (
        "cifar10-partial",
        {
            "cifar10_partial.npz": (
                "75f8000260743b7ddfbf4ef07b8fef779de86094b70847f08efc7e4dd856a371"
            ),
        },
    ),
}

#: Where ``download_dataset`` fetches from by default (overridable per call).
DEFAULT_URLS: dict[str, str] = {
    "mnist": "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "fashion": "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
}

_NUM_CLASSES = 10


class DatasetError(ValueError):
    """A dataset file is missing, corrupt or of an unknown dataset."""


@dataclass(frozen=True)
class ImageSet:
    """Images (N, C, H, W) float32 in [0, 1] with int64 labels (N,)."""

    images: torch.Tensor
    labels: torch.Tensor
    name: str
    num_classes: int = _NUM_CLASSES

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def subset(self, idx: np.ndarray | torch.Tensor) -> ImageSet:
        """Rows ``idx`` of this set (a copy), same name and class count."""
        index = torch.as_tensor(np.asarray(idx), dtype=torch.long)
        return ImageSet(self.images[index], self.labels[index], self.name, self.num_classes)


def resolve_data_dir(data_dir: str | os.PathLike[str] | None = None) -> Path:
    """Data directory: ``data_dir``, else ``$SEMSIM_DATA``, else ``../shared/data``.

    The fallback is looked up next to the repository (``<repo>/../shared/data``) and next to
    the current directory. Raises :class:`DatasetError` if none exists.
    """
    if data_dir is not None:
        return Path(data_dir)
    env = os.environ.get("SEMSIM_DATA")
    if env:
        return Path(env)
    repo = Path(__file__).resolve().parent.parent
    for candidate in (repo.parent / "shared" / "data", Path.cwd().parent / "shared" / "data"):
        if candidate.is_dir():
            return candidate
    raise DatasetError(
        "no data directory: pass --data-dir, set SEMSIM_DATA, or place the datasets in "
        f"{repo.parent / 'shared' / 'data'} (see `semsim`'s README, section Data)"
    )


def _check_name(name: str) -> None:
    if name not in _FILES:
        raise DatasetError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}")


def dataset_files(name: str, data_dir: str | os.PathLike[str] | None = None) -> dict[str, Path]:
    """File name -> path of every file of dataset ``name`` (not checked)."""
    _check_name(name)
    sub, files = _FILES[name]
    root = resolve_data_dir(data_dir) / sub
    return {fname: root / fname for fname in files}


def _verified(name: str, data_dir: str | os.PathLike[str] | None, verify: bool) -> dict[str, Path]:
    paths = dataset_files(name, data_dir)
    expected = _FILES[name][1]
    for fname, path in paths.items():
        if not path.is_file():
            raise DatasetError(
                f"dataset {name!r}: missing file {path}. Put the official file there, or run "
                f"`python -c \"from models.data import download_dataset; "
                f"download_dataset('{name}', '{path.parent.parent}')\"` where the internet is "
                "reachable"
            )
        if verify:
            got = sha256_file(path)
            if got != expected[fname]:
                raise DatasetError(
                    f"dataset {name!r}: file {path} is corrupt (sha256 {got}, expected "
                    f"{expected[fname]}); delete it and fetch it again"
                )
    return paths


def dataset_sha256(name: str, data_dir: str | os.PathLike[str] | None = None) -> dict[str, str]:
    """File name -> expected (and verified) sha256 of dataset ``name``, for manifests."""
    _verified(name, data_dir, verify=True)
    return dict(_FILES[name][1])


def _read_idx(path: Path) -> np.ndarray:
    """Parse a gzip IDX file (magic 0x0801 labels or 0x0803 images) into a uint8 array."""
    with gzip.open(path, "rb") as fh:
        raw = fh.read()
    magic = int.from_bytes(raw[:4], "big")
    if magic >> 8 != 0x08:
        raise DatasetError(f"{path}: not an unsigned-byte IDX file (magic {magic:#x})")
    ndim = magic & 0xFF
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(shape)):
        raise DatasetError(f"{path}: truncated IDX file ({data.size} of {np.prod(shape)} bytes)")
    return data.reshape(shape)


def load_dataset(
    name: str,
    split: str = "train",
    data_dir: str | os.PathLike[str] | None = None,
    verify: bool = True,
) -> ImageSet:
    """Load ``split`` ("train" or "test") of dataset ``name`` as an :class:`ImageSet`.

    Shapes: MNIST / Fashion-MNIST (N, 1, 28, 28) with N = 60000 / 10000; CIFAR-10 partial
    (N, 3, 32, 32) with N = 5169 / 1017 (only part of the images exist offline).
    """
    if split not in ("train", "test"):
        raise DatasetError(f"split must be 'train' or 'test', got {split!r}")
    paths = _verified(name, data_dir, verify)
    if name == "cifar10-partial":
        with np.load(paths["cifar10_partial.npz"], allow_pickle=False) as npz:
            rows = npz[f"{split}_data"]
            index = npz[f"{split}_index"]
            labels = npz[f"{split}_labels_all"][index]
        images = rows.reshape(-1, 3, 32, 32)
    else:
        prefix = "train" if split == "train" else "t10k"
        images = _read_idx(paths[f"{prefix}-images-idx3-ubyte.gz"])[:, None, :, :]
        labels = _read_idx(paths[f"{prefix}-labels-idx1-ubyte.gz"])
    if images.shape[0] != labels.shape[0]:
        raise DatasetError(
            f"dataset {name!r}: {images.shape[0]} images but {labels.shape[0]} labels"
        )
    x = torch.from_numpy(images.astype(np.float32) / 255.0)
    y = torch.from_numpy(labels.astype(np.int64))
    return ImageSet(x, y, name)


def split_pair_adversary(name: str, num_train: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Seeded disjoint index arrays (pair, adversary) into a training split of ``num_train``.

    MNIST and Fashion-MNIST: 40,000 for the Alice-Bob pair and 20,000 for the adversary (as
    IBAL's public code); any other dataset (or size): 2/3 and 1/3. Both sorted.
    """
    _check_name(name)
    if num_train <= 1:
        raise DatasetError(f"num_train must be > 1, got {num_train}")
    perm = np.random.default_rng(np.random.SeedSequence([seed, 0x5E5])).permutation(num_train)
    if name in ("mnist", "fashion") and num_train == 60000:
        num_pair = 40000
    else:
        num_pair = (2 * num_train) // 3
    return np.sort(perm[:num_pair]), np.sort(perm[num_pair:])


def iterate_minibatches(
    n: int, batch_size: int, generator: torch.Generator | None = None, shuffle: bool = True
) -> Iterator[torch.Tensor]:
    """Yield index tensors covering ``range(n)`` in batches (last batch may be smaller)."""
    if batch_size <= 0:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    order = torch.randperm(n, generator=generator) if shuffle else torch.arange(n)
    for start in range(0, n, batch_size):
        yield order[start : start + batch_size]


def download_dataset(
    name: str,
    data_dir: str | os.PathLike[str],
    base_url: str | None = None,
    timeout_s: float = 60.0,
    expected_sha256: dict[str, str] | None = None,
) -> dict[str, Path]:
    """Download dataset ``name``'s files from ``base_url`` into ``data_dir``, checking sha256.

    Each file goes to a temporary name and is renamed only after its checksum matches, so
    an interrupted or corrupt download never leaves a file that looks valid. Files already
    present with the right checksum are kept. The partial CIFAR-10 has no public URL:
    pass ``base_url`` pointing at a mirror of ``cifar10_partial.npz``. ``expected_sha256``
    (file name -> sha256) replaces the built-in file table, e.g. for a private mirror.
    """
    _check_name(name)
    url = base_url or DEFAULT_URLS.get(name)
    if url is None:
        raise DatasetError(f"dataset {name!r} has no default download URL; pass base_url")
    if not url.endswith("/"):
        url += "/"
    sub, expected = _FILES[name]
    if expected_sha256 is not None:
        expected = dict(expected_sha256)
    target = Path(data_dir) / sub
    target.mkdir(parents=True, exist_ok=True)
    out: dict[str, Path] = {}
    for fname, sha in expected.items():
        path = target / fname
        if path.is_file() and sha256_file(path) == sha:
            out[fname] = path
            continue
        def fetch(tmp: str, fname: str = fname, sha: str = sha) -> None:
            with open(tmp, "wb") as fh, urllib.request.urlopen(
                url + fname, timeout=timeout_s
            ) as resp:
                shutil.copyfileobj(resp, fh)
            got = sha256_file(tmp)
            if got != sha:
                raise DatasetError(
                    f"download of {url + fname} has sha256 {got}, expected {sha}; not kept"
                )

        atomic_write(path, fetch)  # renamed into place only when the checksum matched
        out[fname] = path
    return out
