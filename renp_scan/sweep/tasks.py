"""Independent tasks run as one dask graph: the sweep layer's executor for other layers.

The analysis layer's toy studies (:mod:`renp_scan.analysis.toys`) are many
independent calls of one function; they run through here so that dask stays
inside the sweep layer.
"""

from __future__ import annotations

import dask

from ..errors import InputError

__all__ = ["SCHEDULERS", "map_tasks"]

#: Scheduler names :func:`map_tasks` accepts (besides a ``distributed.Client``).
SCHEDULERS = ("threads", "sync")


def map_tasks(func, arguments, scheduler="threads", workers: int | None = None) -> tuple:
    """Return ``tuple(func(*args) for args in arguments)``, computed as one dask graph.

    Parameters
    ----------
    func : callable
        The task; called once per entry of ``arguments`` (``pure=False``: never
        deduplicated, as for random draws).
    arguments : iterable of tuple
        Positional arguments of each call.
    scheduler : {"threads", "sync"} or distributed.Client
        Where the tasks run.
    workers : int, optional
        Threads of the ``"threads"`` scheduler.

    Returns
    -------
    tuple
        The results, in the order of ``arguments``.
    """
    kwargs = {}
    if isinstance(scheduler, str):
        if scheduler not in SCHEDULERS:
            raise InputError("scheduler", f"{scheduler!r}; allowed: 'threads', 'sync' or a "
                             "distributed.Client")
        if scheduler == "threads" and workers is not None:
            kwargs["num_workers"] = int(workers)
    tasks = [dask.delayed(func, pure=False)(*args) for args in arguments]
    return dask.compute(*tasks, scheduler=scheduler, **kwargs)
