"""semsim neural side: plain torch modules. Never imports ``simulator``.

Shared homes (one per idea; import them, do not re-implement):

- ``models.data``: datasets (MNIST, Fashion-MNIST, CIFAR-10 partial), checksums, splits.
- ``models.metrics``: accuracy, MSE, PSNR, SSIM, MS-SSIM.
- ``models.checkpoint``: safetensors checkpoints + manifests, resumable training state.

API notes for model engineers: ``docs/DEVNOTES-shared-api.md``.
"""

__all__: list[str] = []
