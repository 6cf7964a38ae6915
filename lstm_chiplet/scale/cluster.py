"""Where the tasks run: this process, a ``LocalCluster``, or an existing Dask cluster.

:class:`Executor` hides the three behind one small interface, :meth:`Executor.submit`
and :meth:`Executor.as_completed`:

* ``workers=1`` and no scheduler: every task runs here, at once, in submission order
  (no cluster, nothing started; the reference a distributed run must equal);
* ``workers=N`` (default: the machine's cores): a ``LocalCluster`` of N single-threaded
  worker processes on 127.0.0.1, closed at the end;
* ``scheduler="tcp://HOST:PORT"``: the cluster behind that scheduler (left running).

Faults are Dask's to handle: a task on a worker that dies is recomputed elsewhere,
and so is any finished result that was held only there and is still needed.  To say
how many tasks ran more than once, a small scheduler plugin (:class:`ExecutionCounter`)
counts every time a task of this run enters ``processing``; a task counted more than
once was retried.
"""

from __future__ import annotations

import logging
import os
import uuid
from typing import Callable, Dict, Optional

#: Every task key of a run starts with this (and the run's id).
KEY_PREFIX = "lstm-chiplet"
#: Dask's nanny sets MALLOC_TRIM_THRESHOLD_ in its workers to give memory back sooner;
#: setting it switches off glibc's adaptive mmap threshold, so every temporary array of
#: the kernels' step loop becomes an mmap and a page-fault storm: the fixed backend ran
#: 5 to 10 times slower in a worker than in process (measured).  Unset in the local
#: cluster; docs/scale.md says how to unset it on a cluster started by hand.
TRIM_SETTING = "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_"
#: Seconds to wait for a scheduler to answer.
CONNECT_TIMEOUT = "20s"

try:                    # the plugin base class; absent only without dask installed
    from distributed.diagnostics.plugin import SchedulerPlugin as _PluginBase
except ImportError:     # pragma: no cover - dask is an install requirement
    _PluginBase = object


class ExecutionCounter(_PluginBase):
    """Scheduler plugin: how many times each task whose key starts ``prefix`` was started."""

    def __init__(self, prefix: str):
        self.prefix = prefix
        self.name = f"{prefix}-executions"
        self.counts: Dict[str, int] = {}

    def transition(self, key, start, finish, *args, **kwargs):
        if finish == "processing" and isinstance(key, str) and key.startswith(self.prefix):
            self.counts[key] = self.counts.get(key, 0) + 1


def _counts_on_scheduler(dask_scheduler=None, name: str = "") -> Dict[str, int]:
    plugin = dask_scheduler.plugins.get(name)
    return dict(plugin.counts) if plugin is not None else {}


class _Done:
    """The result of a task run in process, shaped like a Dask future."""

    def __init__(self, key: str, fn: Callable, args):
        self.key = key
        try:        # a failed argument fails this task too, as on a cluster
            args = tuple(a.result() if isinstance(a, _Done) else a for a in args)
            self._value, self._error = fn(*args), None
        except Exception as exc:        # handed over on .result(), as Dask does
            self._value, self._error = None, exc

    def result(self):
        if self._error is not None:
            raise self._error
        return self._value


class _InProcessCompleted:
    """``as_completed`` over in-process results: in order, and tasks may be added."""

    def __init__(self, futures):
        self._queue = list(futures)

    def add(self, fut) -> None:
        self._queue.append(fut)

    def __iter__(self):
        while self._queue:
            yield self._queue.pop(0)


class Executor:
    """Runs tasks in process or on a Dask cluster (a context manager).

    Parameters
    ----------
    workers : int, optional
        Worker processes of the ``LocalCluster`` (default: the machine's cores);
        1 runs every task in this process.
    scheduler : str, optional
        Address of an existing scheduler (``tcp://HOST:PORT``); ``workers`` is then
        not used.
    say : callable, optional
        Where the address and dashboard are announced (stderr).
    """

    def __init__(self, workers: Optional[int] = None, scheduler: Optional[str] = None,
                 say: Callable[[str], None] = lambda s: None):
        if workers is not None and int(workers) < 1:
            raise ValueError(f"--workers must be at least 1, got {workers}")
        self.workers = int(workers) if workers is not None else (os.cpu_count() or 1)
        self.scheduler = scheduler
        self.say = say
        self.in_process = scheduler is None and self.workers == 1
        self.run_id = uuid.uuid4().hex[:12]
        self.prefix = f"{KEY_PREFIX}-{self.run_id}"
        self.client = None
        self.cluster = None
        self._counter_name = None
        self._serial = 0

    # ------------------------------------------------------------ life
    def __enter__(self) -> "Executor":
        if self.in_process:
            return self
        from distributed import Client, LocalCluster
        if self.scheduler is not None:
            try:
                self.client = Client(self.scheduler, timeout=CONNECT_TIMEOUT)
            except (OSError, TimeoutError) as exc:
                raise ValueError(f"--scheduler {self.scheduler}: no Dask scheduler answers "
                                 f"there ({exc})") from None
        else:
            import dask
            with dask.config.set({TRIM_SETTING: None}):
                self.cluster = LocalCluster(n_workers=self.workers, threads_per_worker=1,
                                            processes=True, host="127.0.0.1", scheduler_port=0,
                                            dashboard_address=":0", silence_logs=logging.ERROR)
            self.client = Client(self.cluster)
        try:
            plugin = ExecutionCounter(self.prefix)
            self.client.register_plugin(plugin)
            self._counter_name = plugin.name
        except Exception as exc:      # a scheduler that cannot import this package
            self.say(f"retries cannot be counted on this scheduler ({exc})")
        self.say(f"Dask scheduler {self.address}, {self.worker_count()} worker(s); "
                 f"dashboard: {self.dashboard}")
        return self

    def __exit__(self, *exc) -> None:
        if self.client is not None:
            if self._counter_name is not None:
                try:
                    self.client.unregister_scheduler_plugin(self._counter_name)
                except Exception:     # the cluster is going away anyway
                    pass
            self.client.close()
        if self.cluster is not None:
            self.cluster.close()
        self.client = self.cluster = None

    # ------------------------------------------------------------ facts
    @property
    def address(self) -> Optional[str]:
        return None if self.client is None else self.client.scheduler.address

    @property
    def dashboard(self) -> str:
        if self.client is None:
            return "none (in process)"
        try:
            import bokeh  # noqa: F401  (the dashboard needs it)
        except ImportError:
            return "not served (the Dask dashboard needs the bokeh package)"
        return self.client.dashboard_link or "not served"

    def worker_count(self) -> int:
        if self.client is None:
            return 1
        return len(self.client.nthreads())

    def describe(self) -> dict:
        kind = ("in process" if self.in_process else
                "existing cluster" if self.scheduler is not None else "local cluster")
        return {"kind": kind, "workers": self.worker_count(), "scheduler": self.address,
                "dashboard": self.dashboard, "run_id": self.run_id}

    # ------------------------------------------------------------ tasks
    def key(self, what: str) -> str:
        self._serial += 1
        return f"{self.prefix}-{what}-{self._serial}"

    def submit(self, what: str, fn: Callable, *args, priority: int = 0):
        """Run ``fn(*args)`` (futures among ``args`` are resolved); a future-like object."""
        key = self.key(what)
        if self.in_process:
            return _Done(key, fn, args)
        return self.client.submit(fn, *args, key=key, pure=False, priority=priority)

    def as_completed(self, futures):
        if self.in_process:
            return _InProcessCompleted(futures)
        from distributed import as_completed
        return as_completed(futures)

    def cancel(self, futures) -> None:
        if self.client is not None and futures:
            self.client.cancel(list(futures))

    def executions(self) -> Optional[Dict[str, int]]:
        """Task key -> times started, for this run (None when it cannot be known)."""
        if self.in_process:
            return {}
        if self._counter_name is None:
            return None
        return self.client.run_on_scheduler(_counts_on_scheduler, name=self._counter_name)
