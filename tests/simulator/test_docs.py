import dataclasses
import re
from pathlib import Path

from semsim.simulator import (
    coalitions,
    datasets,
    feedback,
    mobility,
    scenario,
    secrecy,
    sources,
    spatial,
    trace,
    traffic,
)
from semsim.simulator.channels import ChannelConfig
from semsim.simulator.codecs import diffsem, diffsem_abstract, reference, stego, stego_abstract
from semsim.simulator.estimators import EstimatorConfig
from semsim.simulator.link_budget import LinkConfig
from semsim.simulator.pathloss import PropagationConfig

DOC = (Path(__file__).resolve().parents[2] / "docs" / "scenarios.md").read_text()
CONFIGS = [scenario.Scenario, scenario.RunConfig, traffic.TrafficConfig, spatial.SpatialConfig,
           feedback.ForgeConfig, coalitions.CoalitionConfig,
           scenario.AliceConfig,
           scenario.ReceiverConfig, scenario.EveGenerator, scenario.PlacementConfig,
           secrecy.SecrecyConfig, scenario.CodecConfig, scenario.SourceConfig,
           trace.TraceConfig, LinkConfig, PropagationConfig, ChannelConfig,
           EstimatorConfig, mobility.Static, mobility.ConstantVelocity, mobility.Waypoints,
           mobility.RandomWaypoint, mobility.GaussMarkov, reference.Options, sources.Options,
           diffsem.Options, diffsem_abstract.Options, stego.Options, stego_abstract.Options,
           datasets.Options]


def test_every_scenario_key_is_documented():
    documented = set(re.findall(r"`([a-z_0-9]+)`", DOC))
    missing = {f"{c.__name__}.{f.name}" for c in CONFIGS for f in dataclasses.fields(c)
               if f.name not in documented}
    assert not missing
