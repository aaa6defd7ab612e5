"""The server under abuse, on loopback: valid requests whose work would be unbounded, bursts, and painting clients.

While the abuse runs, ``/api/info`` must keep answering fast, memory must stay flat, and nothing may answer 500.
Every loop here is bounded in count and time.
"""

from __future__ import annotations

import base64
import io
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import numpy as np
import psutil
import pytest
import torch
from PIL import Image

from dissecting import dissect
from ganscope.images import png_bytes, to_pil
from ganscope.models import load_generator
from ganscope.segmenters import load_segmenter
from ganscope.server import create_app
from ganscope.session import Session
from ganscope.world import render
from live import running

FAST = dict(starts=2, search_steps=2, steps=4, adapt_steps=8)


def f1_body() -> dict:
    """4 strokes of 4096 points with radius 4096 (29 KB): minutes of rasterising before the work budget."""
    points = [[float(x % 64), float(x // 64)] for x in range(4096)]
    return {"index": 0, "edits": [{"mode": "draw", "concept": "tree", "strokes": [{"points": points,
                                                                                   "radius": 4096}]}] * 4}


def f2_body() -> dict:
    """16 latents x 256 interventions, each with an 810-byte 2048 x 2048 PNG mask: gigabytes once decoded."""
    buffer = io.BytesIO()
    Image.new("1", (2048, 2048), 1).save(buffer, "PNG")
    mask = {"bitstring": "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()}
    record = {"ablations": [{"layer": "layer6", "unit": 0}], "mask": mask}
    return {"zs": [[0.0] * 128] * 16, "interventions": [record] * 256}


def paint_body(index: int) -> dict:
    return {"index": index, "edits": [{"mode": "draw", "concept": "tree",
                                       "strokes": [{"points": [[20, 44], [30, 46]], "radius": 4}]}]}


class Watch:
    """Polls /api/info and the process's memory until stopped: latencies, peak RSS and any 500s."""

    def __init__(self, url: str):
        self.url, self.latencies, self.peak, self.stop = url, [], psutil.Process().memory_info().rss, threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:
        with httpx.Client(timeout=10) as client:
            while not self.stop.is_set():
                started = time.perf_counter()
                assert client.get(f"{self.url}/api/info").status_code == 200
                self.latencies.append(time.perf_counter() - started)
                self.peak = max(self.peak, psutil.Process().memory_info().rss)
                time.sleep(0.02)


@pytest.mark.slow
def test_no_valid_request_stalls_the_server_or_grows_memory():
    torch.set_num_threads(1)
    gen, seg = load_generator("demo"), load_segmenter("demo")
    results = dissect(gen, seg, ["layer6"], samples=16, seed=0, batch_size=16, progress=False, model_name="demo",
                      segmenter_name="demo")
    photo = png_bytes(to_pil(render(range(1), seed=3).images[0]))
    app = create_app(Session(gen, seg), results, photo_options=FAST)
    statuses: list[int] = []
    with running(app) as url, httpx.Client(timeout=60) as client:
        for _ in range(3):  # warm up: caches, allocator, first model calls
            client.post(f"{url}/api/intervene", json=paint_body(0))
        idle = psutil.Process().memory_info().rss
        watch = Watch(url)
        watch.thread.start()

        def post(path: str, body: object, **kwargs: object) -> int:
            with httpx.Client(timeout=60) as own:
                answer = own.post(f"{url}{path}", json=body, **kwargs) if not isinstance(body, bytes) else \
                    own.post(f"{url}{path}", content=body)
                statuses.append(answer.status_code)
                return answer.status_code

        with ThreadPoolExecutor(8) as pool:
            jobs = [pool.submit(post, "/api/intervene", f1_body()), pool.submit(post, "/api/generate", f2_body()),
                    pool.submit(post, "/api/generate", f2_body())]
            jobs += [pool.submit(post, "/api/photos", photo) for _ in range(30)]
            jobs += [pool.submit(post, "/api/intervene", paint_body(k % 12)) for k in range(4 * 12)]
            codes = [job.result() for job in jobs]
        watch.stop.set()
        watch.thread.join()
    assert 500 not in statuses and all(code < 500 for code in codes), codes
    assert codes[0] == 413 and codes[1] == codes[2] == 413  # priced and refused before any work
    uploads = codes[3:33]
    assert uploads.count(200) <= 6 and uploads.count(429) >= 24  # a burst is cut at the per-client limits
    assert codes[33:].count(200) >= 40  # painting clients are served (a few may meet the in-flight limit)
    p99 = float(np.percentile(watch.latencies, 99))
    print(f"\n/api/info: {len(watch.latencies)} polls, p50 {np.percentile(watch.latencies, 50) * 1000:.0f} ms, "
          f"p99 {p99 * 1000:.0f} ms; RSS idle {idle / 2**20:.0f} MiB, peak {watch.peak / 2**20:.0f} MiB; "
          f"statuses {sorted(set(codes))}: {[codes.count(c) for c in sorted(set(codes))]}")
    assert p99 < 0.5, f"/api/info p99 {p99:.3f} s"
    assert watch.peak < 1.5 * idle, f"peak RSS {watch.peak / 2**20:.0f} MiB, idle {idle / 2**20:.0f} MiB"
