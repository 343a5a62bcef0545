"""Provenance and safe file writes, shared by checkpoints, datasets and run folders.

One home for: file sha256, the git state of the source tree, installed package versions,
and atomic writes (temp file beside the target, fsync, rename; a crash never leaves a
half-written file under the final name). Written files get the usual ``0o666 & ~umask``
permissions, not the private mode of a temp file.
"""

from __future__ import annotations

import hashlib
import os
import platform
import subprocess
import sys
import tempfile
from collections.abc import Callable
from importlib import metadata
from pathlib import Path

__all__ = [
    "PACKAGES",
    "atomic_write",
    "atomic_write_bytes",
    "atomic_write_text",
    "command_line",
    "git_state",
    "package_versions",
    "sha256_file",
]

#: Distributions whose versions shape results; recorded in manifests and run folders.
PACKAGES = ("semsim", "torch", "numpy", "scipy", "simpy", "pandas", "pyarrow", "PyYAML",
            "safetensors", "tqdm")

_REPO = Path(__file__).resolve().parents[2]


def sha256_file(path: str | os.PathLike[str], chunk_bytes: int = 1 << 20) -> str:
    """Hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(chunk_bytes):
            digest.update(chunk)
    return digest.hexdigest()


def package_versions() -> dict[str, str | None]:
    """Python's version and each of :data:`PACKAGES` (None when not installed).
    Reads package metadata only; imports nothing heavy."""
    out: dict[str, str | None] = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def git_state(repo_dir: str | os.PathLike[str] | None = None) -> dict[str, object]:
    """``{"commit": sha, "dirty": bool, "diff_sha256": hex or None}`` of the source tree.

    ``dirty`` looks at tracked files only; ``diff_sha256`` is the sha256 of ``git diff HEAD``
    (the uncommitted change of tracked files; None when clean), so a result made from a
    dirty tree still names the exact source it came from. Every value is None outside a
    git checkout or without git."""
    cwd = Path(repo_dir) if repo_dir else _REPO
    none = {"commit": None, "dirty": None, "diff_sha256": None}
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True,
                             text=True, timeout=10, check=False)
        if sha.returncode != 0:
            return none
        diff = subprocess.run(["git", "diff", "HEAD", "--binary"], cwd=cwd,
                              capture_output=True, timeout=30, check=False)
        if diff.returncode != 0:
            return none
        dirty = bool(diff.stdout.strip())
        return {"commit": sha.stdout.strip(), "dirty": dirty,
                "diff_sha256": hashlib.sha256(diff.stdout).hexdigest() if dirty else None}
    except (OSError, subprocess.SubprocessError):
        return none


def command_line() -> list[str]:
    """The command line of this process, as typed (recorded in run folders and manifests)."""
    return list(sys.argv)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write(path: str | os.PathLike[str], write: Callable[[str], object]) -> Path:
    """Call ``write(tmp_path)`` on a temp file beside ``path``, then rename it over ``path``.

    For writers that want a file name (``safetensors.save_file``, ``torch.save``). On any
    error the temp file is removed and an existing ``path`` is left untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Atomically write ``data`` to ``path`` (see :func:`atomic_write`)."""
    return atomic_write(path, lambda tmp: Path(tmp).write_bytes(data))


def atomic_write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Atomically write UTF-8 ``text`` to ``path`` (see :func:`atomic_write`)."""
    return atomic_write_bytes(path, text.encode("utf-8"))
