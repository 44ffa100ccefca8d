"""The distributed strategy: nodes run on a Ray cluster, recorded on the driver as if local.

- `driver.py`: `DistributedExecutionStrategy`, what runs on the driver;
- `pool.py`: the actors it runs nodes in, pooled per resource shape;
- `cluster.py`: connecting to (or starting) the cluster, and letting it go;
- `messages.py`: the driver/worker protocol, typed frozen messages;
- `wire.py`: how values are pickled for the trip (needs Ray's cloudpickle);
- `sync.py`: `rc.context` across the trip, as versioned deltas cached per run;
- `spending.py`: the budgets a remote node's model calls reserve on, kept here;
- `worker.py`: `NodeHost`, the Ray actor nodes run in.

Importing this package does not import Ray (an optional extra: `pip install
'requestcompletion[ray]'`); the strategy does when it is made.
"""

from .driver import DistributedExecutionStrategy

__all__ = ["DistributedExecutionStrategy"]
