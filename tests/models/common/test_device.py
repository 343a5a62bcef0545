import pytest
import torch

from semsim.models.common.device import DeviceError, resolve_device


def test_cpu_and_auto():
    assert resolve_device("cpu") == "cpu"
    assert resolve_device("auto") == ("cuda" if torch.cuda.is_available() else "cpu")


@pytest.mark.parametrize("bad", ["gpu", "cuda:x", "tpu:0", ""])
def test_bad_names_are_named(bad):
    with pytest.raises(DeviceError, match=repr(bad)):
        resolve_device(bad)


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_missing_is_a_clear_error():
    with pytest.raises(DeviceError, match="no CUDA"):
        resolve_device("cuda")
