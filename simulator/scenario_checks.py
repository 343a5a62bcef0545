"""Cross-checks of a scenario that tie its parts together: coalition members, who may forge
or attack, the codec's attackers, its dataset and the source's, feedback only from Bob.
Called by :class:`~semsim.simulator.scenario.Scenario` after its own fields are valid."""

from __future__ import annotations

from typing import TYPE_CHECKING

from semsim.simulator.codecs import CODECS
from semsim.simulator.config_yaml import suggest
from semsim.simulator.errors import ScenarioError, check
from semsim.simulator.sources import SOURCES

if TYPE_CHECKING:
    from semsim.simulator.scenario import Scenario

__all__ = ["check_roles"]


def check_roles(scenario: Scenario, seen: set[str]) -> None:
    """Raise a ScenarioError naming the key of the first cross-reference that does not hold;
    ``seen``: the receiver names so far (coalition names must differ from them)."""
    eves = {e.name for e in scenario.eves}
    for i, c in enumerate(scenario.coalitions):
        check(bool(c.name) and c.name not in seen, f"coalitions[{i}].name", c.name,
              "coalition names must be non-empty and differ from every receiver's")
        seen.add(c.name)
        for j, m in enumerate(c.members):
            check(m in eves, f"coalitions[{i}].members[{j}]", m,
                  f"no Eve of that name (Eves: {', '.join(sorted(eves)) or 'none'})")
    check(scenario.bob.forge_feedback is None, "bob.forge_feedback", scenario.bob.forge_feedback,
          "only an Eve forges feedback")
    check(scenario.bob.attackers is None, "bob.attackers", scenario.bob.attackers,
          "only an Eve attacks")
    codec, codec_mod = scenario.codec.name, CODECS.module(scenario.codec.name)
    options = scenario.codec.options or codec_mod.Options()
    wants = getattr(codec_mod, "source_dataset", None)
    if wants is not None and scenario.source.kind == "dataset":
        need = wants(options)
        have = (scenario.source.options or SOURCES.module("dataset").Options()).name
        check(have == need, "source.options.name", have,
              f"codec {codec!r} was trained on {need!r} images: the source "
              f"must be {need!r} too (another dataset scores the wrong task)")
    covered = getattr(codec_mod, "source_images", None)
    covered = covered(options) if covered is not None else None
    if covered is not None and scenario.source.kind == "dataset":
        src = scenario.source.options or SOURCES.module("dataset").Options()
        check(src.limit is not None and src.limit <= covered and src.split == "test",
              "source.options.limit", src.limit, f"codec {codec!r} covers the first "
              f"{covered} test images only (its table): set source.options.limit: {covered} "
              "(and split: test)")
    known = getattr(codec_mod, "attackers", None)
    known = () if known is None else known(options)
    adapts = getattr(codec_mod, "ADAPTS_TO_FEEDBACK", False)
    for i, eve in enumerate(scenario.eves):
        for j, name in enumerate(eve.attackers or ()):
            if name not in known:
                raise ScenarioError(
                    f"eves[{i}].attackers[{j}]", f"codec {codec!r} runs " + (
                        f"the attackers {', '.join(known)} (codec.options.attackers)"
                        if known else "no attackers"), name, suggest(name, known))
        check(eve.estimator.feedback_delay_s == 0, f"eves[{i}].estimator.feedback_delay_s",
              eve.estimator.feedback_delay_s, "only Bob reports his SNR to Alice; an Eve's "
              "estimate is never fed back (an active Eve forges Bob's: forge_feedback)")
        check(eve.forge_feedback is None or adapts, f"eves[{i}].forge_feedback",
              eve.forge_feedback, f"codec {codec!r} does not adapt to Bob's feedback, so a "
              "forged report changes nothing (use codec diffsem)")
