"""Fault injection: `ganscope dissect` killed (SIGKILL) at random points and resumed, full and read-only disks.

The kills hit forked copies of this test process running the real command (``ganscope.cli.main``): a
fresh interpreter spends ~2.5 s importing torch, too slow for 40 runs, and the uninterrupted
reference run is a real subprocess, so both paths must give the same files.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from click.testing import Result
from safetensors.torch import load_file

from ganscope.checkpoint import save_state
from ganscope.io import TEMP_SUFFIX, output_directory, save_weights, write_bytes, write_json
from test_cli import GEN, SEG, ganscope

KILLS = 20
ARGS = ["--model", GEN, "--segmenter", SEG, "-l", "layer1", "-l", "layer2", "--samples", "128", "--batch-size", "2",
        "--no-progress", "--no-report"]  # a 64-sample pilot, then 4 shards of 16 samples, each checkpointed


def dissect_args(out: Path) -> list[str]:
    return ["dissect", *ARGS, "--out", str(out)]


def fork_dissect(out: Path) -> int:
    """Start `ganscope dissect` in a forked child (output discarded); returns its pid."""
    pid = os.fork()
    if pid:
        return pid
    code = 1
    try:
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, 1)
        os.dup2(null, 2)
        sys.argv = ["ganscope", *dissect_args(out)]
        from ganscope.cli import main

        main()
        code = 0
    except SystemExit as done:
        code = done.code if isinstance(done.code, int) else 1
    finally:
        os._exit(code)


def watch(out: Path, pid: int, kill_after: float | None = None, from_checkpoint: bool = False) -> int:
    """Poll ``out`` until the child ends; results.json is never partial.

    With ``kill_after``, SIGKILL the child that many seconds after its start (or after its first checkpoint).
    """
    start = None if from_checkpoint else time.perf_counter()
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        if start is None and (out / "tallies.ckpt").exists():
            start = time.perf_counter()
        if kill_after is not None and start is not None and time.perf_counter() - start >= kill_after:
            os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(FileNotFoundError):  # absent or complete, never half written
            json.loads((out / "results.json").read_text())
        time.sleep(0.002)


def files(out: Path) -> dict[str, object]:
    """Everything a finished dissection leaves, with the run time removed."""
    results = json.loads((out / "results.json").read_text())
    results.pop("elapsed_seconds")
    tables = {k: v.tolist() for k, v in load_file(out / "tables.safetensors").items()}
    return {"results": results, "tables": tables, "samples": sorted(p.name for p in (out / "samples").iterdir()),
            "hidden": sorted(str(p.relative_to(out)) for p in out.rglob(".*"))}


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    out = tmp_path_factory.mktemp("uninterrupted")
    run = ganscope(*dissect_args(out))
    assert run.exit_code == 0, run.output
    return files(out)


@pytest.mark.slow
def test_killed_runs_resume_to_the_same_result(tmp_path: Path, reference: dict[str, object]):
    """Every fourth run is killed any time after its start, the others after their first checkpoint."""
    started = time.perf_counter()
    assert watch(tmp_path / "timing", fork_dissect(tmp_path / "timing")) == 0
    duration = time.perf_counter() - started
    assert files(tmp_path / "timing") == reference
    rng = random.Random(11)
    killed = 0
    for trial in range(KILLS):
        out = tmp_path / f"run{trial}"
        anytime = trial % 4 == 0
        code = watch(out, fork_dissect(out), rng.uniform(0, duration if anytime else duration / 2), not anytime)
        killed += code == -signal.SIGKILL
        assert watch(out, fork_dissect(out)) == 0  # resume
        assert files(out) == reference, f"trial {trial}"
        assert not list(out.rglob(f"*{TEMP_SUFFIX}"))
    assert killed >= KILLS // 2  # most runs really died mid-way (a few may finish first)


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Path]:
    """A 96 KiB tmpfs (root only): small enough that a dissection's checkpoint fills it."""
    mount = tmp_path / "mnt"
    mount.mkdir()
    if os.geteuid() != 0 or not shutil.which("mount") or subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=96k", "tmpfs", str(mount)], capture_output=True).returncode:
        pytest.skip("needs root and mount to make a small or read-only file system")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=True)


def one_line_error(run: Result, message: str) -> None:
    assert run.exit_code == 2, run.stderr
    assert message in run.stderr and len(run.stderr.strip().splitlines()) == 1, run.stderr


def test_full_disk_is_a_clear_error(tmpfs: Path):
    one_line_error(ganscope(*dissect_args(tmpfs / "out")), "No space left on device")
    assert not (tmpfs / "out" / "results.json").exists() and not list(tmpfs.rglob(f"*{TEMP_SUFFIX}"))


def test_read_only_output_is_a_clear_error(tmpfs: Path, small_results: Path):
    shutil.copytree(small_results, tmpfs / "results")
    subprocess.run(["mount", "-o", "remount,ro", str(tmpfs)], check=True)
    one_line_error(ganscope(*dissect_args(tmpfs / "out")), "Read-only file system")
    one_line_error(ganscope("report", str(tmpfs / "results")), "Read-only file system")


def test_pickled_tallies_checkpoint_is_never_unpickled(tmp_path: Path):
    """A tallies.ckpt that runs code when unpickled is refused; the code never runs."""
    import torch

    marker = tmp_path / "pwned"
    (tmp_path / "out").mkdir()
    torch.save({"fingerprint": Evil(str(marker))}, tmp_path / "out" / "tallies.ckpt")
    one_line_error(ganscope(*dissect_args(tmp_path / "out")), "cannot read checkpoint")
    assert not marker.exists()


class Evil:
    """Unpickling it would create a file."""

    def __init__(self, path: str):
        self.path = path

    def __reduce__(self) -> tuple:
        return (open, (self.path, "w"))


@pytest.mark.parametrize(("value", "message"), [("nan", "must be finite"), ("1e39", "must be finite float32"),
                                                ("3e38", "NaN or Inf in the images edited at 'layer1' for sample 0")])
def test_non_finite_insertions_are_refused(small_results: Path, tmp_path: Path, value: str, message: str):
    run = ganscope("insert", "-l", "layer1", "--units", "0,1", "--value", value, "--samples", "2", "--model", GEN,
                   "--segmenter", SEG, "--out", str(tmp_path), "--device", "cpu")
    one_line_error(run, message)
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("command", [["ace", "--concept", "alpha", "--samples", "4"],
                                     ["context", "--concept", "alpha", "--samples", "2", "--tile", "1"]])
def test_overflowing_insertions_in_experiments_name_the_sample(tmp_path: Path, command: list[str]):
    """A finite insertion value that overflows in later layers: the experiments stop, as `insert` does."""
    run = ganscope(*command, "-l", "layer1", "--units", "0,1", "--value", "3e38", "--model", GEN, "--segmenter", SEG,
                   "--out", str(tmp_path / "out"), "--device", "cpu")
    one_line_error(run, "NaN or Inf in the images edited at 'layer1' for sample 0")


def test_a_directory_another_run_holds_is_left_alone(tmp_path: Path):
    """A second run on the same --out stops before touching it (not even the holder's temporary files);
    once the holder is done, the next run cleans up and works."""
    out, args = tmp_path / "out", ["dissect", "--model", GEN, "--segmenter", SEG, "-l", "layer1", "--samples", "8",
                                   "--no-progress", "--no-report"]
    with output_directory(out):
        writing = out / f".results.json.x{TEMP_SUFFIX}"  # the holder's write in progress
        writing.write_text("{")
        one_line_error(ganscope(*args, "--out", str(out)), f"another ganscope run is writing to {out}")
        assert writing.exists() and not (out / "results.json").exists()
    assert ganscope(*args, "--out", str(out)).exit_code == 0
    assert (out / "results.json").exists() and not writing.exists()


def test_results_and_checkpoints_reach_the_disk_before_and_after_their_rename(tmp_path: Path,
                                                                              monkeypatch: pytest.MonkeyPatch):
    """So that a power loss leaves the old file or the new one; rebuildable report files skip the cost."""
    events: list[tuple[str, str]] = []
    fsync, replace = os.fsync, os.replace
    monkeypatch.setattr(os, "fsync", lambda fd: (events.append(("fsync", os.readlink(f"/proc/self/fd/{fd}"))),
                                                 fsync(fd)))
    monkeypatch.setattr(os, "replace", lambda a, b: (events.append(("rename", str(b))), replace(a, b)))
    directory = str(tmp_path.resolve())
    for name, write in [("results.json", lambda p: write_json(p, {"a": 1})),
                        ("tallies.ckpt", lambda p: save_state(p, {"x": torch.zeros(2)})),
                        ("tables.safetensors", lambda p: save_weights(p, {"x": torch.zeros(2)}))]:
        events.clear()
        write(tmp_path / name)
        (kind, tmp), rename, synced_dir = events
        assert kind == "fsync" and Path(tmp).name.startswith(f".{name}.") and tmp.endswith(TEMP_SUFFIX), events
        assert rename == ("rename", str(tmp_path / name)) and synced_dir == ("fsync", directory), events
    events.clear()
    write_bytes(tmp_path / "strip.png", b"png")
    assert events == [("rename", str(tmp_path / "strip.png"))]
