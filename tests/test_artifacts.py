"""Artifact units: FID against SciPy, KID blocks, discriminator scores, Inception layout, ranking, ablation, CLI."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy import linalg
from typer.testing import CliRunner

import artifact_world
from dissecting import dissect
from ganscope.artifacts import Scorer, ablation_quality, discriminator_scores, rank_units
from ganscope.artifacts.features import DEMO_LABEL, inception_weights, load_features
from ganscope.artifacts.inception import FidInception
from ganscope.cli import app
from ganscope.errors import GanscopeError
from ganscope.metrics import fid, kid, kid_blocks
from ganscope.models.demo import DemoDiscriminator
from ganscope.results import Results
from ganscope.session import Session

SPECS = ["--model", "artifact_world:make_generator", "--reference", "artifact_world:make_reference",
         "--features", "artifact_world:make_features"]


def fid_reference(x: np.ndarray, y: np.ndarray) -> float:
    """The pytorch-fid formula with scipy.linalg.sqrtm."""
    mu1, mu2 = x.mean(0), y.mean(0)
    s1, s2 = np.cov(x, rowvar=False), np.cov(y, rowvar=False)
    root = linalg.sqrtm(s1 @ s2).real
    return float((mu1 - mu2) @ (mu1 - mu2) + np.trace(s1) + np.trace(s2) - 2 * np.trace(root))


@pytest.mark.parametrize("n, d", [(40, 5), (30, 8)])
def test_fid_matches_scipy(n: int, d: int):
    rng = np.random.default_rng(n)
    mix = rng.normal(size=(d, d))
    x, y = rng.normal(size=(n, d)) @ mix, rng.normal(0.5, 1.5, size=(n + 7, d))
    assert fid(torch.from_numpy(x), torch.from_numpy(y)) == pytest.approx(fid_reference(x, y), rel=1e-7)


def test_fid_of_a_set_with_itself_is_zero_and_grows_with_a_shift():
    x = torch.randn(200, 6, generator=torch.Generator().manual_seed(0))
    assert abs(fid(x, x)) < 1e-8
    assert fid(x, x + 2) == pytest.approx(4 * 6, rel=1e-6)  # a shift only moves the mean
    with pytest.raises(ValueError):
        fid(x[:1], x)


def test_kid_blocks_are_kid_of_disjoint_blocks():
    g = torch.Generator().manual_seed(1)
    x, y = torch.randn(23, 4, generator=g), torch.randn(31, 4, generator=g)
    blocks = kid_blocks(x, y, 3)
    assert blocks.tolist() == pytest.approx([kid(x[b * 7 : b * 7 + 7], y[b * 10 : b * 10 + 10]) for b in range(3)])
    with pytest.raises(ValueError):
        kid_blocks(x, y, 20)


def test_discriminator_score_does_not_depend_on_batch_mates():
    torch.manual_seed(0)
    disc = DemoDiscriminator(channels=(8, 8, 8, 8, 8)).eval()
    images, anchors = torch.rand(5, 3, 64, 64) * 2 - 1, torch.rand(3, 3, 64, 64) * 2 - 1
    together = discriminator_scores(disc, images, anchors)
    alone = torch.cat([discriminator_scores(disc, images[i : i + 1], anchors) for i in range(5)])
    torch.testing.assert_close(together, alone, rtol=1e-4, atol=1e-5)


def test_inception_has_the_pt_inception_layout():
    net = FidInception()
    assert sum(p.numel() for p in net.parameters()) == 23_850_960  # torchvision inception_v3: no aux, 1008 classes
    assert net.eval()(torch.zeros(1, 3, 32, 32)).shape == (1, 2048)


def test_features_fall_back_to_the_demo_extractor_and_never_download(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("GANSCOPE_CACHE", str(tmp_path / "cache"))
    assert inception_weights() is None
    assert load_features("auto").label == DEMO_LABEL
    with pytest.raises(GanscopeError, match="not in the cache"):
        load_features("inception")
    path = tmp_path / "pt_inception.pth"
    torch.save(FidInception().state_dict(), path)
    assert load_features(f"inception:{path}").label.startswith("inception (pt_inception")
    torch.save({"fc.weight": torch.zeros(1008, 2048)}, path)
    with pytest.raises(GanscopeError, match="not a pt_inception state dict"):
        load_features(f"inception:{path}")


@pytest.fixture(scope="module")
def artifact_results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("artifact-dissection")
    results = dissect(artifact_world.make_generator(), artifact_world.synthetic.make_segmenter(), ["layer1"],
                      samples=64, seed=0, batch_size=16, progress=False, model_name="artifact_world:make_generator",
                      segmenter_name="synthetic:make_segmenter")
    results.save(out)
    return out


@pytest.fixture(scope="module")
def scorer() -> Scorer:
    features = load_features("artifact_world:make_features")
    return Scorer(features, artifact_world.clean_world, "clean", 80, seed=1, size=32)


def test_the_artifact_unit_ranks_first_and_ablating_it_helps(artifact_results: Path, scorer: Scorer):
    cut = Session(artifact_world.make_generator(), batch_size=16).at("layer1")
    ranking = rank_units(cut, Results.load(artifact_results), scorer)
    assert ranking.ranked(1) == [artifact_world.ARTIFACT]
    assert ranking.units[0].kid > 3 * max(abs(u.kid) for u in ranking.units[1:])
    assert ranking.units[0].kid > ranking.random_kid[1] > ranking.random_kid[0]  # above chance
    quality = ablation_quality(cut, {"artifact": [artifact_world.ARTIFACT], "alpha": [0]}, scorer, blocks=4,
                               bootstrap=20, samples=80, start=64)
    fixed, broken = quality.sets
    assert fixed.kid_change.ci[1] < 0 < broken.kid_change.ci[0]  # both intervals exclude 0, in opposite directions
    assert fixed.fid < quality.fid < broken.fid
    assert fixed.fid_change.ci[1] < 0
    assert quality.discriminator is None


def test_cli_end_to_end(artifact_results: Path, tmp_path: Path):
    out = tmp_path / "art"
    result = CliRunner().invoke(app, ["artifacts", *SPECS, "--results", str(artifact_results), "--layer", "layer1",
                                      "--top", "3", "--sizes", "1,2", "--samples", "40", "--reference-samples", "40",
                                      "--blocks", "4", "--bootstrap", "10", "--device", "cpu", "--out", str(out)])
    assert result.exit_code == 0, result.output
    data = json.loads((out / "artifacts.json").read_text())
    assert data["features"] == "artifact_world:make_features" and data["reference"] == "artifact_world:make_reference"
    assert data["ranking"]["units"][0]["unit"] == artifact_world.ARTIFACT
    names = [s["name"] for s in data["quality"]["sets"]]
    assert names == ["top 1", "top 2", "random 1", "random 2"]
    assert data["quality"]["sets"][0]["units"] == [artifact_world.ARTIFACT]
    assert (out / "artifacts.png").stat().st_size > 0 and (out / "candidates.png").stat().st_size > 0
    assert "features: artifact_world:make_features" in " ".join(result.output.split())


def test_cli_ablates_marked_units(artifact_results: Path, tmp_path: Path):
    result = CliRunner().invoke(app, ["artifacts", *SPECS, "--results", str(artifact_results), "--layer", "layer1",
                                      "--mark", "6,0", "--samples", "40", "--reference-samples", "40", "--blocks", "4",
                                      "--bootstrap", "5", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    sets = json.loads((tmp_path / "artifacts.json").read_text())["quality"]["sets"]
    assert [(s["name"], len(s["units"])) for s in sets] == [("marked", 2), ("random 2 (vs marked)", 2)]
    assert sets[0]["units"] == [6, 0]


def test_units_marked_in_the_browser_are_ablated_by_the_cli(artifact_results: Path, tmp_path: Path):
    """Mark through the server's API, then `ganscope artifacts --marked` ablates exactly those units."""
    from fastapi.testclient import TestClient

    from ganscope.server import create_app

    directory = Path(shutil.copytree(artifact_results, tmp_path / "results"))
    args = ["artifacts", *SPECS, "--results", str(directory), "--layer", "layer1", "--marked", "--samples", "40",
            "--reference-samples", "40", "--blocks", "4", "--bootstrap", "5", "--out", str(tmp_path / "out")]
    none = CliRunner().invoke(app, args)
    assert none.exit_code == 2 and "no units of layer1 are marked" in none.output, none.output
    assert "--mark UNITS" in none.output and not (tmp_path / "out").exists()
    server = create_app(Session(artifact_world.make_generator(), artifact_world.synthetic.make_segmenter()),
                        Results.load(directory), layer="layer1", directory=directory)
    with TestClient(server) as http:
        for unit in (artifact_world.ARTIFACT, 0, 1):
            assert http.put(f"/api/layers/layer1/units/{unit}/mark").status_code == 200
        assert http.delete("/api/layers/layer1/units/1/mark").json()["units"] == [0, artifact_world.ARTIFACT]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    sets = json.loads((tmp_path / "out" / "artifacts.json").read_text())["quality"]["sets"]
    assert [(s["name"], s["units"]) for s in sets][0] == ("marked", [0, artifact_world.ARTIFACT])
    assert [s["name"] for s in sets] == ["marked", "random 2 (vs marked)"]
    both = CliRunner().invoke(app, [*args, "--mark", "2"])
    assert both.exit_code == 2 and "not both" in both.output


@pytest.mark.parametrize("extra, message", [
    (["--layer", "layer9"], "was not dissected"),
    (["--layer", "layer1", "--mark", "3,99"], "out of range"),
    (["--layer", "layer1", "--mark", "a"], "comma-separated integers"),
    (["--layer", "layer1", "--score", "discriminator"], "needs a discriminator"),
    (["--layer", "layer1", "--samples", "6"], "KID blocks"),
    (["--layer", "layer1", "--top", "0"], "--top must be"),
])
def test_cli_bad_input(artifact_results: Path, tmp_path: Path, extra: list[str], message: str):
    result = CliRunner().invoke(app, ["artifacts", *SPECS, "--results", str(artifact_results), "--reference-samples",
                                      "40", "--out", str(tmp_path), *extra])
    assert result.exit_code == 2 and message in result.output, result.output


def test_cli_needs_results_and_a_reference(tmp_path: Path):
    runner = CliRunner()
    missing = runner.invoke(app, ["artifacts", *SPECS, "--results", str(tmp_path / "none"), "--layer", "layer1",
                                  "--out", str(tmp_path)])
    assert missing.exit_code == 2 and "no results.json" in missing.output
    no_reference = runner.invoke(app, ["artifacts", "--model", "artifact_world:make_generator", "--results",
                                       str(tmp_path), "--layer", "layer1", "--out", str(tmp_path)])
    assert no_reference.exit_code == 2 and "give --reference" in no_reference.output


def test_report_shows_the_candidates(artifact_results: Path, tmp_path: Path):
    from ganscope.report import build_report

    directory = tmp_path / "dissection"
    shutil.copytree(artifact_results, directory)
    assert "Artifact candidates" not in build_report(directory).read_text()
    result = CliRunner().invoke(app, ["artifacts", *SPECS, "--results", str(directory), "--layer", "layer1",
                                      "--top", "2", "--samples", "0", "--reference-samples", "20"])
    assert result.exit_code == 0, result.output
    page = build_report(directory).read_text()
    assert "Artifact candidates" in page and "features: <b>artifact_world:make_features</b>" in page
    assert 'src="candidates.png"' in page and page.count("#unit=") >= 2
