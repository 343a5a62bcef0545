"""semsim discrete-event side: physics, nodes, engine, traces, scenarios (numpy + simpy)."""

__all__: list[str] = []
