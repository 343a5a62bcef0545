"""Noise blocks drawn ahead on a worker thread: every block handed out equals drawing it
then and there, whether the block drawn ahead was the one asked for or not."""

import multiprocessing

import numpy as np
import pytest

from semsim.simulator.noise import NoiseBlocks


def _rngs(num=5):
    return [np.random.default_rng([7, i]) for i in range(num)]


def _fresh(rngs, n, width):
    z = np.empty((len(rngs), n, width))
    for i, g in enumerate(rngs):
        g.standard_normal((n, width), out=z[i])
    return z


def _keep(z, rows):
    """Finish: leave the normals as drawn."""


def _double(z, rows):
    z *= 2.0


def test_blocks_drawn_ahead_equal_one_long_draw():
    """Consecutive blocks, each prefetched before it is taken, concatenate to the normals
    each stream would give in one call (and the equalisation runs on the worker)."""
    blocks = NoiseBlocks(_rngs())
    sizes, start, got = [3, 5, 2, 4], 0, []
    first = blocks.take(start, sizes[0], 6, _double)
    got.append(first / 2.0)
    for k, n in enumerate(sizes[1:]):
        start += sizes[k]
        blocks.prefetch(start, n, 6, _double)
        got.append(blocks.take(start, n, 6, _double) / 2.0)
    expected = _fresh(_rngs(), sum(sizes), 6)
    np.testing.assert_array_equal(np.concatenate(got, axis=1), expected)


@pytest.mark.parametrize("asked", [(4, 3, 6), (5, 2, 6), (5, 3, 8)],
                         ids=["other start", "other length", "other width"])
def test_a_block_not_asked_for_is_put_back(asked):
    """Drawn ahead (5, 3, 6) but asked for another: the streams go back to where they
    were, so the block asked for and everything after equal a run that never drew ahead."""
    blocks, plain = NoiseBlocks(_rngs()), _rngs()
    np.testing.assert_array_equal(blocks.take(0, 5, 6, _keep), _fresh(plain, 5, 6))
    blocks.prefetch(5, 3, 6, _keep)
    start, n, width = asked
    np.testing.assert_array_equal(blocks.take(start, n, width, _keep),
                                  _fresh(plain, n, width))
    np.testing.assert_array_equal(blocks.take(start + n, 4, width, _keep),
                                  _fresh(plain, 4, width))


def test_close_puts_the_block_drawn_ahead_back():
    rngs = _rngs()
    blocks = NoiseBlocks(rngs)
    blocks.prefetch(0, 4, 6, _keep)
    blocks.close()
    np.testing.assert_array_equal(_fresh(rngs, 2, 6), _fresh(_rngs(), 2, 6))


def test_only_one_block_ahead_and_worker_errors_surface():
    blocks = NoiseBlocks(_rngs())
    blocks.prefetch(0, 2, 4, _keep)
    with pytest.raises(RuntimeError, match="already"):
        blocks.prefetch(2, 2, 4, _keep)
    blocks.take(0, 2, 4, _keep)

    def boom(z, rows):
        raise ValueError("finish failed")

    blocks.prefetch(2, 2, 4, boom)
    with pytest.raises(ValueError, match="finish failed"):
        blocks.take(2, 2, 4, boom)


def _child(queue):
    blocks = NoiseBlocks(_rngs(2))
    blocks.prefetch(0, 3, 4, _keep)
    queue.put(blocks.take(0, 3, 4, _keep).sum())


def test_a_forked_child_gets_its_own_worker_thread():
    """The parent's worker thread does not exist in a forked child (a sweep's pool): the
    child must start its own instead of waiting forever on the parent's."""
    blocks = NoiseBlocks(_rngs(2))
    blocks.prefetch(0, 3, 4, _keep)
    expected = blocks.take(0, 3, 4, _keep).sum()  # the parent's thread now exists
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    proc = ctx.Process(target=_child, args=(queue,))
    proc.start()
    proc.join(timeout=60)
    assert proc.exitcode == 0
    assert queue.get(timeout=5) == expected


def test_blocks_are_drawn_into_two_recycled_buffers():
    """A taken block's memory is drawn into again after the next take (two buffers in
    turn, the block in use and the one ahead), and a block that does not fit the free
    buffers gets a new one."""
    blocks, plain = NoiseBlocks(_rngs()), _rngs()

    taken, got = [], []
    for k in range(4):
        if k:
            blocks.prefetch(3 * k, 3, 6, _double)
        block = blocks.take(3 * k, 3, 6, _double)
        taken.append(block)
        got.append(block / 2.0)  # copied before the next take
    np.testing.assert_array_equal(np.concatenate(got, axis=1), _fresh(plain, 12, 6))
    assert np.shares_memory(taken[0], taken[2]) and np.shares_memory(taken[1], taken[3])
    assert not np.shares_memory(taken[0], taken[1])
    big = blocks.take(12, 9, 6, _keep)  # larger than either buffer
    np.testing.assert_array_equal(big, _fresh(plain, 9, 6))
    assert not any(np.shares_memory(big, t) for t in taken)


def test_a_caller_that_would_wait_draws_the_receivers_the_worker_has_not_reached():
    """The worker is held inside its first run; take() draws every other run itself, from
    the back, and the block equals one drawn in a single thread."""
    import threading

    from semsim.simulator.noise import RUN_RECEIVERS

    num = 5 * RUN_RECEIVERS
    started, release, who = threading.Event(), threading.Event(), {}
    main = threading.get_ident()

    def finish(z, rows):
        who[rows.start] = threading.get_ident()
        if threading.get_ident() != main and not started.is_set():
            started.set()
            assert release.wait(10)
        z *= 2.0

    blocks = NoiseBlocks(_rngs(num))
    blocks.prefetch(0, 3, 6, finish)
    assert started.wait(10)  # the worker holds receivers 0 .. RUN_RECEIVERS - 1
    timer = threading.Timer(0.2, release.set)
    timer.start()
    block = blocks.take(0, 3, 6, finish)
    timer.join()
    np.testing.assert_array_equal(block, 2.0 * _fresh(_rngs(num), 3, 6))
    assert who[0] != main
    assert [who[a] for a in range(RUN_RECEIVERS, num, RUN_RECEIVERS)] == [main] * 4


def test_close_while_the_worker_draws_puts_the_streams_back():
    import threading

    started, release = threading.Event(), threading.Event()

    def finish(z, rows):
        started.set()
        assert release.wait(10)

    rngs = _rngs(40)
    blocks = NoiseBlocks(rngs)
    blocks.prefetch(0, 3, 6, finish)
    assert started.wait(10)
    threading.Timer(0.1, release.set).start()
    blocks.close()
    np.testing.assert_array_equal(_fresh(rngs, 2, 6), _fresh(_rngs(40), 2, 6))
