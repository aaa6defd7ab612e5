"""Ray clusters: connect to one, or start a local one (Ray is optional, imported only when used).

Kept apart from ``distributed`` (which needs torch) so that the CLI can name ``LOCAL`` without importing torch.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from ganscope.errors import GanscopeError

LOCAL = "local"  # as in ray.init: start a new local cluster

def import_ray() -> Any:
    try:
        import ray
    except ImportError as err:
        raise GanscopeError("--ray needs Ray: pip install 'ganscope[ray]' (or pip install 'ray>=2.9')") from err
    return ray


@contextmanager
def ray_cluster(address: str | None = None, num_cpus: int | None = None) -> Iterator[None]:
    """Connect to the cluster at ``address``, or start a local one with ``num_cpus`` CPUs.

    A cluster this call starts is shut down on exit; an already initialised one is reused.
    A local cluster's workers get the driver's ``sys.path``, so ``module:callable`` specs
    that import here import there too.
    """
    ray = import_ray()
    if ray.is_initialized():
        yield
        return
    if address is None:
        paths = os.pathsep.join(p for p in sys.path if p)
        ray.init(address="local", num_cpus=num_cpus or os.cpu_count(), include_dashboard=False, log_to_driver=False,
                 runtime_env={"env_vars": {"PYTHONPATH": paths}})
    else:
        ray.init(address=address, log_to_driver=False)
    try:
        yield
    finally:
        ray.shutdown()
