"""The trace-column registry: every column a trace can hold, in one table.

Each :class:`Column` names its Arrow type, unit, the receiver roles it applies to and its
meaning. The engine fills the fixed columns (:data:`FIXED`, file order), the codecs add
their header (``h_*``) and metric (``m_*``) columns (:data:`CODEC_COLUMNS`), the trace
writer types every column from here, and the column tables of ``docs/traces.md`` are
generated from here (``python -m semsim.simulator.columns docs/traces.md`` rewrites them;
a test fails when they differ).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa

__all__ = ["CODEC_COLUMNS", "CODEC_TITLES", "Column", "EVENT", "FIXED", "ROW", "arrow_type",
           "render_tables", "update_doc"]

_ALL = ("bob", "eve", "coalition")
_PHYS = ("bob", "eve")  # a coalition is a virtual receiver: no position or link budget


@dataclass(frozen=True)
class Column:
    """One trace column. ``scope``: ``run`` (constant per replica), ``receiver`` (constant per
    receiver), ``event`` (one value per packet), ``row`` (per packet and receiver),
    ``header`` (a codec's scalar header field) or ``metric`` (a codec's per-receiver metric).
    ``roles``: the roles whose rows hold a value (NaN elsewhere)."""

    name: str
    arrow: pa.DataType
    unit: str
    scope: str
    meaning: str
    roles: tuple[str, ...] = _ALL

    @property
    def type_name(self) -> str:
        """Arrow type as written in the docs (``float64``, ``int64``, ``string``, ...)."""
        return {"double": "float64"}.get(str(self.arrow), str(self.arrow))


def _cols(scope: str, rows: list[tuple]) -> tuple[Column, ...]:
    return tuple(Column(name, arrow, unit, scope, meaning, *rest)
                 for name, arrow, unit, meaning, *rest in rows)


F64, I64, S, B = pa.float64(), pa.int64(), pa.string(), pa.bool_()

#: every fixed column, in file order
FIXED: tuple[Column, ...] = (
    *_cols("run", [("run_id", S, "-", "run folder name"),
                   ("replica", pa.int32(), "-", "replica index (its own random streams)"),
                   ("seed", I64, "-", "root seed of the run")]),
    *_cols("event", [("packet_id", I64, "-", "packet number, 0-based, in transmission order"),
                     ("time_s", F64, "s", "transmission time (simulation clock)")]),
    *_cols("receiver", [("node", S, "-", "receiver name (`bob`, `eve0`, ...)"),
                        ("role", S, "-", "`bob`, `eve` or `coalition` (colluding Eves)")]),
    *_cols("event", [("codec", S, "-",
                      "codec name (`reference`, `diffsem`, `stego`, `diffsem-abstract`, "
                      "`stego-abstract`)"),
                     ("tx_x_m", F64, "m", "Alice's x position at `time_s`"),
                     ("tx_y_m", F64, "m", "Alice's y position")]),
    *_cols("row", [
        ("rx_x_m", F64, "m", "receiver's x position", _PHYS),
        ("rx_y_m", F64, "m", "receiver's y position", _PHYS),
        ("distance_m", F64, "m", "Alice-receiver distance", _PHYS),
        ("relative_speed_mps", F64, "m/s",
         "norm of the receiver's velocity relative to Alice", _PHYS),
        ("doppler_hz", F64, "Hz",
         "max Doppler: relative speed x carrier / c + `environment_doppler_hz`", _PHYS),
        ("path_loss_db", F64, "dB", "log-distance / free-space path loss", _PHYS),
        ("shadowing_db", F64, "dB", "log-normal shadowing loss (positive = weaker)", _PHYS),
        ("mean_snr_db", F64, "dB", "link-budget SNR: Pt + Gt + Gr - PL - shadowing - noise",
         _PHYS),
        ("fading_gain", F64, "linear",
         "small-scale power gain abs(h)^2 of the current coherence block (E = 1)", _PHYS),
        ("snr_true_db", F64, "dB",
         "instantaneous SNR: `mean_snr_db` + 10 log10(`fading_gain`); coalition: after "
         "combining its members' receptions"),
        ("snr_rx_est_db", F64, "dB",
         "this receiver's own SNR estimate (its estimator); Bob's is fed back; coalition: "
         "the combiner's estimate from its members' estimates")]),
    *_cols("event", [("snr_est_db", F64, "dB",
                      "the SNR Alice used to encode this packet (Bob's last report to arrive)")]),
    *_cols("row", [("snr_mismatch_db", F64, "dB",
                    "`snr_est_db` - `snr_true_db` of this receiver")]),
    *_cols("event", [
        ("feedback_packet_id", I64, "-",
         "packet whose Bob report Alice used; -1 before the first arrives"),
        ("feedback_age_s", F64, "s",
         "`time_s` minus the time of that report (NaN when none)"),
        ("feedback_sender", S, "-", "who sent that report: `bob`, the name of an Eve who "
                                    "forged it (`forge_feedback`), or `none` before the first"),
        ("feedback_forged", B, "-", "the report Alice used was forged by an Eve")]),
    *_cols("row", [
        ("capacity_bps_hz", F64, "bit/s/Hz", "log2(1 + SNR) of this receiver"),
        ("secrecy_capacity_bps_hz", F64, "bit/s/Hz",
         "Eve / coalition row: max(0, log2(1+SNR_bob) - log2(1+SNR_eve)); Bob row: the same "
         "against the strongest Eve or coalition of the packet (Bob's capacity when there is "
         "none)"),
        ("secrecy_outage", B, "-",
         "`secrecy_capacity_bps_hz` < `secrecy.target_rate_bps_hz`")]),
)
_BY_NAME = {c.name: c for c in FIXED}
#: names of the fixed columns filled once per packet / per packet and receiver
EVENT = tuple(c.name for c in FIXED if c.scope == "event")
ROW = tuple(c.name for c in FIXED if c.scope == "row")

#: paragraph that introduces each shipped codec's table in docs/traces.md
CODEC_TITLES = {
    "reference": "Reference codec (`codec.name: reference`):",
    "diffsem": "DiffSem codec (`codec.name: diffsem`); NaN where a column does not apply to "
               "the row's role:",
    "stego": "Steganography codec (`codec.name: stego`); NaN where a column does not apply:",
    "diffsem-abstract": "DiffSem PHY abstraction (`codec.name: diffsem-abstract`, "
                        "docs/abstraction.md): the same columns as `diffsem`, drawn from the "
                        "calibrated table; NaN where a column does not apply to the row's role:",
    "stego-abstract": "Steganography PHY abstraction (`codec.name: stego-abstract`, "
                      "docs/abstraction.md): the same columns as `stego`, drawn from the "
                      "calibrated table; NaN where a column does not apply:",
}
_BOB, _EVE = ("bob",), ("eve", "coalition")

#: each shipped codec's header and metric columns (the trace sorts them by name)
CODEC_COLUMNS: dict[str, tuple[Column, ...]] = {
    "reference": (
        *_cols("header", [
            ("h_mean", F64, "-", "pixel mean removed before transmission (side information)"),
            ("h_scale", F64, "-",
             "RMS of the centred pixels (features are sent at unit power)")]),
        *_cols("metric", [
            ("m_mse", F64, "-", "image MSE after reconstruction (pixels in [0, 1])"),
            ("m_psnr_db", F64, "dB", "10 log10(1 / `m_mse`)"),
            ("m_feature_mse", F64, "-", "MSE of the unit-power features (AWGN: 1/SNR for "
                                        "`mf`, 1/(1+SNR) for `lmmse`)")]),
    ),
    "diffsem": (
        *_cols("header", [
            ("h_tstar", I64, "step", "diffusion step t* of the self-noise"),
            ("h_tprime", I64, "step",
             "t' Alice chose by Eq. 24 from Bob's fed-back estimate (`snr_est_db`)"),
            ("h_power", F64, "-",
             "transmit power P_s = abar_t* + 1 - abar_t' before unit-power scaling"),
            ("h_source_index", I64, "-", "row of the source image in its dataset split")]),
        *_cols("metric", [
            ("m_label", F64, "-", "true class"),
            ("m_pred", F64, "-", "Bob: his receiver's class; Eve / coalition: her first "
                                 "attacker's class (default `direct`)"),
            ("m_correct", F64, "-",
             "1.0 / 0.0: Bob's task accuracy; Eve / coalition: her first attacker's leakage "
             "(default `direct`, the strongest measured)"),
            *[(f"m_correct_{a}", F64, "-", f"1.0 / 0.0: leakage of attacker `{a}` ({how}); "
               "NaN where the Eve does not run it", _EVE)
              for a, how in (("direct", "her classifier of y"),
                             ("conv_cnn", "conv inversion, CNN judge"),
                             ("conv_mlp", "conv inversion, MLP judge"),
                             ("mlp_cnn", "MLP inversion, CNN judge"),
                             ("mlp_mlp", "MLP inversion, MLP judge"))],
            ("m_leak_any", F64, "-", "1.0 when any of her attackers is right (an upper bound "
                                     "on the ensemble's leakage)", _EVE),
            ("m_passes", F64, "-",
             "Bob, E-DiffSem: guided passes until the label was stable", _BOB),
            *[(f"m_psnr_{inv}_db", F64, "dB", f"Eve: PSNR of her {inv} inversion against "
               "the source image", _EVE) for inv in ("conv", "mlp")],
            *[(f"m_ssim_{inv}", F64, "-", f"Eve: SSIM of her {inv} inversion against the "
               "source image", _EVE) for inv in ("conv", "mlp")]]),
    ),
    "stego": (
        *_cols("header", [
            ("h_host_index", I64, "-", "row of the host image Alice drew from the host dataset"),
            ("h_source_index", I64, "-", "row of the private (source) image")]),
        *_cols("metric", [
            ("m_psnr_private_db", F64, "dB", "main output (Bob: revealed image; Eve: her "
                                             "`naive` attacker, the public DeepJSCC decoder) "
                                             "vs the private image"),
            ("m_ssim_private", F64, "-", "the same, SSIM"),
            ("m_psnr_host_db", F64, "dB", "main output vs the host image"),
            ("m_ssim_host", F64, "-", "the same, SSIM"),
            ("m_mia_psnr_private_db", F64, "dB",
             "Eve: her `mia` attacker's (model inversion) output vs the private image", _EVE),
            ("m_mia_ssim_private", F64, "-", "the same, SSIM", _EVE),
            ("m_mia_ssim_host", F64, "-",
             "Eve: model-inversion output vs the host image, SSIM", _EVE)]),
    ),
}
CODEC_COLUMNS["diffsem-abstract"] = CODEC_COLUMNS["diffsem"]
CODEC_COLUMNS["stego-abstract"] = CODEC_COLUMNS["stego"]
_CODEC_BY_NAME = {name: {c.name: c for c in cols} for name, cols in CODEC_COLUMNS.items()}


def arrow_type(name: str, codec: str | None = None, values=None) -> pa.DataType:
    """The Arrow type of column ``name``: from the registry (fixed, or ``codec``'s own), else
    inferred from ``values`` (a codec outside the registry: bool, int64, float64, string)."""
    if name in _BY_NAME:
        return _BY_NAME[name].arrow
    col = _CODEC_BY_NAME.get(codec or "", {}).get(name)
    if col is not None:
        return col.arrow
    dtype = np.asarray(values).dtype
    if dtype == np.bool_:
        return B
    if np.issubdtype(dtype, np.integer):
        return I64
    if np.issubdtype(dtype, np.number):
        return F64
    return S


def _table(cols: tuple[Column, ...], roles: bool) -> list[str]:
    head = ["| column | type | unit | roles | meaning |", "|---|---|---|---|---|"] if roles \
        else ["| column | type | unit | meaning |", "|---|---|---|---|"]
    out = head
    for c in cols:
        cells = [f"`{c.name}`", c.type_name, c.unit]
        if roles:
            cells.append(", ".join(c.roles))
        out.append("| " + " | ".join([*cells, c.meaning]) + " |")
    return out


def render_tables() -> str:
    """The generated part of docs/traces.md: the fixed columns and each codec's table."""
    lines = ["## Fixed columns", "", *_table(FIXED, roles=True), ""]
    lines += ["## Codec columns", "",
              "| prefix | type | meaning |", "|---|---|---|",
              "| `h_<key>` | float64, int64, bool or string | scalar header field the codec "
              "put in `Transmission.header` (one value per packet) |",
              "| `m_<key>` | float64, int64 or bool | per-receiver metric returned by "
              "`Codec.decode` |", ""]
    for name, cols in CODEC_COLUMNS.items():
        lines += [CODEC_TITLES[name], "", *_table(cols, roles=True), ""]
    return "\n".join(lines)


BEGIN, END = "<!-- columns: generated from semsim.simulator.columns -->", "<!-- /columns -->"


def update_doc(path: str | Path, write: bool = True) -> bool:
    """Replace the text between :data:`BEGIN` and :data:`END` in ``path`` by
    :func:`render_tables`; returns True when it was already up to date."""
    path = Path(path)
    text = path.read_text()
    i, j = text.index(BEGIN) + len(BEGIN), text.index(END)
    new = text[:i] + "\n" + render_tables() + "\n" + text[j:]
    if write and new != text:
        path.write_text(new)
    return new == text


if __name__ == "__main__":
    for doc in sys.argv[1:] or ["docs/traces.md"]:
        print(f"{doc}: {'up to date' if update_doc(doc) else 'rewritten'}")
