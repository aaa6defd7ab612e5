"""Sharding arithmetic, the --ray option, and the cluster cases (tests/cluster_cases.py) in a process of their own."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ganscope.cli import app, optional_values
from ganscope.cluster import LOCAL as LOCAL_RAY
from ganscope.shards import add_span, covered, gaps, split

CLUSTER_CASES = Path(__file__).with_name("cluster_cases.py")
RAY_LOGS = ("raylet.out", "raylet.err", "gcs_server.out", "gcs_server.err", "python-core-driver-*.log")


def test_spans_cover_what_is_left():
    spans = add_span(add_span([], (0, 8)), (16, 24))
    assert spans == [(0, 8), (16, 24)] and add_span(spans, (8, 16)) == [(0, 24)]
    assert gaps(spans, 30) == [(8, 16), (24, 30)] and gaps([(0, 30)], 30) == []
    assert list(split(gaps(spans, 30), 5)) == [(8, 13), (13, 16), (24, 29), (29, 30)]
    assert covered(spans) == 16


def test_bare_ray_option_means_a_local_cluster():
    assert optional_values(["dissect", "--ray"], {"--ray": LOCAL_RAY}) == ["dissect", "--ray", LOCAL_RAY]
    assert optional_values(["--ray", "--samples", "4"], {"--ray": LOCAL_RAY}) == ["--ray", LOCAL_RAY, "--samples", "4"]
    assert optional_values(["--ray", "auto"], {"--ray": LOCAL_RAY}) == ["--ray", "auto"]


def test_ray_option_without_ray_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray now raises ImportError
    args = ["dissect", "--model", "synthetic:make_generator", "--segmenter", "synthetic:make_segmenter", "-l", "layer1",
            "--samples", "4", "--out", str(tmp_path), "--no-progress", "--no-report", "--ray", LOCAL_RAY]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2 and "pip install 'ganscope[ray]'" in result.output


def ray_log_tails(ray_tmp: Path, lines: int = 25) -> str:
    """The last lines of the Ray system logs under ``ray_tmp``: why a driver ended."""
    found = sorted(p for pattern in RAY_LOGS for p in ray_tmp.glob(f"ray/session_*/logs/{pattern}"))
    return "\n".join(f"--- {p}\n" + "\n".join(p.read_text(errors="replace").splitlines()[-lines:]) for p in found)


def run_cluster_cases(report: Path) -> tuple[subprocess.CompletedProcess, str]:
    """One child pytest over the cluster cases, with Ray's files in a fresh short directory (socket paths are
    limited to 107 bytes); returns the run and its Ray log tails."""
    short = "/tmp" if os.access("/tmp", os.W_OK) else None  # TMPDIR may be long
    with tempfile.TemporaryDirectory(prefix="gsray", dir=short, ignore_cleanup_errors=True) as ray_tmp:
        env = {**os.environ, "RAY_TMPDIR": ray_tmp}
        run = subprocess.run([sys.executable, "-m", "pytest", "-v", "-p", "no:cacheprovider", str(CLUSTER_CASES),
                              f"--junitxml={report}"], capture_output=True, text=True, env=env, timeout=900,
                             stdin=subprocess.DEVNULL, cwd=CLUSTER_CASES.parent.parent)
        return run, ray_log_tails(Path(ray_tmp))


needs_ray = pytest.mark.skipif(importlib.util.find_spec("ray") is None,
                               reason="ray is not installed (pip install 'ganscope[ray]')")


@needs_ray
@pytest.mark.slow
def test_cluster_cases_pass_in_their_own_process(tmp_path: Path):
    """A Ray driver ends its own process, with no Python error, when a Ray system process fails under it.

    So the cluster cases run in a child pytest: a failing case fails here with its output, and a child that
    dies without writing its report (such a Ray failure) is run once more, its output and Ray logs kept in a
    warning, rather than ending the whole suite in silence.
    """
    crashes = []
    for attempt in range(2):
        report = tmp_path / f"attempt{attempt}.xml"
        run, logs = run_cluster_cases(report)
        if run.returncode == 0:
            if crashes:
                warnings.warn("the cluster cases' process died once, then passed:\n" + crashes[0], stacklevel=1)
            return
        output = f"exit {run.returncode}\n{run.stdout[-6000:]}\n{run.stderr[-3000:]}"
        if report.exists():
            pytest.fail(f"cluster cases failed:\n{output}", pytrace=False)
        crashes.append(f"{output}\n{logs}")
    pytest.fail("the cluster cases' process died twice without a report:\n" + "\n\n".join(crashes), pytrace=False)
