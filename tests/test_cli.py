"""The ganscope command as a user runs it (in process, through typer's runner): dissect end to end and every
bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import Result
from typer.testing import CliRunner

from ganscope.cli import app

GEN, SEG = "synthetic:make_generator", "synthetic:make_segmenter"


def ganscope(*args: str) -> Result:
    return CliRunner().invoke(app, list(args), env={"COLUMNS": "200"})


def dissect_args(out: Path, *extra: str) -> list[str]:
    return ["dissect", "--model", GEN, "--segmenter", SEG, "-l", "layer1", "--samples", "12",
            "--batch-size", "4", "--out", str(out), "--no-progress", "--no-report", *extra]


def test_dissect_writes_results_and_samples(tmp_path: Path):
    run = ganscope(*dissect_args(tmp_path, "-l", "layer2", "--threshold", "iqr"))
    assert run.exit_code == 0, run.output
    data = json.loads((tmp_path / "results.json").read_text())
    assert data["threshold_rule"] == "iqr" and data["samples"] == 12 and list(data["layers"]) == ["layer1", "layer2"]
    assert data["layers"]["layer1"]["units"][0]["label"] == "alpha"
    tops = {i for u in data["layers"]["layer1"]["units"] for i in u["top_samples"]}
    assert all((tmp_path / "samples" / f"{i}.png").is_file() for i in tops)
    assert "interpretable units" in run.stdout
    again = ganscope(*dissect_args(tmp_path, "-l", "layer2", "--threshold", "iqr"))  # resumes: nothing left to do
    assert again.exit_code == 0 and json.loads((tmp_path / "results.json").read_text())["layers"] == data["layers"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-l", "layer_1"], "unknown layer 'layer_1'; did you mean layer1"),
        (["--samples", "0"], "--samples must be in 1..2147483647"),
        (["--tail-factor", "0.5"], "--tail-factor must be >= 1"),
        (["--model", "badmodels:wrong_latent_generator"], "generator failed on latents of shape"),
        (["--model", "badmodels:nan_layer_generator"], "NaN or Inf in activations of layer 'layer1' for sample 0"),
        (["--segmenter", "badmodels:float_segmenter"], "expected integer labels"),
        (["--segmenter", "badmodels:flat_segmenter"], "expected a LongTensor of shape (B, H, W)"),
        (["--model", "nosuchmodule:thing"], "'nosuchmodule' is neither a registered name"),
        (["--model", "nosuchmodel"], "unknown generator 'nosuchmodel'"),
    ],
)
def test_bad_input_is_one_line_exit_2(tmp_path: Path, args: list[str], message: str):
    out = tmp_path / "out"
    run = ganscope(*dissect_args(out), *args)
    assert run.exit_code == 2, run.stderr
    assert message in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1, run.stderr
    assert not (out / "results.json").exists()


def test_unwritable_out_fails_before_work(tmp_path: Path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    run = ganscope(*dissect_args(blocker / "sub"))
    assert run.exit_code == 2 and "cannot write to" in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1


def test_summary_warns_about_units_outside_their_range(small_results: Path, capsys: pytest.CaptureFixture):
    from ganscope.commands.dissect import print_summary
    from ganscope.results import Results

    results = Results.load(small_results)
    results.layers["layer1"].tail_warnings = [0, 2]
    print_summary(results)
    err = capsys.readouterr().err
    assert "2 units of layer1 have thresholds outside their tallied range" in err and "--tail-factor" in err


def test_help_texts_keep_their_square_brackets():
    """Rich markup swallows [words] in help texts unless escaped: every help shows what it was written with."""
    import re

    import typer

    group = typer.main.get_command(app)
    for name, command in group.commands.items():
        shown = " ".join(CliRunner().invoke(app, [name, "--help"], env={"COLUMNS": "1000"}).output.split())
        for param in command.params:
            for bracketed in re.findall(r"\w*\\?\[[^\]\s]+\]", getattr(param, "help", None) or ""):
                assert bracketed.replace("\\[", "[") in shown, (name, param.name, bracketed)
