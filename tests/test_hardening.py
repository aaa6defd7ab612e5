"""Hardening, round 2: each finding of the probe that sent valid requests and large numbers, as a test."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
import torch
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

import synthetic
from ganscope.checkpoint import load_state
from ganscope.cli import app as cli_app
from ganscope.errors import GanscopeError
from ganscope.io import load_weights, save_weights
from ganscope.photos.images import read_photo
from ganscope.results import TABLES_FILE, Results
from ganscope.server import create_app
from ganscope.server.photos import MAX_PHOTOS, PhotoStore
from ganscope.session import Session
from test_abuse import f1_body, f2_body

CLI = [sys.executable, "-c", "from ganscope.cli import main; main()"]
SERVE = ["serve", "--model", "synthetic:make_generator", "--segmenter", "synthetic:make_segmenter", "--device", "cpu"]


@pytest.fixture(scope="module")
def client(small_results: Path) -> TestClient:
    gen = synthetic.make_generator()
    return TestClient(create_app(Session(gen, synthetic.make_segmenter()), Results.load(small_results),
                                 layer="layer1", units=1))


def test_f1_stroke_work_is_priced_before_rasterising(client: TestClient):
    started = time.perf_counter()
    body = f1_body()
    for edit in body["edits"]:
        edit["concept"] = "alpha"
    answer = client.post("/api/intervene", json=body)
    assert answer.status_code == 413 and "stroke work" in answer.json()["detail"]
    assert "2,000,000" in answer.json()["detail"] and time.perf_counter() - started < 5


def test_f2_mask_pixels_times_images_are_priced_before_decoding(client: TestClient):
    body = f2_body()
    body["zs"] = [[0.0] * 16] * 16
    for record in body["interventions"]:
        record["ablations"][0]["layer"] = "layer1"
    answer = client.post("/api/generate", json=body)
    assert answer.status_code == 413 and "mask pixels" in answer.json()["detail"]


def test_f3_the_photo_queue_is_bounded_and_evicted_uploads_are_never_inverted(small_results: Path):
    copies: list[int] = []
    gen = synthetic.make_generator()
    store = PhotoStore(Session(gen, synthetic.make_segmenter()), "layer1", {}, lambda: copies.append(1) or gen)
    store.worker.shutdown(wait=True)  # nothing runs: uploads stay queued
    store.worker = type("Hold", (), {"submit": lambda self, fn, upload: held.append((fn, upload))})()
    held: list = []
    photo = torch.zeros(3, 32, 32)
    first = store.add(photo)  # stays queued throughout
    second = store.add(photo)
    with pytest.raises(Exception, match="already waiting"):
        store.add(photo)  # the queue holds two
    store.uploads[second].status = "ready"
    for _ in range(MAX_PHOTOS):  # newer uploads, each done at once, push the queued first one out
        store.uploads[store.add(photo)].status = "ready"
    tokens = [first]
    assert held[0][1].evicted and tokens[0] not in store.uploads
    held[0][0](held[0][1])
    assert held[0][1].inversion is None and copies == []  # evicted: not inverted, no generator copied


def test_uploads_are_rate_limited_per_client(client: TestClient):
    for _ in range(6):
        client.app.state.service.limits.upload("testclient")
    answer = client.post("/api/photos", content=b"\x89PNG")
    assert answer.status_code == 429 and int(answer.headers["Retry-After"]) >= 1


@pytest.mark.slow
def test_f4_an_enormous_sample_count_exits_2_at_once_in_little_memory(tmp_path: Path):
    command = [*CLI, "dissect", "-l", "layer6", "--samples", str(10**12),
               "--out", str(tmp_path / "out"), "--no-report"]
    started, peak = time.perf_counter(), 0
    child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    process = psutil.Process(child.pid)
    while child.poll() is None and time.perf_counter() - started < 60:
        try:
            peak = max(peak, process.memory_info().rss)
        except psutil.NoSuchProcess:
            break
        time.sleep(0.01)
    out, err = child.communicate(timeout=60)
    assert child.returncode == 2 and len(err.strip().splitlines()) == 1, err
    assert "--samples must be in 1..2147483647" in err and peak < 1 << 30


def _corrupt(directory: Path, key: str, how: str) -> None:
    tables = load_weights(directory / TABLES_FILE)
    table = tables[key]
    if how == "missing":
        del tables[key]
    elif how == "short":
        tables[key] = table[:-1]
    elif how == "dtype":
        tables[key] = table.double() if table.is_floating_point() else table.int()
    elif how == "nan":
        tables[key] = torch.full_like(table, float("nan")) if table.is_floating_point() else table - 10**6
    save_weights(directory / TABLES_FILE, tables)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(key=st.sampled_from(["layer1/iou", "layer2/iou", "layer1/topk_indices", "layer2/topk_scores",
                            "layer1/topk_maps"]), how=st.sampled_from(["missing", "short", "dtype", "nan"]))
def test_f5_every_corrupt_table_is_refused_at_load_in_one_line(small_results: Path, tmp_path_factory, key: str,
                                                               how: str):
    directory = Path(shutil.copytree(small_results, tmp_path_factory.mktemp("corrupt") / "r"))
    _corrupt(directory, key, how)
    with pytest.raises(GanscopeError) as err:
        Results.load(directory)
    assert key in str(err.value) and "\n" not in str(err.value)
    run = CliRunner().invoke(cli_app, [*SERVE, "--results", str(directory)])
    assert run.exit_code == 2 and run.output.count("\n") == 1 and run.output.startswith("error:"), run.output


def test_f5_missing_tables_file_is_refused(small_results: Path, tmp_path: Path):
    directory = Path(shutil.copytree(small_results, tmp_path / "r"))
    (directory / TABLES_FILE).unlink()
    run = CliRunner().invoke(cli_app, [*SERVE, "--results", str(directory)])
    assert run.exit_code == 2 and "no tables.safetensors" in run.output


def test_head_is_answered_like_get(client: TestClient):
    assert client.head("/api/info").status_code == 200 and client.head("/api/info").content == b""


def test_generate_ids_are_31_bit(client: TestClient):
    assert client.post("/api/generate", json={"ids": [10**30]}).status_code == 422


def test_a_negative_seed_in_results_names_the_file_not_a_flag(small_results: Path, tmp_path: Path):
    directory = Path(shutil.copytree(small_results, tmp_path / "r"))
    data = json.loads((directory / "results.json").read_text())
    (directory / "results.json").write_text(json.dumps(dict(data, seed=-1)))
    run = CliRunner().invoke(cli_app, [*SERVE, "--results", str(directory)])
    assert run.exit_code == 2 and "--seed" not in run.output and "results.json" in run.output and "seed" in run.output


def test_a_random_bytes_checkpoint_gives_no_torch_advice(tmp_path: Path):
    path = tmp_path / "tallies.ckpt"
    path.write_bytes(os.urandom(2000))
    with pytest.raises(GanscopeError) as err:
        load_state(path)
    assert "weights_only" not in str(err.value) and "cannot read checkpoint" in str(err.value)


def test_a_protocol_4_pickle_prints_no_torch_warning(tmp_path: Path):
    path = tmp_path / "p4.pth"
    torch.save({"a": torch.zeros(1)}, path, pickle_protocol=4, _use_new_zipfile_serialization=False)
    run = subprocess.run([*CLI, "dissect", "-l", "layer1", "--model",
                          f"proggan:{path}", "--samples", "4", "--out", str(tmp_path / "o"), "--no-report"],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 2 and len(run.stderr.strip().splitlines()) == 1, run.stderr


def test_a_png_with_an_oversized_text_chunk_is_named_so():
    import io
    import struct
    import zlib

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (4, 4)).save(buffer, "PNG")
    data = buffer.getvalue()
    payload = b"k\x00\x00" + zlib.compress(b"A" * (20 << 20))
    chunk = struct.pack(">I", len(payload)) + b"zTXt" + payload + struct.pack(">I", zlib.crc32(b"zTXt" + payload))
    at = data.index(b"IDAT") - 4
    with pytest.raises(GanscopeError, match="PNG with an oversized text"):
        read_photo(data[:at] + chunk + data[at:], 32)
