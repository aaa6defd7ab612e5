"""Everything ``ganscope dissect`` does, as one library call: tallies, results, sample images, report.

    session = Session.from_specs("demo", "demo", seed=0)
    results = run_dissection(session, ["layer2", "layer6"], samples=1000, out="out/demo")

With ``out``, the run holds the directory (one writer at a time), checkpoints its tallies
there, resumes an interrupted run with the same options and weights, and writes
``results.json``, the top samples' PNGs and the HTML report. Without it, it only returns the
``Results``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from ganscope.dissection import DissectConfig, Dissection
from ganscope.io import output_directory
from ganscope.progress import ProgressCallback
from ganscope.results import SAMPLES_DIR, Results
from ganscope.session import Session

CHECKPOINT_FILE = "tallies.ckpt"


def run_dissection(
    session: Session,
    layers: Sequence[str],
    samples: int,
    *,
    out: str | Path | None = None,
    threshold: Literal["quantile", "iqr"] = "quantile",
    quantile: float = 0.01,
    iou_cutoff: float = 0.04,
    seg_size: int | None = None,
    bins: int = 256,
    tail_factor: float = 2.0,
    topk: int = 8,
    pilot: int = 64,
    checkpoint_every: int = 8,
    report: bool = True,
    progress: bool | ProgressCallback = False,
    ray: str | None = None,
) -> Results:
    """Dissect ``layers`` over samples 0 .. samples - 1 of the session (definitions: docs/architecture.md).

    ``threshold`` is the PNAS ``quantile`` rule (top ``quantile`` of each unit's upsampled pixels)
    or the ICLR ``iqr`` rule. ``seg_size`` segments at that side instead of the image's.
    ``tail_factor`` sets where each unit's histogram starts (raise it if the results list
    ``tail_warnings``); the first ``pilot`` samples fix the histograms' ranges.
    ``progress`` is True for a bar, or a callback ``(done, total)``.
    ``ray`` tallies shards on Ray workers: ``"local"`` starts a local cluster, anything else
    is a cluster address; the session must then come from specs (workers rebuild it).
    """
    out = None if out is None else Path(out)
    cfg = DissectConfig(layers=list(layers), samples=samples, threshold=threshold, quantile=quantile,
                        iou_cutoff=iou_cutoff, seg_size=seg_size, bins=bins, tail_factor=tail_factor, topk=topk,
                        pilot=pilot, checkpoint=None if out is None else out / CHECKPOINT_FILE,
                        checkpoint_every=checkpoint_every, progress=progress)
    run = Dissection(session, cfg)
    if out is None:
        _tally(run, ray)
        return run.results()
    with output_directory(out):
        _tally(run, ray, out / SAMPLES_DIR)
        results = run.results()
        results.save(out)
        tops = {i for layer in results.layers.values() for u in layer.units for i in u.top_samples}
        _prune_images(out / SAMPLES_DIR, tops)
        session.render_samples(sorted(tops), out / SAMPLES_DIR)  # those not written in the pass (Ray, a resume)
        if report:
            from ganscope.report import build_report

            build_report(out)
    return results


def _tally(run: Dissection, ray: str | None, images: Path | None = None) -> None:
    """The pass; in process, the top samples' images are written to ``images`` as they pass (rendered once)."""
    if ray is None:
        run.run(images=images)
        return
    from ganscope.cluster import LOCAL, ray_cluster
    from ganscope.distributed import RayExecutor

    with ray_cluster(None if ray == LOCAL else ray):
        run.run(executor=RayExecutor(run.session))


def _prune_images(directory: Path, keep: set[int]) -> None:
    """Remove the sample images the pass wrote that no unit kept among its top samples."""
    if directory.is_dir():
        for path in directory.glob("*.png"):
            if path.stem.isdigit() and int(path.stem) not in keep:
                path.unlink()
