"""The reduction the DiffSem abstraction rests on: t' and the SNR reach every receiver
only through the rescaled features, so two (t', SNR) pairs with the same total noise give
identical decodes of the same noise vector (Bob's E-DiffSem and every attacker)."""

from __future__ import annotations

import torch

from semsim.models.diffusion import transmit_power


def test_decodes_depend_on_tprime_and_snr_only_through_the_effective_snr(data_dir):
    from semsim.models.data import load_dataset
    from semsim.models.diffsem import load_diffsem

    loaded = load_diffsem("mnist", with_baselines=False)
    system, sch = loaded.system, loaded.system.schedule
    images = load_dataset("mnist", "test", data_dir).images[:16]
    x0 = system.prepare(images).flatten(1)
    tstar = torch.full((16,), 180)
    a_star = sch.abar_at(tstar)[0]
    v = a_star / 10 ** (-5.0 / 10)  # effective SNR -5 dB
    y = a_star.sqrt() * x0 + v.sqrt() * torch.randn(x0.shape, generator=torch.Generator()
                                                   .manual_seed(0))
    outs = []
    for tp in (0, 60, 116):  # different self-noise / channel splits of the same v
        tprime = torch.full((16,), tp)
        power = transmit_power(tstar, tprime, sch)[0]
        assert v > 1 - sch.abar_at(tprime)[0]  # a channel SNR exists for this split
        received = y / power.sqrt()  # what the engine delivers at unit power
        hdr = {"tstar": tstar, "tprime": tprime}
        bob = system.decode_bob(received, hdr, method="ediffsem")["logits"]
        eve = system.attack(received, hdr, ("direct", "conv_cnn", "mlp_mlp"),
                            direct=loaded.direct)
        outs.append((bob, eve))
    for bob, eve in outs[1:]:
        torch.testing.assert_close(bob, outs[0][0], rtol=1e-4, atol=1e-4)
        for k in eve:
            torch.testing.assert_close(eve[k], outs[0][1][k], rtol=1e-4, atol=1e-4)
