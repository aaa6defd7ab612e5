"""Load test of ``ganscope serve`` on loopback: paint requests from concurrent clients against the demo model.

Dissects the demo generator (small, for the paint palette), starts ``ganscope serve`` in a
subprocess, sends ``--requests`` paint requests (each a history of 1-6 random strokes of
"draw X" / "remove X", as the paint page sends) from ``--clients`` threads, and reports
latency percentiles, failures and the server's resident memory before and after.
Usage: ``python benchmarks/server_load.py [--requests 200] [--clients 8] [--write docs/benchmarks.md]``.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
import torch

from ganscope.io import write_text
from ganscope.models import DEMO_PAINT_SETS
from ganscope.paintsets import PaintSets
from ganscope.pipeline import run_dissection
from ganscope.session import Session

sys.path.insert(0, str(Path(__file__).parents[1] / "tests"))  # the test harnesses live there
from live import free_port  # noqa: E402

BEGIN, END = "<!-- server-load:begin -->", "<!-- server-load:end -->"
CONCEPTS = ["tree", "grass", "sky", "door", "dome", "brick", "cloud", "building"]


def rss_mib(pid: int) -> float:
    """Resident memory of a process (Linux /proc)."""
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmRSS:\s+(\d+) kB", status).group(1)) / 1024


def paint_request(rng: random.Random) -> dict:
    """A random paint history, as the paint page sends it after a stroke."""
    edits = []
    for _ in range(rng.randint(1, 6)):
        x, y = rng.uniform(4, 60), rng.uniform(4, 60)
        points = [[x + rng.uniform(-12, 12), y + rng.uniform(-12, 12)] for _ in range(rng.randint(2, 20))]
        edits.append({"mode": rng.choice(["draw", "remove"]), "concept": rng.choice(CONCEPTS),
                      "strokes": [{"points": [[x, y], *points], "radius": rng.uniform(2, 6)}]})
    return {"index": rng.randrange(100), "edits": edits}


def client_run(url: str, bodies: list[dict]) -> list[tuple[float, int]]:
    """One client: its requests in sequence, as (seconds, status)."""
    out = []
    with httpx.Client(base_url=url, timeout=60) as http:
        for body in bodies:
            started = time.perf_counter()
            status = http.post("/api/intervene", json=body).status_code
            out.append((time.perf_counter() - started, status))
    return out


def wait_ready(url: str, process: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the server exited with status {process.returncode}")
        try:
            if httpx.get(url + "/api/info", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.2)
    raise SystemExit("the server did not start")


def run(requests: int, clients: int, samples: int) -> dict:
    torch.set_num_threads(1)
    rng = random.Random(0)
    with tempfile.TemporaryDirectory() as tmp:
        session = Session.from_specs("demo", "demo", device="cpu")
        results = run_dissection(session, ["layer4", "layer6"], samples)
        results.save(tmp)
        PaintSets.load(DEMO_PAINT_SETS).save(tmp)  # the buttons edit the demo's paint sets, as after `make demo`
        port = free_port()
        env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
        process = subprocess.Popen([sys.executable, "-m", "ganscope", "serve", "--results", tmp, "--port", str(port),
                                    "--device", "cpu"], env=env)
        url = f"http://127.0.0.1:{port}"
        try:
            wait_ready(url, process)
            alone = [t for t, _ in client_run(url, [paint_request(rng) for _ in range(20)])]  # also the warm-up
            before = rss_mib(process.pid)
            runs, walls, rss = [], [], []
            for _ in range(2):  # the second round shows whether memory keeps growing
                bodies = [paint_request(rng) for _ in range(requests)]
                started = time.perf_counter()
                with ThreadPoolExecutor(clients) as pool:
                    shares = [bodies[k::clients] for k in range(clients)]
                    runs.append([x for r in pool.map(client_run, [url] * clients, shares) for x in r])
                walls.append(time.perf_counter() - started)
                rss.append(rss_mib(process.pid))
        finally:
            process.terminate()
            process.wait(30)
    seconds = np.array([t for t, _ in runs[0]])
    statuses = [code for r in runs for _, code in r]
    return {"requests": len(runs[0]), "clients": clients, "ok": sum(code == 200 for _, code in runs[0]),
            "ok2": sum(code == 200 for code in statuses) - sum(code == 200 for _, code in runs[0]),
            "p50": float(np.percentile(seconds, 50)), "p95": float(np.percentile(seconds, 95)),
            "max": float(seconds.max()), "throughput": len(seconds) / walls[0], "alone": float(np.median(alone)),
            "rss_before": before, "rss_after": rss[0], "rss_again": rss[1], "cpus": os.cpu_count()}


def section(r: dict) -> str:
    return f"""{BEGIN}
## Server load (paint requests on loopback)

`python benchmarks/server_load.py`: `ganscope serve` on the demo generator (64 x 64, each button edits
its paint set, 8 to 64 units of `layer4` or `layer6`; 1 torch thread), {r["requests"]} paint requests
(each a history of 1-6 random draw/remove strokes, as the paint page sends) from {r["clients"]} concurrent
clients over loopback HTTP, on a {r["cpus"]}-core CPU machine.

| requests | succeeded | p50 latency | p95 latency | max | throughput | server RSS before | after |
|---|---|---|---|---|---|---|---|
| {r["requests"]} | {r["ok"]} | {r["p50"] * 1000:.0f} ms | {r["p95"] * 1000:.0f} ms | {r["max"] * 1000:.0f} ms | \
{r["throughput"]:.1f} req/s | {r["rss_before"]:.0f} MiB | {r["rss_after"]:.0f} MiB |

A single client alone sees a median of {r["alone"] * 1000:.0f} ms per request: model calls are serialised
(one lock, run in a worker thread off the event loop), so most of the latency under {r["clients"]} clients is
queueing. Memory: a second round of {r["requests"]} requests ({r["ok2"]} succeeded) left the server at
{r["rss_again"]:.0f} MiB (after the first: {r["rss_after"]:.0f} MiB), so it does not keep growing.
{END}
"""


def write_section(path: Path, text: str) -> None:
    """Replace this benchmark's section of ``path`` (or append it), leaving the rest alone."""
    old = path.read_text(encoding="utf-8") if path.is_file() else "# Benchmarks\n"
    if BEGIN in old and END in old:
        new = old[: old.index(BEGIN)] + text.rstrip("\n") + old[old.index(END) + len(END) :]
    else:
        new = old.rstrip("\n") + "\n\n" + text
    write_text(path, new)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--samples", type=int, default=128, help="samples of the palette's dissection")
    parser.add_argument("--write", type=Path, help="put the results section into this markdown file")
    args = parser.parse_args()
    result = run(args.requests, args.clients, args.samples)
    text = section(result)
    print(text)
    if args.write:
        write_section(args.write, text)
    failed = 2 * result["requests"] - result["ok"] - result["ok2"]
    if failed:
        raise SystemExit(f"{failed} requests failed")


if __name__ == "__main__":
    main()
