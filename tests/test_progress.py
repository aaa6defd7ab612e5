"""The one progress display: callbacks, and plain log lines when stderr is not a terminal."""

from __future__ import annotations

import pytest

from ganscope import progress
from ganscope.progress import progress_bar


def test_callback_gets_done_and_total():
    seen = []
    with progress_bar(lambda done, total: seen.append((done, total)), "work", 3) as update:
        for i in range(1, 4):
            update(i, info="x")
    assert seen == [(1, 3), (2, 3), (3, 3)]


def test_a_log_file_gets_the_first_and_last_line_and_one_per_interval(capsys: pytest.CaptureFixture[str],
                                                                       monkeypatch: pytest.MonkeyPatch):
    clock = iter([0.0, 1.0, 2.0, 70.0, 71.0, 72.0])
    monkeypatch.setattr(progress.time, "monotonic", lambda: next(clock))
    with progress_bar(True, "generator", 5) as update:
        for i in range(1, 6):
            update(i, info=f"step {i}")
        update(5, info="step 5")  # the same final state again is not a new line
    lines = capsys.readouterr().err.splitlines()
    assert [line.split(" ", 1)[1] for line in lines] == [
        "generator: 1 / 5 step 1", "generator: 4 / 5 step 4", "generator: 5 / 5 step 5"]


def test_false_shows_nothing(capsys: pytest.CaptureFixture[str]):
    with progress_bar(False, "quiet", 2) as update:
        update(2)
    assert capsys.readouterr().err == ""
