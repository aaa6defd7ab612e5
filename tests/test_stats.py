"""Tallies against brute-force NumPy: upsampling, thresholds, IoU, IQR, merge."""

from __future__ import annotations

import importlib

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from brute import bilinear, iou, iqr
from ganscope.dissection import DissectConfig, LayerTally, pilot_ranges
from ganscope.stats import JointHistogram, Moments, TopK, upsample


def random_batch(seed: int, b: int = 6, units: int = 5, h: int = 4, size: int = 12, concepts: int = 4):
    g = torch.Generator().manual_seed(seed)
    acts = torch.randn(b, units, h, h, generator=g) * torch.linspace(0.5, 2, units)[None, :, None, None]
    labels = torch.randint(0, concepts, (b, size, size), generator=g)
    return acts, labels


def test_upsample_matches_numpy_bilinear():
    maps = torch.randn(3, 5, 7)
    np.testing.assert_allclose(upsample(maps, (13, 20)).numpy(), bilinear(maps.numpy(), (13, 20)), atol=1e-5)


def test_quantile_threshold_and_iou_match_brute_force():
    acts, labels = random_batch(0)
    concepts, q = 4, 0.05
    size = tuple(labels.shape[1:])
    lo, hi = pilot_ranges(acts, size, DissectConfig(layers=["x"], samples=1, quantile=q))
    hist = JointHistogram(lo, hi, bins=512, concepts=concepts)
    hist.update(acts, labels)
    cols = hist.quantile_edges(q)
    thresholds = hist.edges().gather(1, cols[:, None])[:, 0]
    table = hist.iou_at(cols)
    up = bilinear(acts.transpose(0, 1).flatten(0, 1).numpy(), size).reshape(acts.shape[1], -1)
    lab = labels.numpy().ravel()
    for u in range(acts.shape[1]):
        exact = np.quantile(up[u], 1 - q, method="inverted_cdf")
        assert abs(thresholds[u].item() - exact) <= hist.width[u].item() + 1e-6
        assert (up[u] >= thresholds[u].item()).mean() >= q  # at least q of pixels reach the threshold
        for c in range(concepts):
            assert abs(table[u, c] - iou(up[u] >= thresholds[u].item(), lab, c)) < 1e-6


def test_iqr_picks_the_exhaustive_search_threshold():
    acts, labels = random_batch(1, units=3)
    size = tuple(labels.shape[1:])
    lo, hi = pilot_ranges(acts, size, DissectConfig(layers=["x"], samples=1, threshold="iqr"))
    hist = JointHistogram(lo, hi, bins=24, concepts=4)
    hist.update(acts, labels)
    chosen = hist.iqr_edges()
    edges = hist.edges().numpy()
    up = bilinear(acts.transpose(0, 1).flatten(0, 1).numpy(), size).reshape(acts.shape[1], -1)
    lab = labels.numpy().ravel()
    for u in range(acts.shape[1]):
        for c in range(4):
            scores = [iqr(up[u] >= t, lab, c) for t in edges[u]]
            assert scores[int(chosen[u, c])] >= max(scores) - 1e-9


def test_values_outside_the_range_fall_in_the_end_bins():
    hist = JointHistogram(torch.tensor([0.0]), torch.tensor([1.0]), bins=4, concepts=2)
    acts = torch.tensor([-5.0, 0.1, 0.6, 0.99, 7.0]).view(5, 1, 1, 1)
    hist.update(acts, torch.tensor([0, 1, 1, 0, 1]).view(5, 1, 1))
    assert hist.counts[0].sum(1).tolist() == [0, 1, 0, 1, 1, 1]  # bin 0 is implicit (derived)
    assert hist.above()[0].tolist() == [4, 3, 3, 2, 1]
    assert hist.pixels == 5


def _tally(acts: torch.Tensor, labels: torch.Tensor, start: int, lo: torch.Tensor, hi: torch.Tensor) -> LayerTally:
    tally = LayerTally(Moments(acts.shape[1]), JointHistogram(lo, hi, 32, 4), TopK(acts.shape[1], 3, (4, 4)))
    if len(acts):
        tally.update(acts, labels, torch.arange(start, start + len(acts)))
    return tally


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), split=st.integers(0, 10))
def test_merged_shards_equal_one_pass(seed: int, split: int):
    acts, labels = random_batch(seed, b=10)
    acts[3] = acts[7]  # equal peak scores: ties must break the same way
    lo, hi = torch.full((5,), -1.0), torch.full((5,), 2.0)
    whole = _tally(acts, labels, 0, lo, hi)
    left = _tally(acts[:split], labels[:split], 0, lo, hi)
    left.merge(_tally(acts[split:], labels[split:], split, lo, hi))
    assert torch.equal(whole.histogram.counts, left.histogram.counts)
    assert torch.equal(whole.histogram.label_counts, left.histogram.label_counts)
    assert torch.equal(whole.topk.indices, left.topk.indices)
    assert torch.equal(whole.topk.maps, left.topk.maps)
    torch.testing.assert_close(whole.moments.mean, left.moments.mean)
    torch.testing.assert_close(whole.moments.std, left.moments.std)
    assert torch.equal(whole.moments.max, left.moments.max)


def test_state_dict_round_trip():
    acts, labels = random_batch(3)
    tally = _tally(acts, labels, 0, torch.full((5,), -1.0), torch.full((5,), 2.0))
    copy = LayerTally.from_state(tally.state_dict())
    assert torch.equal(copy.histogram.counts, tally.histogram.counts)
    assert torch.equal(copy.topk.indices, tally.topk.indices)
    assert copy.topk.k == 3 and copy.histogram.bins == 32


def test_moments_match_numpy():
    values = torch.randn(3, 1000, dtype=torch.float64) * 3 + 1
    m = Moments(3)
    for chunk in values.split(130, dim=1):
        m.update(chunk)
    np.testing.assert_allclose(m.mean.numpy(), values.numpy().mean(1), rtol=1e-10)
    np.testing.assert_allclose(m.std.numpy(), values.numpy().std(1), rtol=1e-10)


def test_moments_of_unit_maps_match_numpy():
    maps = torch.randn(7, 3, 5, 4) * torch.tensor([1.0, 10.0, 0.1])[None, :, None, None] + 100
    m = Moments(3)
    for batch in maps.split(3):
        m.update(batch, unit_dim=1)
    flat = maps.double().transpose(0, 1).flatten(1).numpy()
    np.testing.assert_allclose(m.mean.numpy(), flat.mean(1), rtol=1e-12)
    np.testing.assert_allclose(m.std.numpy(), flat.std(1), rtol=1e-10)
    np.testing.assert_array_equal(m.max.numpy(), flat.max(1))
    np.testing.assert_array_equal(m.min.numpy(), flat.min(1))
    assert m.count.tolist() == [140.0] * 3


def test_topk_keeps_highest_peaks():
    acts = torch.zeros(6, 2, 2, 2)
    acts[:, 0, 0, 0] = torch.tensor([1.0, 5.0, 3.0, 9.0, 0.0, 5.0])
    top = TopK(2, 3, (2, 2))
    top.update(acts[:3], torch.arange(3))
    top.update(acts[3:], torch.arange(3, 6))
    assert top.indices[0].tolist() == [3, 1, 5]


@pytest.mark.parametrize(("h", "w", "size"), [(4, 4, (16, 16)), (3, 5, (6, 20)), (8, 8, (8, 8)), (4, 4, (12, 12)),
                                             (4, 4, (64, 64)), (2, 3, (16, 48)), (3, 2, (24, 4))])
def test_block_upsampling_counts_equal_whole_map_counts(h: int, w: int, size: tuple[int, int]):
    g = torch.Generator().manual_seed(h * w)
    acts = torch.randn(5, 6, h, w, generator=g)
    labels = torch.randint(0, 4, (5, *size), generator=g)
    lo, hi = torch.quantile(acts.transpose(0, 1).flatten(1), 0.7, dim=1), torch.full((6,), 3.0)
    fast, dense = JointHistogram(lo, hi, 64, 4), JointHistogram(lo, hi, 64, 4)
    fast.update(acts, labels)
    up = upsample(acts.flatten(0, 1), size).view(5, 6, *size)
    dense.update(up, labels)  # already at label resolution: no interpolation involved
    assert torch.equal(fast.counts, dense.counts)
    assert dense.above()[:, 0].min() > 0


def test_pilot_range_stays_below_the_threshold_of_a_unit_that_fires_early(monkeypatch: pytest.MonkeyPatch):
    """A unit firing in 4 of the 64 pilot samples and nowhere else: a pooled pilot sets lo above its final
    top-1% level; the lowest of the group estimates does not."""
    engine = importlib.import_module("ganscope.dissection")
    g = torch.Generator().manual_seed(0)
    population = torch.randn(1000, 1, 4, 4, generator=g)
    population[:4] = 10.0
    cfg = DissectConfig(layers=["x"], samples=1000, quantile=0.01, tail_factor=2.0)
    exact = np.quantile(bilinear(population[:, 0].numpy(), (8, 8)), 1 - cfg.quantile, method="inverted_cdf")
    lo, _ = pilot_ranges(population[:64], (8, 8), cfg)
    assert lo.item() <= exact
    monkeypatch.setattr(engine, "PILOT_GROUPS", 1)
    pooled, _ = pilot_ranges(population[:64], (8, 8), cfg)
    assert pooled.item() > exact


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), h=st.integers(1, 9), w=st.integers(1, 9),
       size=st.tuples(st.integers(1, 40), st.integers(1, 40)), bins=st.sampled_from([1, 7, 64]))
def test_compiled_counts_equal_the_torch_path(seed: int, h: int, w: int, size: tuple[int, int], bins: int):
    """The CPU kernel and the device-agnostic torch path agree on every scale, up- or down-sampling.

    Both follow the bilinear formula up to float rounding, so they may only differ for an upsampled
    value within float32 rounding of a bin edge: each such value moves one count to the next bin
    (or below ``lo``, where counts are dropped). Everywhere else the counts are equal."""
    g = torch.Generator().manual_seed(seed)
    acts = torch.randn(3, 4, h, w, generator=g) * 2
    labels = torch.randint(0, 5, (3, *size), generator=g)
    lo = torch.rand(4, generator=g) - 0.5  # not a data value: no value sits exactly on an edge
    compiled, reference = JointHistogram(lo, lo + 3, bins, 5), JointHistogram(lo, lo + 3, bins, 5)
    compiled.update(acts, labels)
    reference._count_torch(acts, labels, reference.lo.float(), reference.width.float())
    exact = F.interpolate(acts.double(), size=size, mode="bilinear", align_corners=False)
    coords = (exact - lo.double().view(1, -1, 1, 1)) / (3 / bins)
    on_edge = int(((coords - coords.round()).abs() < 1e-4).sum())
    assert (compiled.counts - reference.counts).abs().sum() <= 2 * on_edge


def test_compiled_moments_equal_double_precision_torch():
    maps = torch.randn(6, 5, 7, 3) * 4 + 2
    fast, slow = Moments(5), Moments(5)
    fast.update(maps, unit_dim=1)
    slow.update(maps.unsqueeze(0), unit_dim=2)  # another unit_dim: the torch path
    torch.testing.assert_close(fast.mean, slow.mean, rtol=1e-13, atol=0)
    torch.testing.assert_close(fast.m2, slow.m2, rtol=1e-11, atol=0)
    assert torch.equal(fast.min, slow.min) and torch.equal(fast.max, slow.max)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), batch=st.integers(1, 7))
def test_topk_batched_updates_equal_one_update(seed: int, batch: int):
    """Once full, TopK merges only units a new sample can enter: the same as merging every unit."""
    g = torch.Generator().manual_seed(seed)
    acts = torch.randint(0, 6, (20, 9, 2, 2), generator=g).float()  # many equal peaks: ties by index
    whole, parts = TopK(9, 4, (2, 2)), TopK(9, 4, (2, 2))
    whole.update(acts, torch.arange(20))
    for start in range(0, 20, batch):
        parts.update(acts[start : start + batch], torch.arange(start, min(start + batch, 20)))
    assert torch.equal(whole.indices, parts.indices) and torch.equal(whole.maps, parts.maps)
    assert torch.equal(whole.scores, parts.scores)
