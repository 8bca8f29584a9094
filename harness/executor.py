"""Independent tasks run as Ray tasks, on a local Ray instance or an existing cluster: the one way the harness
scales past one process (`--executor ray`). It knows nothing of proxies or tables: a task is a picklable function
with its arguments and the CPUs and GPUs it needs.

A task whose worker dies (killed, out of memory, a lost node) is retried by Ray (`RETRIES` times); tasks are written
so that a retry resumes from what they saved (a scoring shard's journal), never from nothing. An interrupted driver
cancels its tasks, and stops the local instance it started. Ray is an optional extra: nothing else imports it, and
without it `--executor ray` is a one-line error naming the extra. Paths travel as given, so a cluster's nodes must
see the same files (a shared file system, as on a Slurm cluster); the CLI makes them absolute first.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from harness.errors import HarnessError

EXECUTORS = ("local", "ray")
RAY_EXTRA = "pip install 'nb201-harness[ray]'"
#: how often Ray reruns a task whose worker died
RETRIES = 3
#: seconds between two looks at the tasks' progress
POLL_SECONDS = 0.5


@dataclass(frozen=True)
class Task:
    """`fn(*args)` as one unit of work; `gpus=1` when it runs on CUDA (Ray then places it on a GPU)."""

    fn: Callable
    args: tuple = ()
    label: str = ""
    cpus: float = 1
    gpus: float = 0


@dataclass(frozen=True)
class Progress:
    """One bar over all tasks, `total` `unit`s: `probe()` says how many units (cells) the tasks have finished, read
    from what they write as they go; without a probe, the units are the tasks and the bar counts finished ones."""

    total: int
    desc: str
    unit: str = "task"
    probe: Callable[[], int] | None = None
    enabled: bool = True


def import_ray():
    try:
        import ray
    except ImportError:
        raise HarnessError(f"--executor ray needs Ray, an optional extra: {RAY_EXTRA}") from None
    return ray


class RayExecutor:
    """A connection to Ray for the length of a `with` block: `address` an existing cluster ('auto' finds the one
    this machine belongs to), None a local instance on this machine with `cpus` CPUs (default all), stopped at the
    end. An instance already started in this process (a test's, a notebook's) is used and left running. `gpus`:
    the work runs on CUDA, so a cluster without a GPU is refused (the driver itself may have none)."""

    def __init__(self, address: str | None = None, cpus: int | None = None, gpus: bool = False):
        self.address, self.cpus, self.gpus = address, cpus, gpus
        self._started = False

    def __enter__(self) -> RayExecutor:
        ray = import_ray()
        if self.address:
            _check_reachable(self.address)
        if not ray.is_initialized():
            import logging

            options = {"address": self.address} if self.address else {"address": "local", "num_cpus": self.cpus,
                                                                       "include_dashboard": False}
            try:
                ray.init(**options, logging_level=logging.WARNING, log_to_driver=False)
            except ConnectionError as exc:
                raise HarnessError(f"--address {self.address}: Ray could not join the cluster there ({exc}); check "
                                   f"the address and its token (RAY_AUTH_MODE=token, ~/.ray/auth_token)") from None
            self._started = True
        if self.gpus and not ray.cluster_resources().get("GPU"):
            self.__exit__()
            where = f"the Ray cluster at {self.address}" if self.address else "the local Ray instance"
            raise HarnessError(f"--device cuda: {where} has no GPU; give --address of a cluster with GPUs, or use "
                               f"--device cpu")
        return self

    def __exit__(self, *exc) -> None:
        if self._started:
            import_ray().shutdown()

    def slots(self, gpu: bool = False) -> int:
        """How many one-CPU (or one-GPU) tasks the cluster runs at once."""
        return max(1, int(import_ray().cluster_resources().get("GPU" if gpu else "CPU", 1)))

    def run(self, tasks: list[Task], progress: Progress | None = None) -> list:
        """Run `tasks` at once, as far as the cluster's resources go; their results, in order. A task's error is
        raised as it was raised in the task (a `HarnessError` stays one line); a task whose worker died more than
        `RETRIES` times, or an interruption, cancels the rest, which resume when the same work is run again."""
        ray = import_ray()
        remote = {}  # one Ray function per function and resources, not one per task
        for t in tasks:
            if (t.fn, t.cpus, t.gpus) not in remote:
                remote[t.fn, t.cpus, t.gpus] = ray.remote(num_cpus=t.cpus, num_gpus=t.gpus, max_retries=RETRIES,
                                                          retry_exceptions=False)(t.fn)
        refs = [remote[t.fn, t.cpus, t.gpus].options(name=t.label or t.fn.__name__).remote(*t.args) for t in tasks]
        task_of = dict(zip(refs, tasks))
        bar = _bar(progress)
        pending, results = list(refs), {}
        try:
            while pending:
                ready, pending = ray.wait(pending, num_returns=len(pending), timeout=POLL_SECONDS)
                for ref in ready:
                    results[ref] = _result(ray, ref, task_of[ref])
                if bar is not None:
                    bar.n = progress.probe() if progress and progress.probe else len(results)
                    bar.refresh()
        except BaseException:
            for ref in pending:
                ray.cancel(ref, force=True)
            raise
        finally:
            if bar is not None:
                bar.close()
        return [results[ref] for ref in refs]


def _check_reachable(address: str) -> None:
    """A HOST:PORT that nothing answers on is refused at once (Ray itself would retry for minutes)."""
    import socket

    host, _, port = address.removeprefix("ray://").rpartition(":")
    if address == "auto" or not port.isdigit():
        return
    try:
        socket.create_connection((host, int(port)), timeout=10).close()
    except OSError as exc:
        raise HarnessError(f"--address {address}: no Ray cluster answers there ({exc.strerror or exc}); start one "
                           f"with `ray start --head`, or leave --address out to start a local one") from None


def _bar(progress: Progress | None):
    from tqdm import tqdm

    if progress is None or not progress.enabled:
        return None
    return tqdm(total=progress.total, desc=progress.desc, unit=progress.unit)


def _result(ray, ref, task: Task):
    try:
        return ray.get(ref)
    except ray.exceptions.RayTaskError as exc:
        cause = exc.cause if exc.cause is not None else exc
        raise cause from None
    except (ray.exceptions.WorkerCrashedError, ray.exceptions.NodeDiedError,
            ray.exceptions.OutOfMemoryError) as exc:
        raise HarnessError(f"task {task.label or task.fn.__name__}: its worker died {RETRIES + 1} times "
                           f"({type(exc).__name__}); run the same command again to resume from what it saved") from None

