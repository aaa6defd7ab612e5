"""Sharded dissection on a local Ray cluster gives exactly the in-process result, crashes and resumes included.

Run by tests/test_distributed.py in a pytest process of its own (see there why); it can also be run
directly: ``pytest tests/cluster_cases.py``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

import badmodels
import synthetic
from ganscope.cli import app
from ganscope.cluster import LOCAL as LOCAL_RAY
from ganscope.dissection import DissectConfig, Dissection
from ganscope.errors import GanscopeError
from ganscope.session import Session

GEN, SEG = "synthetic:make_generator", "synthetic:make_segmenter"


def config(threshold: str = "quantile", checkpoint: Path | None = None) -> DissectConfig:
    """52 samples after an 8-sample pilot, in shards of 2 batches of 4: 7 shards."""
    return DissectConfig(layers=["layer1", "layer2"], samples=60, checkpoint_every=2, pilot=8, threshold=threshold,
                         checkpoint=checkpoint)


def dissection(threshold: str = "quantile", checkpoint: Path | None = None) -> Dissection:
    session = Session(synthetic.make_generator(), synthetic.make_segmenter(), batch_size=4,
                      model_name=GEN, segmenter_name=SEG)
    return Dissection(session, config(threshold, checkpoint))


def in_process(threshold: str) -> Dissection:
    run = dissection(threshold)
    run.run()
    return run


def assert_same(a: Dissection, b: Dissection) -> None:
    """Identical integer counts, top-k, results JSON (but for elapsed time) and tables."""
    assert a.tallied == b.tallied == [(0, a.cfg.samples)]
    for name, tally in a.tallies.items():
        other = b.tallies[name]
        assert torch.equal(tally.histogram.counts, other.histogram.counts), name
        assert torch.equal(tally.histogram.label_counts, other.histogram.label_counts), name
        assert torch.equal(tally.moments.count, other.moments.count), name
        for key, value in tally.topk.state_dict().items():
            assert torch.equal(value, other.topk.state_dict()[key]), (name, key)
    ra, rb = a.results(), b.results()
    timeless = [json.dumps({**r.model_dump(mode="json"), "elapsed_seconds": 0}) for r in (ra, rb)]
    assert timeless[0] == timeless[1]
    for key, value in ra.tables.items():
        assert torch.equal(value, rb.tables[key]), key


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A local 2-CPU cluster; yields the crash marker path its workers see."""
    from ganscope.cluster import ray_cluster

    marker = tmp_path_factory.mktemp("crash") / "crashed"
    os.environ[badmodels.CRASH_MARKER] = str(marker)  # local workers inherit the driver's environment
    with ray_cluster(num_cpus=2):
        yield marker
    del os.environ[badmodels.CRASH_MARKER]


def on_ray(run: Dissection, model: str = GEN, segmenter: str = SEG, **kwargs) -> Dissection:
    from ganscope.distributed import RayExecutor

    run.run(executor=RayExecutor(run.session, model=model, segmenter=segmenter), **kwargs)
    return run


@pytest.mark.parametrize("threshold", ["quantile", "iqr"])
def test_ray_shards_equal_the_in_process_run(cluster: Path, threshold: str):
    assert_same(in_process(threshold), on_ray(dissection(threshold)))


def test_a_worker_killed_mid_shard_is_retried(cluster: Path):
    assert not cluster.exists()
    crashed = on_ray(dissection(), model="badmodels:crash_once_generator")
    assert cluster.exists()  # a worker did die
    assert_same(in_process("quantile"), crashed)


def test_interrupted_ray_run_resumes_to_the_same_result(cluster: Path, tmp_path: Path):
    def stop(done: int) -> None:
        if done > 8:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        on_ray(dissection(checkpoint=tmp_path / "ckpt"), on_shard=stop)
    resumed = dissection(checkpoint=tmp_path / "ckpt")
    assert resumed.try_resume() and 8 < resumed.done < 60
    assert_same(in_process("quantile"), on_ray(dissection(checkpoint=tmp_path / "ckpt")))


def test_a_worker_error_surfaces_as_itself(cluster: Path):
    with pytest.raises(GanscopeError, match="expected integer labels"):
        on_ray(dissection(), segmenter="badmodels:float_segmenter")


def test_cli_dissects_on_ray(cluster: Path, tmp_path: Path):
    args = ["dissect", "--model", GEN, "--segmenter", SEG, "-l", "layer1", "--samples", "40", "--batch-size", "4",
            "--no-progress", "--no-report"]
    local = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "local")])
    ray = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "ray"), "--ray", LOCAL_RAY])
    assert local.exit_code == 0 and ray.exit_code == 0, ray.output
    a, b = (json.loads((tmp_path / d / "results.json").read_text()) for d in ("local", "ray"))
    assert {**a, "elapsed_seconds": 0} == {**b, "elapsed_seconds": 0}
