"""YAML -> frozen dataclasses, and ``--set key.path=value`` overrides: the generic parser.

:func:`parse_dataclass` maps a YAML mapping onto a frozen dataclass from its type hints
(numbers, booleans, strings, Literals, tuples, optional fields, nested dataclasses, unions of
dataclasses selected by their ``kind``); unknown keys, wrong types and out-of-range values
raise :class:`~semsim.simulator.errors.ScenarioError` naming the YAML path
(``eves[2].mobility.speed_mps``) and the value, with the closest key for typos. Numbers
written like ``2.4e9`` (a string to YAML 1.1) are accepted for numeric fields.
:func:`apply_overrides` edits the raw YAML data before parsing; :func:`to_plain` turns a
parsed config back into YAML-able data. The scenario's own composition is in
:mod:`semsim.simulator.scenario`.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import re
import types
import typing
from pathlib import Path
from typing import Any, Literal

import yaml

from semsim.simulator.errors import ScenarioError

__all__ = ["MAX_DEPTH", "MAX_NUMBER_CHARS", "apply_overrides", "load_yaml", "parse_dataclass",
           "parse_plugin", "parse_value", "read_yaml", "suggest", "to_plain"]


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def suggest(key: str, known: typing.Iterable[str]) -> str | None:
    close = difflib.get_close_matches(str(key), list(known), n=1, cutoff=0.5)
    return close[0] if close else None


def _as_float(value: Any, path: str) -> float:
    if isinstance(value, bool):
        raise ScenarioError(path, "expected a number, not a boolean", value)
    if isinstance(value, (int, float)):
        out = float(value)
    elif isinstance(value, str):
        try:
            out = float(value)
        except ValueError:
            raise ScenarioError(path, "expected a number", value) from None
    else:
        raise ScenarioError(path, "expected a number", value)
    if not math.isfinite(out):
        raise ScenarioError(path, "expected a finite number (not inf or NaN)", value)
    return out


def _as_int(value: Any, path: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    out = _as_float(value, path)
    if not out.is_integer():
        raise ScenarioError(path, "expected an integer", value)
    return int(out)


def parse_value(tp: Any, value: Any, path: str) -> Any:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None:
            if type(None) in args:
                return None
            raise ScenarioError(path, "must not be null", value)
        members = [a for a in args if a is not type(None)]
        if all(dataclasses.is_dataclass(m) for m in members) and len(members) > 1:
            return _parse_kind_union(members, value, path)
        if len(members) == 1:
            return parse_value(members[0], value, path)
        raise TypeError(f"unsupported union {tp}")  # pragma: no cover - programming error
    if value is None:
        raise ScenarioError(path, "must not be null", value)
    if origin is Literal:
        if value not in args:
            raise ScenarioError(path, f"must be one of {', '.join(map(str, args))}", value,
                                suggest(str(value), map(str, args)))
        return value
    if tp is bool:
        if not isinstance(value, bool):
            raise ScenarioError(path, "expected true or false", value)
        return value
    if tp is int:
        return _as_int(value, path)
    if tp is float:
        return _as_float(value, path)
    if tp is str:
        if not isinstance(value, str):
            raise ScenarioError(path, "expected a string", value)
        return value
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise ScenarioError(path, "expected a list", value)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(parse_value(args[0], v, f"{path}[{i}]") for i, v in enumerate(value))
        if len(value) != len(args):
            raise ScenarioError(path, f"expected a list of {len(args)} values", value)
        return tuple(parse_value(a, v, f"{path}[{i}]")
                     for i, (a, v) in enumerate(zip(args, value, strict=True)))
    if dataclasses.is_dataclass(tp):
        return parse_dataclass(tp, value, path)
    raise TypeError(f"unsupported field type {tp}")  # pragma: no cover - programming error


def _parse_kind_union(members: list[type], value: Any, path: str) -> Any:
    if not isinstance(value, dict):
        raise ScenarioError(path, "expected a mapping with a 'kind' key", value)
    kinds = {typing.get_args(typing.get_type_hints(m)["kind"])[0]: m for m in members}
    if "kind" not in value:
        typo = next((k for k in value if suggest(str(k), ["kind"])), None)
        if typo is not None:  # name the misspelt key, not a missing "kind"
            raise ScenarioError(_join(path, str(typo)), "unknown key", value[typo], "kind")
        raise ScenarioError(_join(path, "kind"), f"missing; one of {', '.join(kinds)}")
    kind = value["kind"]
    if not isinstance(kind, str) or kind not in kinds:
        raise ScenarioError(_join(path, "kind"), f"must be one of {', '.join(kinds)}", kind,
                            suggest(str(kind), kinds) if isinstance(kind, str) else None)
    return parse_dataclass(kinds[kind], value, path)


def parse_dataclass(cls: type, value: Any, path: str, skip: tuple[str, ...] = ()) -> Any:
    if not isinstance(value, dict):
        raise ScenarioError(path, f"expected a mapping for {cls.__name__}", value)
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls) if f.init]
    kwargs = {}
    for key, item in value.items():
        if key not in names:
            raise ScenarioError(_join(path, str(key)), "unknown key", item,
                                suggest(str(key), names))
        if key in skip:
            continue
        kwargs[key] = parse_value(hints[key], item, _join(path, key))
    try:
        return cls(**kwargs)
    except ScenarioError as err:
        raise err.under(path) from None


def parse_plugin(cls: type, registry, name_key: str, value: Any, path: str) -> Any:
    if value is None:
        value = {}
    base = parse_dataclass(cls, value, path, skip=("options",))
    module = registry.module(getattr(base, name_key), _join(path, name_key))
    options = parse_dataclass(module.Options, value.get("options") or {},
                               _join(path, "options"))
    return dataclasses.replace(base, options=options)


#: deepest nesting of a YAML document or an override path (a scenario needs about 8)
MAX_DEPTH = 32
#: longest number literal accepted in YAML (digits and signs)
MAX_NUMBER_CHARS = 100

_INT_TAG, _FLOAT_TAG = "tag:yaml.org,2002:int", "tag:yaml.org,2002:float"


def _dotted(where: typing.Sequence[Any]) -> str:
    out = ""
    for p in where:
        if isinstance(p, int):
            out += f"[{p}]"
        elif p is not None:
            out = _join(out, str(p))
    return out


class _Loader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that also refuses, as a ScenarioError naming the key, duplicate
    keys in a mapping, nesting deeper than :data:`MAX_DEPTH` and number literals longer than
    :data:`MAX_NUMBER_CHARS` characters."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._where: list[Any] = []  # mapping keys / list indices down to the current node

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node:
        self._where.append(index.value if isinstance(index, yaml.ScalarNode) else index)
        try:
            if len(self._where) > MAX_DEPTH:
                raise ScenarioError(_dotted(self._where), f"nested deeper than {MAX_DEPTH} "
                                    "levels")
            node = super().compose_node(parent, index)
            if isinstance(node, yaml.MappingNode):
                seen: set[tuple[str, str]] = set()
                for key, _ in node.value:
                    if isinstance(key, yaml.ScalarNode) and key.tag != "tag:yaml.org,2002:merge":
                        if (key.tag, key.value) in seen:
                            raise ScenarioError(_dotted([*self._where, key.value]),
                                                "duplicate key (each key once per mapping)")
                        seen.add((key.tag, key.value))
            elif (isinstance(node, yaml.ScalarNode) and node.tag in (_INT_TAG, _FLOAT_TAG)
                  and len(node.value) > MAX_NUMBER_CHARS):
                raise ScenarioError(_dotted(self._where), f"a number of more than "
                                    f"{MAX_NUMBER_CHARS} characters", node.value)
            return node
        finally:
            self._where.pop()


def load_yaml(text: str) -> Any:
    """``yaml.safe_load`` of ``text`` with the checks of :class:`_Loader`."""
    return yaml.load(text, Loader=_Loader)


_NAME = r"[A-Za-z0-9_-]+"
_PATH = re.compile(rf"{_NAME}(\[\d+\])*(\.{_NAME}(\[\d+\])*)*")
_TOKEN = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def _override_tokens(key: str) -> list[tuple[str | None, str | None]]:
    """(name, index) tokens of an override path such as ``eves[0].mobility.speed_mps``."""
    if not _PATH.fullmatch(key):
        raise ScenarioError(key or "--set", "malformed override path: use names joined by "
                            "'.' and list indices [i], e.g. eves[0].mobility.speed_mps")
    tokens = [(m.group(1), m.group(2)) for m in _TOKEN.finditer(key)]
    if len(tokens) > MAX_DEPTH:
        raise ScenarioError(key, f"override path deeper than {MAX_DEPTH} levels")
    return tokens


def apply_overrides(data: dict, overrides: typing.Iterable[str]) -> dict:
    """Apply ``key.path=value`` overrides (value parsed as YAML) to a raw scenario dict.

    Paths use dots and list indices: ``eves[0].mobility.speed_mps=2``. Missing mappings
    are created, so a misspelt key surfaces as the usual unknown-key error.
    """
    for item in overrides:
        if "=" not in item:
            raise ScenarioError(item, "override must look like key.path=value", item)
        key, text = item.split("=", 1)
        key = key.strip()
        tokens = _override_tokens(key)
        try:
            value = load_yaml(text) if text.strip() else None
        except ScenarioError as err:
            raise err.under(key) from None
        except yaml.YAMLError as exc:
            raise ScenarioError(key, f"override value is not valid YAML: {exc}", text) from None
        node: Any = data
        for depth, (name, index) in enumerate(tokens):
            last = depth == len(tokens) - 1
            where = key
            if name is not None:
                if not isinstance(node, dict):
                    raise ScenarioError(where, "cannot set a key inside a non-mapping", node)
                if last:
                    node[name] = value
                else:
                    if not isinstance(node.get(name), (dict, list)):
                        node[name] = {}
                    node = node[name]
            else:
                idx = int(index)
                if not isinstance(node, list) or idx >= len(node):
                    raise ScenarioError(where, "list index out of range", idx)
                if last:
                    node[idx] = value
                else:
                    node = node[idx]
    return data


def read_yaml(path: str | Path) -> Any:
    """:func:`load_yaml` of a file; unreadable files and invalid YAML are ScenarioErrors
    naming the file (an empty file is an empty mapping)."""
    path = Path(path)
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise ScenarioError("", f"cannot read scenario: {reason}", str(path)) from None
    try:
        data = load_yaml(text)
    except ScenarioError as err:
        raise err.in_file(str(path)) from None
    except yaml.YAMLError as exc:
        raise ScenarioError("", f"invalid YAML: {exc}", source=str(path)) from None
    return {} if data is None else data


def to_plain(obj: Any) -> Any:
    """A parsed config (dataclasses, tuples) as plain YAML-able data (dicts, lists)."""
    if dataclasses.is_dataclass(obj):
        return {f.name: to_plain(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, (tuple, list)):
        return [to_plain(v) for v in obj]
    return obj
