"""Engine adapter for INN steganography over DeepJSCC (:mod:`models.stego`), a thin layer
over the system's batched verbs (``prepare``, ``send``, ``decode_bob``, ``decode_eve``).

Alice hides the source image (the *private* image) inside a *host* image that she draws
from the host dataset of the chosen setting (her own seeded stream), and transmits only
the container z_c. Bob inverts the INN (l_hat = zeros by default) and decodes the private
image; each Eve runs the attacker ensemble :data:`ATTACKERS` (``attackers`` narrows it
scenario-wide, ``eves[i].attackers`` per Eve): ``naive`` decodes what she hears with the
public DeepJSCC decoder, ``mia`` with her model-inversion network (trained against the
public encoder). Every output is scored against both the private and the host image (PSNR
in dB with peak 1, SSIM with a 7-pixel Gaussian window).

Symbol scaling: the container is sent as it is, complex symbols of unit average power
packed as reals, with ``power_per_real = COMPLEX_UNIT_POWER`` (1/2) in its Transmission;
the engine adds noise of variance 1/2 / snr per real (:mod:`models.common.snr`).

Metric columns (per receiver; NaN where a column does not apply to the role):
``psnr_private_db``, ``ssim_private``, ``psnr_host_db``, ``ssim_host`` score the
receiver's main output (Bob: revealed private image; Eve: naive decoding);
``mia_psnr_private_db``, ``mia_ssim_private``, ``mia_ssim_host`` score Eve's MIA output.
An Eve's leakage is her SSIM to the private image; her worst attacker the one with the
higher mean.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from semsim.simulator.codecs.base import (
    BatchedDecode,
    PacketMetrics,
    RowLayout,
    Transmission,
    per_packet_prepared,
    prepare_torch,
    receiver_attackers,
    to_numpy,
)
from semsim.simulator.errors import ScenarioError, check, check_attackers
from semsim.simulator.names import check_name

__all__ = ["ATTACKERS", "Options", "StegoCodec", "attackers", "build", "source_dataset",
           "source_images", "trained_snr_db"]

#: Eve's attackers: naive decoding and model inversion
ATTACKERS = ("naive", "mia")


@dataclass(frozen=True)
class Options:
    """setting: private/host datasets and codec (``models.stego.SETTINGS``); checkpoint:
    stego checkpoint name (None: the setting's default); host_split: which split Alice
    draws hosts from; l_hat: Bob's guess of the lost INN output (zeros | gaussian);
    attackers: Eve's ensemble (default both; ``mia`` needs the setting's inversion
    checkpoint); threads: torch intra-op threads (0: torch's default; 1 suits per-packet
    calls); host_pool: ``split`` (each host drawn from the whole host split) or ``table``
    (from the H hosts per private image of the calibration table ``stego-abstract`` reads,
    drawn exactly as it draws them: a neural run paired host for host with its
    abstraction; ``stego_hosts``); table_dir: that table's folder (None: shipped)."""

    setting: Literal["mnist-in-fashion", "fashion", "mnist", "cifar10"] = "mnist-in-fashion"
    checkpoint: str | None = None
    checkpoint_dir: str | None = None
    host_split: Literal["train", "test"] = "test"
    data_dir: str | None = None
    l_hat: Literal["zeros", "gaussian"] = "zeros"
    attackers: tuple[Literal[ATTACKERS], ...] = ATTACKERS  # type: ignore[valid-type]
    threads: int = 1
    host_pool: Literal["split", "table"] = "split"
    table_dir: str | None = None

    def __post_init__(self) -> None:
        check(self.threads >= 0, "threads", self.threads, "must be >= 0")
        check(self.table_dir is None or self.host_pool == "table", "table_dir",
              self.table_dir, "only with host_pool: table")
        check_attackers(self.attackers)
        if self.checkpoint is not None:
            check_name(self.checkpoint, "checkpoint")


def attackers(options: Options) -> tuple[str, ...]:
    """The attackers every Eve runs unless ``eves[i].attackers`` narrows them."""
    return tuple(options.attackers)


def source_dataset(options: Options) -> str:
    """The dataset the source must draw the private images from (the setting's)."""
    from semsim.models.stego.settings import SETTINGS

    return SETTINGS[options.setting].private


def source_images(options: Options) -> int | None:
    """With ``host_pool: table`` the source may draw only the table's first N private test
    images (None: any)."""
    if options.host_pool != "table":
        return None
    from semsim.simulator.codecs.abstract_common import table_images
    from semsim.simulator.codecs.stego_hosts import table_location

    return table_images(*table_location(options))


def trained_snr_db(options: Options) -> tuple[float, float] | None:
    """The SNR range (dB) the stego checkpoint was trained on (its manifest config)."""
    from semsim.models.manifests import CHECKPOINT_DIR, CheckpointError, read_manifest
    from semsim.models.stego.settings import default_checkpoint

    name = options.checkpoint or default_checkpoint(options.setting)
    try:
        rng = read_manifest(options.checkpoint_dir or CHECKPOINT_DIR, name)["config"].get(
            "snr_range_db")
    except CheckpointError:
        return None
    return (float(rng[0]), float(rng[1])) if rng else None


class StegoCodec(BatchedDecode):
    """Hide at Alice, reveal at Bob, naive + MIA decoding at the Eves (torch, batched)."""

    name = "stego"
    decode_behind_safe = True  # decode: Bob's own generator; encode: Alice's host stream

    @property
    def shared_decode(self) -> bool:
        """Whether replicas may share decode calls (``codec.batch_replicas``): with
        ``l_hat: zeros`` the decode is deterministic; with ``gaussian`` Bob's reveal draws
        the lost latent from this replica's generator, so replicas decode one by one."""
        return self.options.l_hat == "zeros"

    def __init__(self, options: Options, seed_sequence: np.random.SeedSequence,
                 device: str = "cpu") -> None:
        import torch

        from semsim.models.data import load_dataset
        from semsim.models.stego.loader import load_stego
        from semsim.models.stego.settings import SETTINGS

        super().__init__(options, device)
        setting = SETTINGS[options.setting]
        self.system = load_stego(options.setting, options.checkpoint_dir, device=device,
                                 with_mia="mia" in options.attackers, name=options.checkpoint)
        if "mia" in options.attackers and self.system.inversion is None:
            raise ScenarioError("codec.options.attackers", "Eve's model-inversion checkpoint "
                                f"{setting.mia!r} is missing, so her MIA columns would be all "
                                "NaN (overstating secrecy): train it (semsim train stego-mia "
                                f"--jscc {setting.jscc}) or use attackers: [naive]",
                                list(options.attackers))
        self.system.l_hat_mode = options.l_hat
        self.hosts = load_dataset(setting.host, options.host_split, options.data_dir).images
        self.private_shape = self.system.image_shape
        host_ss, torch_ss = seed_sequence.spawn(2)
        self._host_rng = np.random.default_rng(host_ss)
        self._table_hosts = None
        if options.host_pool == "table":
            from semsim.simulator.codecs.stego_hosts import TableHosts, load_stego_table

            table, _ = load_stego_table(options)
            self._table_hosts = TableHosts(table.arrays["host_index"], table.arrays["labels"],
                                           self._host_rng)
        self._gen = torch.Generator().manual_seed(int(torch_ss.generate_state(1)[0]))

    def _private(self, sources: Mapping[str, Any]):
        import torch

        private = torch.as_tensor(np.asarray(sources["images"], dtype=np.float32))
        if tuple(private.shape[1:]) != self.private_shape:
            raise ScenarioError("source", f"stego setting {self.options.setting!r} needs "
                                f"private images of shape {self.private_shape}",
                                tuple(private.shape[1:]))
        return private

    def _host(self, sources: Mapping[str, Any], i: int) -> int:
        """Packet i's host row: uniform over the host split, or (``host_pool: table``) the
        table's draw for its image, as ``stego-abstract`` makes it."""
        if self._table_hosts is None:
            return int(self._host_rng.integers(len(self.hosts)))
        return self._table_hosts.draw(self._table_hosts.source_index(sources, i))[1]

    def prepare_many(self, sources: Mapping[str, np.ndarray]) -> list[dict[str, Any]]:
        """B source packets -> B sources dicts carrying their host index, container and
        channel symbols (one batched hide and one conversion; hosts drawn one per packet, in
        order, as ``encode`` does; stego's symbols do not depend on the SNR estimate)."""
        private = self._private(sources)
        hs = [self._host(sources, i) for i in range(private.shape[0])]
        zc = self.system.prepare(private.to(self.device), self.hosts[hs].to(self.device))
        symbols = self.system.send(zc)[0].double().cpu().numpy()
        return per_packet_prepared(sources, [
            {"host_index": h, "container": zc[i:i + 1], "symbols": symbols[i],
             "private": private[i:i + 1]} for i, h in enumerate(hs)])

    def encode(self, sources: Mapping[str, Any], snr_est_db: np.ndarray) -> Transmission:
        if "prepared" in sources:
            ready = sources["prepared"]
            h, private, symbols = ready["host_index"], ready["private"], ready["symbols"]
        else:
            private = self._private(sources)
            h = self._host(sources, 0)
            zc = self.system.prepare(private.to(self.device),
                                     self.hosts[h:h + 1].to(self.device))
            symbols = self.system.send(zc)[0][0].double().cpu().numpy()
        header = {"host_index": h}
        if "index" in sources:
            header["source_index"] = int(np.asarray(sources["index"])[0])
        return Transmission(symbols=symbols, power_per_real=self.system.power_per_real,
                            header=header,
                            truth={"private": private, "host": self.hosts[h:h + 1]})

    def decode_many(self, txs: Sequence[Transmission], received: Sequence[np.ndarray],
                    snr_est_db: Sequence[np.ndarray], roles: Sequence[str],
                    attackers: Sequence[Sequence[str] | None] | None = None
                    ) -> PacketMetrics:
        """The primary interface. P packets x R receivers in one batch: ``decode_bob`` over
        every Bob row, ``decode_eve`` over every Eve row, each scored against its own
        packet's private and host image. ``attackers``: per receiver (R,), the Eve's list
        (None: the codec's ``attackers``); an attacker she does not run leaves NaN."""
        import torch

        from semsim.models.metrics import psnr, ssim_pairs

        rows = RowLayout.of(len(txs), roles)
        bob, eve = rows.bob, rows.eve
        y = torch.as_tensor(np.concatenate(received), dtype=torch.float32, device=self.device)
        packet = torch.as_tensor(rows.packet)
        # every packet's private image, then every packet's host image: (2 P, C, H, W)
        truth = torch.cat([t.truth["private"] for t in txs]
                          + [t.truth["host"] for t in txs]).to(self.device)
        private, host = truth[packet], truth[packet + len(txs)]
        images = torch.empty_like(private)
        mia = None
        if bob.size:
            images[bob] = self.system.decode_bob(y[bob], generator=self._gen)["images"]
        if eve.size:
            heard = self.system.decode_eve(y[eve])
            images[eve], mia = heard["images"], heard.get("mia")
        n = len(rows.packet)
        out = {"psnr_private_db": to_numpy(psnr(images, private)),
               "psnr_host_db": to_numpy(psnr(images, host)),
               **{k: np.full(n, np.nan) for k in (
                   "mia_psnr_private_db", "mia_ssim_private", "mia_ssim_host")}}
        # every output against its packet's private and host image: one SSIM call, each
        # source image's own statistics computed once for all its receivers
        outputs, out_row = images, torch.arange(n)
        if mia is not None:
            outputs = torch.cat([images, mia])
            out_row = torch.cat([out_row, n + torch.arange(len(eve))])
        of = packet if mia is None else torch.cat([packet, packet[torch.as_tensor(eve)]])
        score = to_numpy(ssim_pairs(outputs, truth, torch.cat([out_row, out_row]),
                                    torch.cat([of, of + len(txs)])))
        m = len(out_row)
        out["ssim_private"], out["ssim_host"] = score[:n], score[m:m + n]
        if mia is not None:
            out["mia_psnr_private_db"][eve] = to_numpy(psnr(mia, private[eve]))
            out["mia_ssim_private"][eve] = score[n:m]
            out["mia_ssim_host"][eve] = score[m + n:]
        everyone = tuple(self.options.attackers)
        lists = receiver_attackers(attackers, len(roles), everyone)
        for name, columns in (("naive", ("psnr_private_db", "ssim_private", "psnr_host_db",
                                         "ssim_host")),
                              ("mia", ("mia_psnr_private_db", "mia_ssim_private",
                                       "mia_ssim_host"))):
            skip = eve[[name not in lists[r] for r in rows.receiver[eve]]]
            for c in columns:
                out[c][skip] = np.nan
        return rows.split(out)


def build(options: Options, *, seed_sequence: np.random.SeedSequence | None = None,
          device: str = "auto", **_: object) -> StegoCodec:
    """Plugin entry point: loads the shipped checkpoints (sha256-checked) on ``device``."""
    device = prepare_torch(device, options.threads)
    return StegoCodec(options, seed_sequence or np.random.SeedSequence(0), device)
