"""Ray execution of dissection shards.

The driver runs the pilot (which fixes every unit's histogram range) and merges; each
shard runs as a Ray task that rebuilds the generator and segmenter from their specs
(once per worker process), tallies the shard from empty tallies with the pilot's
ranges and returns the state dicts. Integer counts merge exactly and top-k ties break
by sample index, so the result equals the in-process run's. A shard whose worker dies
is re-run by Ray (``max_retries``); one that raises is not (the error is the user's).
A spec must build the same model in every process (weights loaded or seeded).
Ray is an optional dependency, imported only when used (``ganscope.cluster``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from typing import Any

import torch

from ganscope.allocator import keep_freed_memory
from ganscope.cluster import import_ray
from ganscope.dissection import DissectConfig, Dissection, LayerTally, TallyLayout
from ganscope.errors import GanscopeError
from ganscope.session import Session
from ganscope.shards import Span

State = dict[str, dict[str, torch.Tensor]]

@dataclass(frozen=True)
class ShardJob:
    """Everything a worker needs besides its shard; shipped once per run via the object store."""

    cfg: DissectConfig
    model: str
    segmenter: str
    seed: int
    batch_size: int
    device: str
    layouts: dict[str, TallyLayout]


@functools.lru_cache(maxsize=1)
def _worker_session(model: str, segmenter: str, seed: int, batch_size: int, device: str) -> Session:
    """Built once per worker process and reused by every shard it runs."""
    return Session.from_specs(model, segmenter, seed=seed, device=device, batch_size=batch_size)


def tally_task(job: ShardJob, span: Span) -> State:
    """The Ray task: one shard's tallies, as state dicts (plain tensors travel well)."""
    torch.set_num_threads(1)  # one task per CPU: more threads would only contend
    keep_freed_memory()
    session = _worker_session(job.model, job.segmenter, job.seed, job.batch_size, job.device)
    tallies = Dissection(session, job.cfg).tally_shard(span, job.layouts)
    return {name: tally.state_dict() for name, tally in tallies.items()}


class RayExecutor:
    """Runs shards as Ray tasks (one CPU, or one GPU, each) on the initialised cluster.

    At most ``2 x workers`` shards are in flight, which bounds the tallies waiting in the
    object store; results are yielded in completion order for the driver to merge, which is
    also when progress moves (``on_samples``, per batch, exists only in process).
    """

    def __init__(self, session: Session, max_retries: int = 3, model: str | None = None,
                 segmenter: str | None = None):
        """Workers rebuild the session from its specs (``model`` and ``segmenter`` override them)."""
        self.session, self.max_retries = session, max_retries
        self.model, self.segmenter = model or session.model_name, segmenter or session.segmenter_name

    def map(self, dissection: Dissection, shards: Iterable[Span], layouts: dict[str, TallyLayout],
            on_samples: Callable[[int], None]) -> Iterator[tuple[Span, dict[str, LayerTally]]]:
        ray = import_ray()
        session = self.session
        gpu = session.device.startswith("cuda")
        # Ray sets CUDA_VISIBLE_DEVICES per task, so the worker's one GPU is always "cuda".
        cfg = replace(dissection.cfg, checkpoint=None, progress=False)
        job = ray.put(ShardJob(cfg, self.model, self.segmenter, session.seed, session.batch_size,
                               "cuda" if gpu else "cpu", layouts))
        task = ray.remote(tally_task).options(num_cpus=1, num_gpus=1 if gpu else 0, max_retries=self.max_retries)
        workers = max(1, int(ray.cluster_resources().get("GPU" if gpu else "CPU", 1)))
        todo, pending = iter(shards), {}
        try:
            while True:
                while len(pending) < 2 * workers and (span := next(todo, None)) is not None:
                    pending[task.remote(job, span)] = span
                if not pending:
                    return
                [ready], _ = ray.wait(list(pending), num_returns=1)
                span = pending.pop(ready)
                yield span, {name: LayerTally.from_state(s) for name, s in _get(ray, ready, span).items()}
        finally:  # a plain cancel interrupts the task and keeps the worker (and its built models) alive
            for ref in pending:
                ray.cancel(ref)


def _get(ray: Any, ref: Any, span: Span) -> State:
    """The task's result; a GanscopeError raised in the worker surfaces as itself."""
    try:
        return ray.get(ref)
    except ray.exceptions.RayTaskError as err:
        if isinstance(err.cause, GanscopeError):
            raise err.cause from None
        raise
    except ray.exceptions.WorkerCrashedError as err:
        raise GanscopeError(f"shard {span[0]}..{span[1] - 1}: worker died on every attempt ({err})") from err
