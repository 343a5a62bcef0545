"""ScenarioError: the one error bad scenario input raises, naming the YAML path and value."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["MAX_ABS_DB", "MAX_ANGLE_DEG", "MAX_BATCH", "MAX_COORD_M", "MAX_EVES", "MAX_GAIN_DB",
           "MAX_PACKETS", "MAX_REPLICAS", "MAX_SEED", "MAX_SHOWN_CHARS", "MAX_SPEED_MPS",
           "MAX_STD_DB", "MAX_TIME_S", "POWER_DBM", "ScenarioError", "check", "check_attackers",
           "check_range", "short_repr"]

_MISSING = object()

#: values (and paths) in error messages are cut to this many characters
MAX_SHOWN_CHARS = 200

# Physical bounds shared by the configs (each config checks its own fields with
# :func:`check_range`; docs/scenarios.md lists them). Non-finite numbers never get this far:
# the parser refuses them.
#: coordinates (positions, waypoints, bounds, placement), metres: 10,000 km
MAX_COORD_M = 1e7
#: speeds, m/s (about 36,000 km/h)
MAX_SPEED_MPS = 1e4
#: times, intervals and durations, s (about 32 years)
MAX_TIME_S = 1e9
#: angles, degrees (ten turns)
MAX_ANGLE_DEG = 3600.0
#: levels and offsets in dB without a tighter bound (SNRs, reference losses, biases)
MAX_ABS_DB = 200.0
#: antenna gains (either sign) and noise figures, dB
MAX_GAIN_DB = 100.0
#: standard deviations in dB (shadowing, SNR-estimate error)
MAX_STD_DB = 30.0
#: transmit powers, dBm (0.1 fW .. 10 MW)
POWER_DBM = (-100.0, 100.0)
#: packets of one run (num_packets, or duration / traffic interval)
MAX_PACKETS = 10**9
#: Eves of one scenario (a list or a generator's count)
MAX_EVES = 10_000
#: replicas of one run
MAX_REPLICAS = 10_000
#: root seeds are 0 .. MAX_SEED (numpy's SeedSequence takes 63-bit entropy here)
MAX_SEED = 2**63 - 1
#: packets per codec call, rows per trace part and other batch sizes
MAX_BATCH = 65_536


class _FullError(Exception):
    pass


def short_repr(value: Any, limit: int = MAX_SHOWN_CHARS) -> str:
    """``repr(value)`` cut to ``limit`` characters (plus ``...``), built lazily so that a
    huge or deeply nested value (a YAML alias bomb) costs no more than the shown part."""
    out: list[str] = []
    size = 0

    def emit(text: str) -> None:
        nonlocal size
        out.append(text)
        size += len(text)
        if size > limit:
            raise _FullError

    def walk(v: Any, depth: int) -> None:
        if depth > 50:
            emit("...")
        elif isinstance(v, dict):
            emit("{")
            for i, (k, x) in enumerate(v.items()):
                emit(", " if i else "")
                walk(k, depth + 1)
                emit(": ")
                walk(x, depth + 1)
            emit("}")
        elif isinstance(v, (list, tuple)):
            emit("[" if isinstance(v, list) else "(")
            for i, x in enumerate(v):
                emit(", " if i else "")
                walk(x, depth + 1)
            emit("]" if isinstance(v, list) else ("," if len(v) == 1 else "") + ")")
        elif isinstance(v, str):
            emit(repr(v[:limit + 1]))
        elif isinstance(v, int) and not isinstance(v, bool) and v.bit_length() > 4 * limit:
            emit(f"<an integer of about {int(v.bit_length() * 0.30103) + 1} digits>")
        else:
            emit(repr(v))

    try:
        walk(value, 0)
    except _FullError:
        pass
    text = "".join(out)
    return text if len(text) <= limit else text[:limit] + "..."


class ScenarioError(ValueError):
    """Invalid scenario input.

    ``path`` is the YAML path (``eves[2].mobility.speed_mps``), ``value`` the offending
    value, ``hint`` an optional suggestion (the closest known key for a typo), ``source``
    the file the scenario came from. The message shows the path and value cut to
    :data:`MAX_SHOWN_CHARS` characters. ``args`` are the constructor's arguments, so copies
    made as ``type(e)(*e.args)`` (SimPy re-raising a process's error) are equal errors.
    """

    def __init__(
        self,
        path: str,
        message: str,
        value: Any = _MISSING,
        hint: str | None = None,
        source: str | None = None,
    ) -> None:
        self.path = path
        self.message = message
        self.value = value
        self.hint = hint
        self.source = source
        super().__init__(path, message, value, hint, source)

    def __str__(self) -> str:
        where = f"{self.source}: " if self.source else ""
        path = self.path or "<root>"
        if len(path) > MAX_SHOWN_CHARS:
            path = path[:MAX_SHOWN_CHARS] + "..."
        text = f"{where}{path}: {self.message}"
        if self.value is not _MISSING:
            text += f" (got {short_repr(self.value)})"
        if self.hint:
            text += f"; did you mean {self.hint!r}?"
        return text

    def under(self, prefix: str) -> ScenarioError:
        """The same error with ``prefix`` prepended to its path."""
        if not prefix:
            return self
        if not self.path:
            path = prefix
        elif self.path.startswith("["):
            path = prefix + self.path
        else:
            path = f"{prefix}.{self.path}"
        return ScenarioError(path, self.message, self.value, self.hint, self.source)

    def __reduce__(self):
        """Pickle by constructor arguments, so the error crosses process boundaries (sweep
        workers) intact."""
        has_value = self.value is not _MISSING
        return (_restore, (self.path, self.message, has_value,
                           self.value if has_value else None, self.hint, self.source))

    def in_file(self, source: str) -> ScenarioError:
        """The same error attributed to file ``source``."""
        return ScenarioError(self.path, self.message, self.value, self.hint, source)


def _restore(path: str, message: str, has_value: bool, value: Any, hint: str | None,
             source: str | None) -> ScenarioError:
    return ScenarioError(path, message, value if has_value else _MISSING, hint, source)


def check(ok: bool, field: str, value: Any, message: str) -> None:
    """Raise ScenarioError(field, message, value) unless ``ok``; for ``__post_init__``."""
    if not ok:
        raise ScenarioError(field, message, value)


def check_attackers(names: Sequence[str], field: str = "attackers", hint: str = "") -> None:
    """A list of attacker names: at least one, each at most once (ScenarioError naming
    ``field`` otherwise; ``hint`` is appended to the first message)."""
    check(len(names) > 0, field, list(names), "name at least one attacker" + hint)
    check(len(set(names)) == len(names), field, list(names), "each attacker at most once")


def check_range(value: float | None, field: str, lo: float, hi: float, *,
                lo_open: bool = False) -> None:
    """Raise ScenarioError(field, ...) unless ``lo <= value <= hi`` (``lo < value`` with
    ``lo_open``); None (an unset optional field) passes."""
    if value is None:
        return
    ok = (lo < value if lo_open else lo <= value) and value <= hi
    check(ok, field, value, f"must be {'>' if lo_open else '>='} {_num(lo)} and <= {_num(hi)}")


def _num(x: float) -> str:
    return str(x) if isinstance(x, int) else f"{x:g}"
