"""NVIDIA's network pickles: read as data, StyleGAN2-ADA and StyleGAN3 generators, options, bad input.

The pickles are written here in NVIDIA's format without NVIDIA's code: every module becomes a
call to ``torch_utils.persistence._reconstruct_persistent_obj(meta)`` (meta: type, version,
module_src, class_name, state = the module's ``__dict__`` with ``_init_args`` / ``_init_kwargs``),
and EasyDicts are ``dnnlib.util.EasyDict``. Stand-in modules of those names exist only while a
pickle is written, so loading could not import them even if it tried.
"""

from __future__ import annotations

import io
import json
import os
import pickle
import sys
import types
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn
from typer.testing import CliRunner

from ganscope.cli import app
from ganscope.errors import GanscopeError
from ganscope.models import load_generator
from ganscope.models.nvidia import build_generator
from ganscope.models.nvidia_pickle import ALLOWED, Record, RefusedGlobal, RestrictedUnpickler, read_network_pickle
from ganscope.models.stylegan3 import design_lowpass_filter

SG2ADA = {"z_dim": 8, "c_dim": 0, "w_dim": 8, "img_resolution": 16, "img_channels": 3,
          "mapping_kwargs": {"num_layers": 2},
          "synthesis_kwargs": {"channel_base": 128, "channel_max": 16, "num_fp16_res": 2, "conv_clamp": 256}}
SG3_T = {"z_dim": 8, "c_dim": 0, "w_dim": 8, "img_resolution": 16, "img_channels": 3, "mapping_kwargs": {},
         "channel_base": 128, "channel_max": 8, "num_layers": 4, "num_critical": 1, "margin_size": 2,
         "magnitude_ema_beta": 0.999}
SG3_R = {**SG3_T, "conv_kernel": 1, "use_radial_filters": True, "channel_base": 256, "channel_max": 16}


def unpicklable(*_: Any) -> None:
    raise AssertionError("a stand-in of NVIDIA's code was called while loading")


class EasyDict(dict):
    """Pickled under dnnlib.util.EasyDict's name, as NVIDIA's training configs are."""


@contextmanager
def nvidia_names() -> Iterator[None]:
    """Modules torch_utils.persistence and dnnlib.util, only while pickling (pickle checks globals exist)."""
    unpicklable.__module__, unpicklable.__qualname__ = "torch_utils.persistence", "_reconstruct_persistent_obj"
    EasyDict.__module__ = "dnnlib.util"
    fakes = {}
    for package, module, name, value in [("torch_utils", "persistence", "_reconstruct_persistent_obj", unpicklable),
                                         ("dnnlib", "util", "EasyDict", EasyDict)]:
        parent, child = types.ModuleType(package), types.ModuleType(f"{package}.{module}")
        setattr(child, name, value)
        setattr(parent, module, child)
        fakes |= {package: parent, child.__name__: child}
    assert not set(fakes) & set(sys.modules)
    sys.modules.update(fakes)
    try:
        yield
    finally:
        for name in fakes:
            del sys.modules[name]


class PersistencePickler(pickle.Pickler):
    """Every torch module -> NVIDIA's reconstruction record of it (``init`` maps modules to their kwargs)."""

    def __init__(self, file: io.BufferedIOBase, init: dict[int, dict[str, Any]], module_src: str,
                 protocol: int | None = None):
        super().__init__(file, protocol)
        self.init, self.module_src = init, module_src

    def reducer_override(self, obj: Any) -> Any:
        if not isinstance(obj, nn.Module):
            return NotImplemented
        state = dict(vars(obj), _init_args=(), _init_kwargs=EasyDict(self.init.get(id(obj), {})))
        meta = {"type": "class", "version": 6, "module_src": self.module_src, "class_name": type(obj).__name__,
                "state": state}
        return unpicklable, (meta,)


def easy(kwargs: dict[str, Any]) -> EasyDict:
    return EasyDict({k: easy(v) if isinstance(v, dict) else v for k, v in kwargs.items()})


def write_snapshot(path: Path, snapshot: dict[str, Any], init: dict[int, dict[str, Any]],
                   module_src: str = "# NVIDIA's networks.py would be here", protocol: int | None = None) -> Path:
    with nvidia_names(), path.open("wb") as file:
        PersistencePickler(file, init, module_src, protocol).dump(snapshot)
    return path


def random_generator(kind: str, kwargs: dict[str, Any], seed: int = 0) -> nn.Module:
    """Our implementation with every tensor random (NVIDIA initialises biases, noise strengths, w_avg to 0)."""
    torch.manual_seed(seed)
    gen = build_generator(kind, (), kwargs, class_index=0 if kwargs["c_dim"] else None)
    with torch.no_grad():
        for name, tensor in gen.state_dict().items():
            if name.endswith("magnitude_ema"):
                tensor.uniform_(0.5, 2)
            elif "filter" not in name:
                tensor.add_(0.3 * torch.randn_like(tensor))
    return gen.eval()


def snapshot_file(tmp_path: Path, kind: str, kwargs: dict[str, Any], **extra: Any) -> tuple[Path, nn.Module]:
    gen = random_generator(kind, kwargs)
    snapshot = {"G": random_generator(kind, kwargs, seed=1), "D": nn.Linear(2, 1), "G_ema": gen,
                "augment_pipe": None, "training_set_kwargs": easy({"path": "data.zip", "resolution": 16})}
    return write_snapshot(tmp_path / f"{kind}.pkl", snapshot | extra, {id(gen): easy(kwargs)}), gen


@pytest.mark.parametrize(("kind", "kwargs", "layers"), [
    ("stylegan2ada", SG2ADA, ["synthesis.b16.conv0", "synthesis.b16.conv0.affine", "synthesis.b4.torgb"]),
    ("stylegan2ada", {**SG2ADA, "synthesis_kwargs": {**SG2ADA["synthesis_kwargs"], "architecture": "resnet"}},
     ["synthesis.b8.skip", "synthesis.b16.conv1"]),
    ("stylegan2ada", {**SG2ADA, "synthesis_kwargs": {**SG2ADA["synthesis_kwargs"], "architecture": "orig"}},
     ["synthesis.b16.torgb"]),
    ("stylegan3", SG3_T, ["synthesis.input", "synthesis.L0_20_8", "synthesis.L3_16_8.affine", "synthesis.L4_16_3"]),
    ("stylegan3", SG3_R, ["synthesis.L0_20_16", "synthesis.L2_20_16"]),
])
def test_a_pickle_loads_the_state_put_in(tmp_path: Path, kind: str, kwargs: dict[str, Any],
                                         layers: list[str]) -> None:
    path, original = snapshot_file(tmp_path, kind, kwargs)
    gen = load_generator(f"stylegan:{path}?truncation=1")
    expected, loaded = original.state_dict(), gen.state_dict()
    assert list(loaded) == list(expected) and all(torch.equal(loaded[k], v) for k, v in expected.items())
    z = torch.randn(3, 8)
    assert torch.equal(gen(z), original(z)) and gen(z).shape == (3, 3, 16, 16)
    assert gen.latent_shape == (8,)
    modules = dict(gen.named_modules())
    assert all(name in modules for name in layers)


@pytest.mark.parametrize("protocol", [2, 3, 5])  # NVIDIA's default: 3 (Python 3.7) or 4 (3.8 on)
def test_every_pickle_protocol_loads(tmp_path: Path, protocol: int) -> None:
    gen = random_generator("stylegan3", SG3_R)
    path = write_snapshot(tmp_path / "p.pkl", {"G_ema": gen, "training_set_kwargs": easy({"xflip": True})},
                          {id(gen): easy(SG3_R)}, protocol=protocol)
    z = torch.randn(2, 8)
    assert torch.equal(load_generator(f"stylegan:{path}?truncation=1")(z), gen(z))


def test_records_keep_their_structure(tmp_path: Path) -> None:
    path, original = snapshot_file(tmp_path, "stylegan3", SG3_T)
    data = read_network_pickle(path)
    record = data["G_ema"]
    assert isinstance(record, Record) and record.class_name == "Generator" and record.init_kwargs == SG3_T
    assert record.child("synthesis").class_name == "SynthesisNetwork"
    assert data["training_set_kwargs"] == {"path": "data.zip", "resolution": 16} and data["augment_pipe"] is None
    assert set(record.tensors()) == set(original.state_dict())


def test_truncation_noise_and_class(tmp_path: Path) -> None:
    path, _ = snapshot_file(tmp_path, "stylegan2ada", {**SG2ADA, "c_dim": 4})
    z = torch.randn(2, 8)
    with pytest.raises(GanscopeError, match=r"class-conditional \(4 classes\).*\?class=N, N in 0\.\.3"):
        load_generator(f"stylegan:{path}")
    with pytest.raises(GanscopeError, match="got 4"):
        load_generator(f"stylegan:{path}?class=4")
    one, two = load_generator(f"stylegan:{path}?class=1"), load_generator(f"stylegan:{path}?class=2")
    assert not torch.allclose(one(z), two(z))
    mean = load_generator(f"stylegan:{path}?class=1&truncation=0")  # every z maps to w_avg
    assert torch.allclose(mean(z)[0], mean(z)[1]) and not torch.allclose(one(z)[0], one(z)[1])
    quiet = load_generator(f"stylegan:{path}?class=1&noise=none")
    assert not torch.allclose(quiet(z), one(z))
    with pytest.raises(GanscopeError, match="option noise='random'"):
        load_generator(f"stylegan:{path}?class=1&noise=random")
    plain, _ = snapshot_file(tmp_path, "stylegan3", SG3_T)
    with pytest.raises(GanscopeError, match="no class input"):
        load_generator(f"stylegan:{plain}?class=0")


class WritesAFile:
    def __init__(self, target: Path):
        self.target = target

    def __reduce__(self) -> tuple:
        return os.system, (f"touch {self.target}",)


def test_a_malicious_pickle_is_refused_without_running(tmp_path: Path) -> None:
    target = tmp_path / "pwned"
    path, _ = snapshot_file(tmp_path, "stylegan2ada", SG2ADA, training_set_kwargs=WritesAFile(target))
    with pytest.raises(GanscopeError, match=rf"needs the global {os.system.__module__}\.system.*nothing from it"):
        load_generator(f"stylegan:{path}")
    assert not target.exists()


def test_module_source_in_a_record_is_never_run(tmp_path: Path) -> None:
    target = tmp_path / "pwned"
    gen = random_generator("stylegan2ada", SG2ADA)
    source = f"open({str(target)!r}, 'w').write('ran')\nimport os; os.system('touch {target}')"
    path = write_snapshot(tmp_path / "src.pkl", {"G_ema": gen}, {id(gen): easy(SG2ADA)}, module_src=source)
    assert read_network_pickle(path)["G_ema"].module_src == source  # kept as text
    z = torch.randn(2, 8)
    assert torch.equal(load_generator(f"stylegan:{path}?truncation=1")(z), gen(z))
    assert not target.exists()


@settings(max_examples=40, deadline=None)
@given(module=st.from_regex(r"[a-z_]{1,8}(\.[a-z_]{1,8}){0,2}", fullmatch=True),
       name=st.from_regex(r"[A-Za-z_]{1,12}", fullmatch=True))
def test_any_other_global_is_refused_by_name(module: str, name: str) -> None:
    if (module, name) in ALLOWED:
        return
    data = f"c{module}\n{name}\n)R.".encode()  # GLOBAL module.name, called with no arguments
    loaded = set(sys.modules)
    with pytest.raises(RefusedGlobal, match=f"^{module}.{name}$"):
        RestrictedUnpickler(io.BytesIO(data)).load()
    assert set(sys.modules) == loaded  # nothing was imported


@pytest.mark.parametrize(("payload", "message"), [
    ("plain", "not an NVIDIA network pickle: it holds a dict with keys weight"),
    ("torch.save", "a torch.save checkpoint, not an NVIDIA network pickle"),
    ("truncated", "truncated or not a pickle"),
    ("html", "truncated or not a pickle"),
    ("no G_ema", r"has no G_ema network \(networks in it: G\)"),
    ("discriminator", "G_ema is NVIDIA's 'Discriminator', not a Generator"),
])
def test_bad_pickles_say_what_is_wrong(tmp_path: Path, payload: str, message: str) -> None:
    path = tmp_path / "bad.pkl"
    if payload == "plain":
        path.write_bytes(pickle.dumps({"weight": torch.zeros(2)}))
    elif payload == "torch.save":
        torch.save({"g_ema": {}}, path)
    elif payload == "html":
        path.write_bytes(b"<!DOCTYPE html><html>403</html>")
    else:
        good, _ = snapshot_file(tmp_path, "stylegan2ada", SG2ADA)
        data = good.read_bytes()
        if payload == "truncated":
            path.write_bytes(data[: len(data) // 2])
        elif payload == "no G_ema":
            gen = random_generator("stylegan2ada", SG2ADA)
            write_snapshot(path, {"G": gen}, {id(gen): easy(SG2ADA)})
        else:
            class Discriminator(nn.Module):
                pass

            write_snapshot(path, {"G_ema": Discriminator()}, {})
    with pytest.raises(GanscopeError, match=message):
        load_generator(f"stylegan:{path}")


def test_other_specs_point_to_the_stylegan_spec_and_the_cli_exits_2(tmp_path: Path) -> None:
    path, _ = snapshot_file(tmp_path, "stylegan2ada", SG2ADA)
    for spec in (f"stylegan2:{path}", f"proggan:{path}?trust=true"):
        with pytest.raises(GanscopeError, match="is an NVIDIA network pickle; .* with the spec stylegan:PATH"):
            load_generator(spec)
    saved = tmp_path / "saved.pt"  # torch.save of NVIDIA's objects: a zip, read by the trusted full unpickler
    with nvidia_names():
        torch.save({"G_ema": unpicklable}, saved)
    with pytest.raises(GanscopeError, match="not importable here .*torch_utils.*stylegan:PATH"):
        load_generator(f"stylegan2:{saved}?trust=true")
    bad = tmp_path / "cut.pkl"
    bad.write_bytes(path.read_bytes()[:300])
    run = CliRunner().invoke(app, ["dissect", "--model", f"stylegan:{bad}", "--segmenter", "demo", "-l", "mapping",
                                   "--samples", "4", "--out", str(tmp_path / "out"), "--no-progress"])
    assert run.exit_code == 2 and "truncated" in run.output and "Traceback" not in run.output


@pytest.mark.parametrize(("kind", "kwargs", "layers"), [
    ("stylegan2ada", {**SG2ADA, "img_resolution": 32}, ["synthesis.b16.conv1", "synthesis.b32.conv0.affine"]),
    ("stylegan3", {**SG3_T, "img_resolution": 32}, ["synthesis.L2_36_8", "synthesis.L1_20_8.affine"]),
])
def test_dissect_runs_end_to_end(tmp_path: Path, kind: str, kwargs: dict[str, Any], layers: list[str]) -> None:
    path, _ = snapshot_file(tmp_path, kind, kwargs)
    out = tmp_path / "out"
    args = ["dissect", "--model", f"stylegan:{path}?truncation=0.7", "--segmenter", "demo", "--samples", "8",
            "--batch-size", "4", "--out", str(out), "--no-progress", "--no-report"]
    run = CliRunner().invoke(app, args + [a for layer in layers for a in ("-l", layer)])
    assert run.exit_code == 0, run.output
    results = json.loads((out / "results.json").read_text())
    assert list(results["layers"]) == layers and all(results["layers"][name]["units"] for name in layers)


def test_filter_design_matches_scipy() -> None:
    signal = pytest.importorskip("scipy.signal")
    special = pytest.importorskip("scipy.special")
    for taps, cutoff, width, fs in [(12, 3.2, 4.1, 32), (24, 10.0, 6.0, 64), (6, 1.5, 2.2, 8)]:
        ours = design_lowpass_filter(taps, cutoff, width, fs)
        theirs = torch.as_tensor(signal.firwin(numtaps=taps, cutoff=cutoff, width=width, fs=fs), dtype=torch.float32)
        assert torch.allclose(ours, theirs, atol=1e-7)
        x = (torch.arange(taps, dtype=torch.float64) - (taps - 1) / 2) / fs
        r = torch.hypot(x[None, :], x[:, None]).numpy()
        beta = signal.kaiser_beta(signal.kaiser_atten(taps, width / (fs / 2)))
        window = torch.kaiser_window(taps, periodic=False, beta=beta, dtype=torch.float64).numpy()
        jinc = special.j1(2 * cutoff * torch.pi * r) / (torch.pi * r) * (window[:, None] * window[None, :])
        radial = design_lowpass_filter(taps, cutoff, width, fs, radial=True)
        assert torch.allclose(radial, torch.as_tensor(jinc / jinc.sum(), dtype=torch.float32), atol=1e-7)
    assert design_lowpass_filter(1, 2.0, 1.0, 16) is None
