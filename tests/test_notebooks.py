"""The tutorial notebooks in examples/ run top to bottom, as a user runs them, and show what they say."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).parents[1] / "examples"


def run_notebook(name: str, tmp_path: Path) -> str:
    """Execute a notebook in a fresh kernel; its printed text (the kernel's own timeout bounds each cell)."""
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    notebook = nbformat.read(EXAMPLES / name, as_version=4)
    assert all(not cell.get("outputs") for cell in notebook.cells if cell.cell_type == "code"), "stored with outputs"
    nbclient.NotebookClient(notebook, timeout=120, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}}).execute()
    text = "\n".join(out.get("text", "") for cell in notebook.cells if cell.cell_type == "code"
                     for out in cell.outputs if out.output_type == "stream")
    images = sum("image/png" in out.get("data", {}) for cell in notebook.cells if cell.cell_type == "code"
                 for out in cell.outputs)
    assert images >= 1, "figures are shown as images"
    return text


def test_walkthrough_removes_the_painted_tree(tmp_path: Path):
    text = run_notebook("01_walkthrough.ipynb", tmp_path)
    left = [float(x) for x in re.search(r"original ([\d.]+), top 4 off ([\d.]+), top 16 off ([\d.]+), "
                                        r"top 128 off ([\d.]+)", text).groups()]
    assert left[0] > 0.5 and left[3] < left[0] / 2  # zeroing the top units removes the masked tree


def test_dissect_notebook_measures_causal_effects(tmp_path: Path):
    text = run_notebook("02_dissect.ipynb", tmp_path)
    ace_value = float(re.search(r"ACE ([-\d.]+) \(95 % CI ([-\d.]+)", text).group(1))
    assert ace_value > 0  # inserting tree units adds tree pixels, ablating them removes some
    removed = dict(re.findall(r"top (\d+): (-?\d+)%", text))
    assert int(removed["32"]) >= 50
    assert "tiles, door appears in" in text and (tmp_path / "dissection" / "results.json").is_file()


def test_real_checkpoint_notebook_runs_the_same_steps(tmp_path: Path):
    """Without downloads it dissects a stand-in ProGAN saved in the real format, through the proggan: spec."""
    text = run_notebook("03_real_checkpoint.ipynb", tmp_path)
    assert re.search(r"model proggan:\S+, segmenter (demo|segformer:\S+)", text)
    assert re.search(r"inside the mask: original [\d.]+, top 4 off [\d.]+, top 16 off [\d.]+, top 128 off", text)
