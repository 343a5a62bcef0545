"""Where sweep tasks run: in this process, in a local process pool, or as Ray tasks.

A task is one point of a :class:`~semsim.simulator.sweep.SweepPlan` and some of its
replicas. Local tasks write their point's run folder directly; a Ray task runs in a scratch
folder on whichever node it lands and returns its files, which the driver alone writes into
the sweep folder (replica markers last). Every backend keeps every finished task and raises
the first failure at the end, naming its point.
"""

from __future__ import annotations

import signal
import tempfile
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import TYPE_CHECKING

from semsim.simulator.errors import ScenarioError

if TYPE_CHECKING:
    from semsim.simulator.sweep import SweepPlan

__all__ = ["ray_session", "run_local", "run_ray"]


def _run_task(scenario_path: str, overrides: list[str], run_dir: str, run_id: str, seed: int,
              replicas: list[int], device: str | None) -> int:
    from semsim.simulator.engine import run_replicas
    from semsim.simulator.scenario import load_scenario

    scenario = load_scenario(scenario_path, overrides)
    res = run_replicas(scenario, run_dir, seed, replicas=replicas, run_id=run_id,
                       device=device)
    return sum(r.num_rows for r in res)


def _run_task_files(scenario, run_id: str, seed: int, replicas: list[int],
                    device: str | None) -> dict[str, bytes]:
    """Run replicas in a scratch folder; return its files {relative path: bytes} (a Ray
    task: the worker needs neither the scenario file nor the sweep folder)."""
    from semsim.simulator.engine import run_replicas

    with tempfile.TemporaryDirectory(prefix="semsim-task-") as tmp:
        root = Path(tmp)
        run_replicas(scenario, root, seed, replicas=replicas, run_id=run_id, device=device)
        return {f.relative_to(root).as_posix(): f.read_bytes()
                for f in sorted(root.rglob("*")) if f.is_file()}


def _store_task_files(run_dir: Path, replicas: list[int], files: dict[str, bytes]) -> None:
    """Write a task's files into its run folder, the replica markers last (a crash in
    between leaves those replicas not done, so a rerun repeats them)."""
    from semsim.models.common.provenance import atomic_write_bytes

    markers = {f"replicas/r{r:03d}.json" for r in replicas}
    if not markers <= set(files):
        raise RuntimeError(f"task {run_dir.name} replicas {replicas} returned no "
                           f"{sorted(markers - set(files))}")
    for rel in sorted(files, key=lambda r: r in markers):
        path = run_dir / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(path, files[rel])


def _task_error(plan: SweepPlan, point: int, replicas: list[int],
                exc: BaseException) -> ScenarioError:
    """``exc`` from task (point, replicas), naming the point's axis values."""
    cause = getattr(exc, "cause", None) or exc  # a Ray task error wraps the original
    where = ", ".join(f"{k}={v!r}" for k, v in plan.points[point].items())
    which = (f"replica {replicas[0]}" if len(replicas) == 1
             else f"replicas {', '.join(map(str, replicas))}")
    return ScenarioError(f"sweep point p{point:03d} ({where}), {which}",
                         f"{type(cause).__name__}: {cause}")


def _ignore_sigint() -> None:
    """Pool workers leave Ctrl-C to the driver, which stops them (:func:`_stop_pool`)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _stop_pool(pool: ProcessPoolExecutor) -> None:
    """Cancel queued tasks and terminate the workers at once (a task cut short leaves only
    hidden temp files and no marker: its replicas are redone on resume)."""
    procs = list((getattr(pool, "_processes", None) or {}).values())  # no public API in 3.11
    manager = getattr(pool, "_executor_manager_thread", None)
    pool.shutdown(wait=False, cancel_futures=True)
    for proc in procs:
        proc.terminate()
    for proc in procs:
        proc.join(timeout=5)
    # let the pool's manager thread see its dead workers and close its wakeup pipe now:
    # at interpreter exit, concurrent.futures writes to that pipe unless it is closed, and a
    # close racing that write printed "OSError: Bad file descriptor" after a Ctrl-C
    if manager is not None:
        manager.join(timeout=5)


def run_local(plan: SweepPlan, todo: list[tuple[int, list[int]]], *, workers: int,
               device: str | None, progress: Callable[[int], None] | None) -> None:
    """Tasks in this process (``workers`` 1) or a local process pool."""
    points = plan.points

    def args(p: int, rs: list[int]) -> tuple:
        return (plan.scenario_path, plan.point_overrides(points[p]),
                str(plan.out_dir / f"p{p:03d}"), f"{plan.out_dir.name}-p{p:03d}", plan.seed,
                rs, device)

    first_error: ScenarioError | None = None
    if workers <= 1:
        for p, rs in todo:
            try:
                _run_task(*args(p, rs))
            except Exception as exc:
                raise _task_error(plan, p, rs, exc) from exc
            if progress:
                progress(len(rs))
    else:
        pool = ProcessPoolExecutor(max_workers=workers, initializer=_ignore_sigint)
        try:
            futures = {pool.submit(_run_task, *args(p, rs)): (p, rs) for p, rs in todo}
            for fut in as_completed(futures):
                try:
                    fut.result()
                except Exception as exc:  # keep collecting: the others' results stay
                    first_error = first_error or _task_error(plan, *futures[fut], exc)
                    continue
                if progress:
                    progress(len(futures[fut][1]))
        except BaseException:  # Ctrl-C (or anything else): stop now, keep what finished
            _stop_pool(pool)
            raise
        pool.shutdown(wait=True)
    if first_error is not None:
        raise first_error


def ray_session(address: str | None, workers: int) -> bool:
    """Join Ray (a local cluster of ``workers`` CPUs when ``address`` is None, unless this
    process has already joined one); True when this call started the session."""
    try:
        import ray
    except ImportError:
        raise ScenarioError("--backend", "the ray backend needs Ray: pip install -e "
                            "'.[ray]'", "ray") from None
    if ray.is_initialized():
        return False
    if address not in (None, "auto"):
        _check_reachable(address)
    try:
        if address is None:
            ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False)
        else:
            ray.init(address=address, log_to_driver=False)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise ScenarioError("--ray-address", f"cannot join the Ray cluster: {exc}",
                            address) from None
    return True


def _check_reachable(address: str, timeout_s: float = 5.0) -> None:
    """Fail fast on a ``host:port`` (or ``ray://host:port``) nobody listens on: Ray itself
    retries such an address for minutes."""
    import socket

    host, _, port = address.removeprefix("ray://").rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=timeout_s):
            return
    except ValueError:
        raise ScenarioError("--ray-address", "expected auto, HOST:PORT or ray://HOST:PORT",
                            address) from None
    except OSError as exc:
        raise ScenarioError("--ray-address", f"cannot join the Ray cluster: nothing answers "
                            f"at {host}:{port} ({exc})", address) from None


def run_ray(plan: SweepPlan, todo: list[tuple[int, list[int]]], *, device: str | None,
             progress: Callable[[int], None] | None, gpus_per_task: float) -> None:
    import ray

    from semsim.simulator.scenario import load_scenario

    remote = ray.remote(num_cpus=1, num_gpus=gpus_per_task, max_retries=0)(_run_task_files)
    scenarios = {p: load_scenario(plan.scenario_path, plan.point_overrides(plan.points[p]))
                 for p in sorted({p for p, _ in todo})}
    pending = {remote.remote(scenarios[p], f"{plan.out_dir.name}-p{p:03d}", plan.seed, rs,
                             device): (p, rs) for p, rs in todo}
    first_error: ScenarioError | None = None
    try:
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1)
            p, rs = pending.pop(done[0])
            try:
                files = ray.get(done[0])
            except Exception as exc:  # keep collecting: the others' results stay
                first_error = first_error or _task_error(plan, p, rs, exc)
                continue
            _store_task_files(plan.out_dir / f"p{p:03d}", rs, files)
            if progress:
                progress(len(rs))
    except KeyboardInterrupt:  # stop the tasks still running; finished ones are stored
        for ref in pending:
            ray.cancel(ref, force=True)
        raise
    if first_error is not None:
        raise first_error
