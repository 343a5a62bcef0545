import numpy as np
import simpy

from semsim.simulator.nodes import FeedbackChannel, Report


def test_feedback_channel_delivers_after_delay_in_order():
    env = simpy.Environment()
    got = []
    fb = FeedbackChannel(env, 0.3, lambda r, due: got.append((env.now, due, r.packet_id)))

    def bob():
        for k in range(3):
            fb.send(Report(k, env.now, float(k)))
            yield env.timeout(0.1)

    env.process(bob())
    env.run()
    assert [g[2] for g in got] == [0, 1, 2]
    np.testing.assert_allclose([g[1] for g in got], [0.3, 0.4, 0.5])
    np.testing.assert_allclose([g[0] for g in got], [0.3, 0.4, 0.5], atol=1e-11)
