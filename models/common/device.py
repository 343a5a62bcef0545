"""One home for resolving ``--device auto|cpu|cuda[:N]`` to a torch device string."""

from __future__ import annotations

__all__ = ["DeviceError", "resolve_device", "synchronize"]


class DeviceError(ValueError):
    """A requested device does not exist on this machine."""


def resolve_device(device: str) -> str:
    """``auto`` -> ``cuda`` when torch sees a GPU, else ``cpu``; ``cuda[:N]`` is checked.

    Raises :class:`DeviceError` naming the value when CUDA is requested but unavailable,
    or the string is not one of ``auto``, ``cpu``, ``cuda``, ``cuda:N``.
    """
    if device == "cpu":
        return "cpu"
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" or (device.startswith("cuda:") and device[5:].isdigit()):
        if not torch.cuda.is_available():
            raise DeviceError(f"device {device!r} requested but torch sees no CUDA device")
        index = int(device[5:]) if ":" in device else 0
        if index >= torch.cuda.device_count():
            raise DeviceError(
                f"device {device!r}: only {torch.cuda.device_count()} CUDA device(s) present"
            )
        return device
    raise DeviceError(f"device {device!r}: expected auto, cpu, cuda or cuda:N")


def synchronize(device: str) -> None:
    """Wait for ``device``'s queued work (a no-op on the CPU): call before reading a timer."""
    if device.startswith("cuda"):
        import torch

        torch.cuda.synchronize(device)
