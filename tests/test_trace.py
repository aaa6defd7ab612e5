"""Tracing: record, edit, stop, several layers, hooks removed, name suggestions."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from ganscope.sampling import batches, latents
from ganscope.trace import LayerNotFoundError, Trace, TraceDict


def model() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Sequential(nn.Linear(8, 3), nn.Tanh()))


def test_records_output():
    net, x = model(), torch.randn(2, 4)
    with Trace(net, "0") as t:
        net(x)
    torch.testing.assert_close(t.output, net[0](x))


def test_edit_changes_the_rest_of_the_forward_pass():
    net, x = model(), torch.randn(2, 4)
    with Trace(net, "1", edit=torch.zeros_like):
        out = net(x)
    torch.testing.assert_close(out, net[2](torch.zeros(2, 8)))


def test_stop_skips_later_layers_and_several_layers_record():
    net, x = model(), torch.randn(2, 4)
    with TraceDict(net, ["2.0", "0"], stop=True) as td:
        assert net(x) is None or True
    assert td["0"].output.shape == (2, 8) and td["2.0"].output.shape == (2, 3)


def test_hooks_removed_even_on_error():
    net = model()
    with pytest.raises(ValueError), TraceDict(net, ["0", "2.1"]):
        raise ValueError("boom")
    assert all(not m._forward_hooks for m in net.modules())


def test_unknown_layer_suggests_close_names():
    net = nn.Sequential()
    net.add_module("layer4", nn.Identity())
    net.add_module("layer5", nn.Identity())
    with pytest.raises(LayerNotFoundError, match="did you mean layer4"):
        Trace(net, "layer_4")
    with pytest.raises(LayerNotFoundError):
        TraceDict(net, ["layer4", "nope"])
    assert all(not m._forward_hooks for m in net.modules())


def test_latents_depend_only_on_seed_and_index():
    whole = latents(3, range(10), (2, 3))
    parts = torch.cat([latents(3, idx, (2, 3)) for idx in batches(range(10), 4)])
    assert torch.equal(whole, parts) and whole.shape == (10, 2, 3)
    assert not torch.equal(latents(4, [0], (5,)), latents(3, [0], (5,)))
    with pytest.raises(ValueError):
        list(batches(range(3), 0))
