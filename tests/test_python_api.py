"""The library as a notebook user meets it: docs/python.md's script, run as it stands, with no CLI."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

DOC = Path(__file__).parents[1] / "docs" / "python.md"


def test_the_documented_script_dissects_reports_and_ablates(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                          capsys: pytest.CaptureFixture[str]):
    script = re.search(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S).group(1)
    assert len(script.strip().splitlines()) <= 14
    monkeypatch.chdir(tmp_path)
    exec(compile(script, str(DOC), "exec"), {})  # noqa: S102 (our own documentation)
    out = tmp_path / "out" / "python"
    assert (out / "results.json").is_file() and (out / "index.html").is_file()
    samples = sorted((out / "samples").glob("*.png"))
    assert samples, "the report's top samples were rendered"
    pixels = np.asarray(Image.open(samples[0]))
    assert pixels.std() > 10, "a real sample image, not a grey tile"
    assert Image.open(out / "trees-removed.png").size[1] > 2 * 64
    before, after = map(float, re.search(r"tree pixels: ([\d.]+) -> ([\d.]+)", capsys.readouterr().out).groups())
    assert after < 0.5 * before  # ablating the top tree units removes most tree pixels
