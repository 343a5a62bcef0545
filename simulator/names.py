"""Names that become folder names (scenario names, run and sweep ids, training names): one
rule, so a user-given name never escapes its folder."""

from __future__ import annotations

from semsim.models.common.names import MAX_NAME_CHARS, name_problem
from semsim.simulator.errors import ScenarioError

__all__ = ["MAX_NAME_CHARS", "check_name"]


def check_name(value: object, path: str) -> str:
    """``value`` if it is a safe folder name (:func:`~semsim.models.common.names.
    name_problem`), else a ScenarioError naming ``path`` (e.g. ``--run-id``)."""
    problem = name_problem(value)
    if problem is not None:
        raise ScenarioError(path, problem, value)
    return value
