"""The server: API endpoints against the intervene API, OpenAPI validity, the original /api/generate,
bad input (always 4xx), concurrency, the serve command, artifact marks and candidates, and painting and
marking in headless chromium."""

from __future__ import annotations

import base64
import io
import json
import os
import shutil
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
import pytest
import torch
from fastapi.testclient import TestClient
from PIL import Image
from typer.testing import CliRunner

import synthetic
from dissecting import dissect
from ganscope.artifacts.marks import MARKS_FILE, MarkStore
from ganscope.artifacts.rank import RankingResult, UnitScore
from ganscope.artifacts.summary import ARTIFACTS_FILE, ArtifactsResult
from ganscope.cli import app as cli_app
from ganscope.errors import GanscopeError
from ganscope.images import png_bytes, to_uint8
from ganscope.intervene import Intervention, Region, ablate, generate, insertion_values
from ganscope.io import write_json
from ganscope.models import load_generator
from ganscope.results import Results
from ganscope.resume import resumer
from ganscope.sampling import latents
from ganscope.segmenters import load_segmenter
from ganscope.server import create_app
from ganscope.session import Session
from live import running
from test_report import chromium_or_skip

# Screenshots go to a temporary folder; set GANSCOPE_SCREENSHOTS=docs/images to refresh the docs' copies.
SCREENSHOTS = os.environ.get("GANSCOPE_SCREENSHOTS")


@pytest.fixture(scope="module")
def results(small_results: Path) -> Results:
    return Results.load(small_results)


@pytest.fixture(scope="module")
def gen() -> synthetic.SyntheticGenerator:
    return synthetic.make_generator()


@pytest.fixture(scope="module")
def client(gen: synthetic.SyntheticGenerator, results: Results) -> TestClient:
    torch.set_num_threads(1)
    app = create_app(Session(gen, synthetic.make_segmenter()), results, layer="layer1", units=1, max_body=200_000)
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


def decode(url: str) -> np.ndarray:
    assert url.startswith("data:image/png;base64,")
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))).convert("RGB"))


def png_url(array: np.ndarray) -> str:
    return "data:image/png;base64," + base64.b64encode(png_bytes(Image.fromarray(array))).decode()


def z_of(results: Results, *indices: int) -> torch.Tensor:
    return latents(results.seed, list(indices), (16,))


def test_info_layers_concepts_units(client: TestClient, results: Results):
    info = client.get("/api/info").json()
    paint = info["paint"]
    assert (paint["layer"], paint["units"], paint["source"]) == ("layer1", 1, "IoU") and info["image_size"] == [32, 32]
    assert "ganscope paint-sets" in paint["note"]
    assert paint["buttons"]["alpha"]["draw"] == {"layer": "layer1", "units": 1, "source": "IoU"}
    assert [layer["name"] for layer in client.get("/api/layers").json()] == ["layer1", "layer2"]
    concepts = {c["name"]: c for c in client.get("/api/concepts").json()}
    assert set(concepts) == {"alpha", "beta", "gamma", "delta"} and concepts["alpha"]["units"]["layer1"] == [0]
    top = client.get("/api/layers/layer1/units", params={"concept": "gamma", "n": 2}).json()
    assert [u["unit"] for u in top] == results.top_units("layer1", "gamma", 2) and top[0]["label"] == "gamma"
    assert len(client.get("/api/layers/layer2/units").json()) == 8
    unit = client.get("/api/layers/layer1/units/1").json()
    assert unit["label"] == "beta" and unit["top_samples"] == results.layers["layer1"].units[1].top_samples
    strip = client.get(unit["strip"])
    assert strip.status_code == 200 and strip.headers["content-type"] == "image/png"
    assert Image.open(io.BytesIO(strip.content)).width > 32 * 3


def test_openapi_schema_is_valid(client: TestClient):
    from openapi_spec_validator import validate

    schema = client.get("/openapi.json").json()
    validate(schema)
    assert {"/api/intervene", "/api/generate", "/api/info"} <= set(schema["paths"])
    assert "swagger-ui" in client.get("/docs").text


def test_samples_are_the_generators_images(client: TestClient, gen: synthetic.SyntheticGenerator,
                                           results: Results):
    listing = client.get("/api/samples", params={"start": 5, "count": 2}).json()
    assert [s["index"] for s in listing["samples"]] == [5, 6]
    image = client.get(listing["samples"][0]["url"])
    expected = to_uint8(gen(z_of(results, 5))[0])
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(image.content)).convert("RGB")), expected)


def test_paint_strokes_match_the_intervene_api(client: TestClient, gen: synthetic.SyntheticGenerator,
                                               results: Results):
    """A stroke inside feature cells (row 1, columns 1-2 of 8 x 8) edits exactly those cells."""
    stroke = {"points": [[5, 5], [10, 5]], "radius": 1}
    box = Region.box(4, 4, 12, 8, (32, 32))
    labels = synthetic.make_segmenter().segment(gen(z_of(results, *range(50))))
    index = int((labels[:, 4:8, 4:12] == 1).flatten(1).any(1).nonzero()[0])  # alpha (label 1) under the stroke
    z = z_of(results, index)
    removed = client.post("/api/intervene", json={"index": index, "edits": [
        {"mode": "remove", "concept": "alpha", "strokes": [stroke]}]}).json()
    expected = ablate(Session(gen, seed=results.seed).at("layer1"), [0], region=box, samples=1, start=index).edited
    assert np.array_equal(decode(removed["image"]), to_uint8(expected[0]))
    assert not np.array_equal(decode(removed["image"]), to_uint8(gen(z)[0]))
    both = client.post("/api/intervene", json={"index": index, "edits": [
        {"mode": "remove", "concept": "alpha", "strokes": [stroke]},
        {"mode": "draw", "units": [1], "strokes": [stroke]}]}).json()
    values = insertion_values(results, "layer1", [1])
    resume = resumer(gen, "layer1")
    prefix = resume.prepare(z)
    acts = Intervention("layer1", [1], values, box)(Intervention("layer1", [0], None, box)(prefix.acts))
    assert np.array_equal(decode(both["image"]), to_uint8(resume.finish(prefix, acts)[0]))


def test_generate_matches_the_original_format(client: TestClient, gen: synthetic.SyntheticGenerator,
                                              results: Results):
    """Bitstrings and PNG masks, max-pooled from any size; ids and zs; alpha/value blending."""
    z = z_of(results, 3, 4)
    left = Region.box(0, 0, 16, 32, (32, 32))
    expected = to_uint8(ablate(Session(gen, seed=results.seed).at("layer1"), [0, 1, 2, 3], region=left, samples=2,
                                start=3).edited)
    ablations = [{"layer": "layer1", "unit": u, "alpha": 1, "value": 0} for u in range(4)]
    bits = "".join("1" * 4 + "0" * 4 for _ in range(8))  # 8 x 8, left half
    alpha = np.zeros((16, 16, 4), np.uint8)
    alpha[:, :8, 3] = 255
    masks = [{"bitstring": bits, "shape": [8, 8]}, {"bitstring": "1" * 32, "shape": [8, 8], "bitbounds": [0, 0, 8, 4]},
             {"bitstring": png_url(alpha)}]
    for mask in masks:
        body = {"project": "demo", "ids": [3, 4], "interventions": [{"ablations": ablations, "mask": mask}]}
        answer = client.post("/api/generate", json=body).json()
        assert [r["id"] for r in answer["res"]] == [3, 4] and answer["request"]["ids"] == [3, 4]
        assert all(np.array_equal(decode(r["d"]), e) for r, e in zip(answer["res"], expected))
    by_z = client.post("/api/generate", json={"zs": z.tolist(), "interventions": [
        {"ablations": [{"layer": "layer1", "unit": 0, "alpha": 0.5, "value": 1.0}]}]}).json()
    blended = generate(Session(gen, seed=results.seed).at("layer1"), Intervention("layer1", [0], 1.0, None, 0.5),
                       samples=2, start=3).edited
    assert all(np.array_equal(decode(r["d"]), to_uint8(e)) for r, e in zip(by_z["res"], blended))
    assert by_z["res"][0]["id"] is None


BAD_INPUT = [
    ("malformed JSON", "/api/intervene", b'{"index": 1,', 422, "JSON"),
    ("not an object", "/api/generate", b"[1, 2]", 422, "object"),
    ("unknown field", "/api/intervene", {"index": 0, "edits": [], "colour": 1}, 422, "colour"),
    ("unknown paint layer", "/api/intervene",
     {"index": 0, "edits": [{"mode": "draw", "concept": "alpha", "layer": "layer9"}]}, 400, "layer1, layer2"),
    ("unknown concept", "/api/intervene", {"index": 0, "edits": [{"mode": "draw", "concept": "tree"}]}, 400, "alpha"),
    ("unit out of range", "/api/intervene", {"index": 0, "edits": [{"mode": "remove", "units": [99]}]}, 400,
     "out of range"),
    ("no unit source", "/api/intervene", {"index": 0, "edits": [{"mode": "remove"}]}, 422, "concept or units"),
    ("stroke outside", "/api/intervene",
     {"index": 0, "edits": [{"mode": "remove", "units": [0], "strokes": [{"points": [[900, 900]], "radius": 1}]}]},
     400, "outside"),
    ("negative index", "/api/intervene", {"index": -1}, 422, "index"),
    ("ids and zs", "/api/generate", {"ids": [1], "zs": [[0.0] * 16]}, 422, "either ids or zs"),
    ("short z", "/api/generate", {"zs": [[0.0] * 3]}, 400, "16 numbers"),
    ("too many images", "/api/generate", {"ids": list(range(40))}, 422, "ids"),
    ("unknown generator layer", "/api/generate", {"ids": [0], "interventions": [
        {"ablations": [{"layer": "layer7", "unit": 0}]}]}, 400, "unknown layer"),
    ("legacy unit out of range", "/api/generate", {"ids": [0], "interventions": [
        {"ablations": [{"layer": "layer1", "unit": 6}]}]}, 400, "out of range"),
    ("bitstring of the wrong size", "/api/generate", {"ids": [0], "interventions": [
        {"ablations": [{"layer": "layer1", "unit": 0}], "mask": {"bitstring": "0101", "shape": [8, 8]}}]}, 400,
     "bitstring has 4 bits"),
    ("bitbounds outside", "/api/generate", {"ids": [0], "interventions": [
        {"ablations": [{"layer": "layer1", "unit": 0}], "mask": {"bitstring": "1", "shape": [4, 4],
                                                                 "bitbounds": [0, 0, 9, 9]}}]}, 400, "bitbounds"),
    ("gigantic mask shape", "/api/generate", {"ids": [0], "interventions": [
        {"ablations": [{"layer": "layer1", "unit": 0}], "mask": {"bitstring": "1", "shape": [10**9, 10**9],
                                                                 "bitbounds": [0, 0, 1, 1]}}]}, 413,
     "mask pixels is 1,000,000,000,000,000,000, over the server's limit"),
    ("broken PNG", "/api/generate", {"ids": [0], "interventions": [
        {"ablations": [{"layer": "layer1", "unit": 0}], "mask": {"bitstring": "data:image/png;base64,AAAA"}}]}, 400,
     "PNG"),
    ("NaN in a stroke", "/api/intervene", b'{"index": 0, "edits": [{"mode": "remove", "units": [0], '
     b'"strokes": [{"points": [[NaN, 1]], "radius": 1}]}]}', 422, "finite"),
    ("negative seed", "/api/intervene", {"index": 0, "seed": -1}, 422, "seed"),
    ("gigantic payload", "/api/generate", {"ids": [0], "pad": "x" * 300_000}, 413, "larger than"),
]


@pytest.mark.parametrize(("path", "body", "status", "message"), [b[1:] for b in BAD_INPUT],
                         ids=[b[0] for b in BAD_INPUT])
def test_bad_input_is_a_clear_4xx(client: TestClient, path: str, body: object, status: int, message: str):
    if isinstance(body, bytes):
        answer = client.post(path, content=body, headers={"content-type": "application/json"})
    else:
        answer = client.post(path, json=body)
    assert answer.status_code == status, answer.text
    assert message in answer.json()["detail"]
    assert client.get("/api/info").status_code == 200  # still serving


@pytest.mark.parametrize("path", ["/api/layers/layer9/units", "/api/layers/layer1/units/6",
                                  "/api/layers/layer1/units/-1/strip.png", "/static/..%2F..%2Fapp.py",
                                  "/static/%2e%2e/%2e%2e/results.py", "/static/../edits.py", "/static//etc/passwd"])
def test_unknown_paths_and_traversal_are_404(client: TestClient, path: str):
    answer = client.get(path)
    assert answer.status_code == 404 and "def " not in answer.text and "root:" not in answer.text


def test_bad_query_parameters_are_422(client: TestClient):
    for path in ["/api/samples/0.png?seed=-1", "/api/samples?count=100000", "/api/layers/layer1/units?n=-2"]:
        answer = client.get(path)
        assert answer.status_code == 422 and answer.json()["detail"]


def test_streamed_body_over_the_cap_is_413(client: TestClient):
    chunks = (b" " * 50_000 for _ in range(10))  # no Content-Length: chunked upload
    answer = client.post("/api/generate", content=chunks, headers={"content-type": "application/json"})
    assert answer.status_code == 413


def test_pages_and_static_assets(client: TestClient):
    for path, text in [("/", "paint.js"), ("/browse", "browse.js"), ("/static/paint.js", "pointerdown"),
                       ("/static/style.css", "touch-action")]:
        answer = client.get(path)
        assert answer.status_code == 200 and text in answer.text


def test_requests_are_served_while_the_model_is_busy(gen: synthetic.SyntheticGenerator, results: Results):
    """Hold the model lock: info and static pages still answer; the image follows once it is released."""
    app = create_app(Session(gen, synthetic.make_segmenter()), results, layer="layer1")
    service = app.state.service
    with running(app) as url, httpx.Client(base_url=url, timeout=20) as http:
        answers: list[httpx.Response] = []
        with service._lock:
            worker = threading.Thread(target=lambda: answers.append(http.post("/api/intervene", json={"index": 1})))
            worker.start()
            time.sleep(0.2)
            started = time.perf_counter()
            assert http.get("/api/info").status_code == 200 and http.get("/").status_code == 200
            assert time.perf_counter() - started < 2 and not answers
        worker.join(20)
        assert answers and answers[0].status_code == 200


def test_serve_command_warns_when_exposed(small_results: Path, monkeypatch: pytest.MonkeyPatch):
    import uvicorn

    calls: list[dict] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: calls.append(kw))
    args = ["serve", "--model", "synthetic:make_generator", "--segmenter", "synthetic:make_segmenter",
            "--results", str(small_results), "--layer", "layer1", "--device", "cpu"]
    local = CliRunner().invoke(cli_app, args)
    exposed = CliRunner().invoke(cli_app, [*args, "--host", "0.0.0.0", "--port", "5050"])
    assert local.exit_code == 0 and exposed.exit_code == 0, local.output + exposed.output
    assert calls == [{"host": "127.0.0.1", "port": 5001, "log_level": "warning"},
                     {"host": "0.0.0.0", "port": 5050, "log_level": "warning"}]
    assert "warning" not in local.output and "warning: binding 0.0.0.0" in exposed.output
    missing = CliRunner().invoke(cli_app, ["serve", "--results", str(small_results / "nowhere")])
    assert missing.exit_code == 2 and "results.json" in missing.output


@pytest.fixture
def marks_dir(small_results: Path, tmp_path: Path) -> Path:
    """A writable copy of the small results directory (the session's one is shared by other tests)."""
    return Path(shutil.copytree(small_results, tmp_path / "results"))


def marking_app(gen: synthetic.SyntheticGenerator, results: Results, directory: Path) -> object:
    return create_app(Session(gen, synthetic.make_segmenter()), results, layer="layer1", directory=directory)


def files_under(directory: Path) -> set[Path]:
    return {path for path in directory.rglob("*") if path.is_file()}


def test_marks_are_kept_in_the_results_directory(gen: synthetic.SyntheticGenerator, results: Results,
                                                 marks_dir: Path):
    """Mark, unmark (both idempotent), list; the marks survive a restart; nothing else is written anywhere."""
    before = files_under(marks_dir.parent)
    with TestClient(marking_app(gen, results, marks_dir)) as http:
        assert http.get("/api/info").json()["marking"] is True
        assert http.get("/api/layers/layer1/marked").json() == {"layer": "layer1", "units": []}
        assert http.put("/api/layers/layer1/units/3/mark").json() == {"layer": "layer1", "units": [3]}
        http.put("/api/layers/layer1/units/1/mark")
        assert http.put("/api/layers/layer1/units/3/mark").json()["units"] == [1, 3]
        assert http.put("/api/layers/layer2/units/7/mark").json() == {"layer": "layer2", "units": [7]}
        assert http.delete("/api/layers/layer1/units/3/mark").json()["units"] == [1]
        assert http.delete("/api/layers/layer1/units/5/mark").json()["units"] == [1]
        assert http.get("/api/layers/layer1/marked").json()["units"] == [1]
    assert files_under(marks_dir.parent) - before == {marks_dir / MARKS_FILE}
    assert json.loads((marks_dir / MARKS_FILE).read_text()) == {"layer1": [1], "layer2": [7]}
    with TestClient(marking_app(gen, Results.load(marks_dir), marks_dir)) as http:  # a restarted server
        assert http.get("/api/layers/layer1/marked").json()["units"] == [1]
        assert http.delete("/api/layers/layer2/units/7/mark").json()["units"] == []
    assert MarkStore(marks_dir).load() == {"layer1": [1]}


MARK_BAD_INPUT = [
    ("put", "/api/layers/layer9/units/0/mark", 404, "layer1, layer2"),
    ("put", "/api/layers/layer1/units/6/mark", 404, "out of range"),
    ("delete", "/api/layers/layer1/units/-1/mark", 404, "out of range"),
    ("put", f"/api/layers/layer1/units/{'9' * 30}/mark", 404, "out of range"),
    ("put", "/api/layers/layer1/units/x/mark", 422, "unit"),
    ("put", "/api/layers/layer1/units/1.5/mark", 422, "unit"),
    ("put", "/api/layers/..%2F..%2Fx/units/0/mark", 404, "Not Found"),
    ("put", "/api/layers/..%5C..%5Cx/units/0/mark", 404, "not dissected"),
    ("get", "/api/layers/layer9/marked", 404, "not dissected"),
    ("get", "/api/layers/%2e%2e/candidates", 404, "not dissected"),
]


@pytest.mark.parametrize(("method", "path", "status", "message"), MARK_BAD_INPUT,
                         ids=[f"{m} {p}" for m, p, *_ in MARK_BAD_INPUT])
def test_bad_marks_are_a_clear_4xx_and_write_nothing(gen: synthetic.SyntheticGenerator, results: Results,
                                                      marks_dir: Path, method: str, path: str, status: int,
                                                      message: str):
    before = files_under(marks_dir.parent)
    with TestClient(marking_app(gen, results, marks_dir), raise_server_exceptions=False) as http:
        answer = http.request(method.upper(), path)
        assert answer.status_code == status and message in answer.json()["detail"], answer.text
    assert files_under(marks_dir.parent) == before


def test_marking_needs_the_results_directory(client: TestClient):
    assert client.get("/api/info").json()["marking"] is False
    answer = client.put("/api/layers/layer1/units/0/mark")
    assert answer.status_code == 409 and "without its results directory" in answer.json()["detail"]
    assert client.get("/api/layers/layer1/candidates").json()["units"] == []


@pytest.mark.parametrize(("text", "message"), [
    ("{", "not valid JSON"), ("[1, 2]", "expected a JSON object"), ('{"layer1": [1, -2]}', "unit numbers >= 0"),
    ('{"layer1": "3"}', "unit numbers"), ('{"layer1": [true]}', "unit numbers"), ('{"layer1": [1.0]}', "unit numbers"),
])
def test_a_corrupt_marks_file_is_a_clear_error(gen: synthetic.SyntheticGenerator, results: Results,
                                               marks_dir: Path, text: str, message: str):
    """At start (create_app, `ganscope serve`: exit 2) and while serving (409); the file is never overwritten."""
    path = marks_dir / MARKS_FILE
    path.write_text(text)
    with pytest.raises(GanscopeError, match=f"{MARKS_FILE} is not a valid marks file: .*{message}"):
        marking_app(gen, results, marks_dir)
    served = CliRunner().invoke(cli_app, ["serve", "--model", "synthetic:make_generator", "--segmenter",
                                          "synthetic:make_segmenter", "--results", str(marks_dir), "--layer",
                                          "layer1", "--device", "cpu"])
    assert served.exit_code == 2 and "not a valid marks file" in served.output, served.output
    path.write_text('{"layer1": [2]}')
    with TestClient(marking_app(gen, results, marks_dir), raise_server_exceptions=False) as http:
        path.write_text(text)  # broken behind the running server's back
        for answer in (http.put("/api/layers/layer1/units/0/mark"), http.get("/api/layers/layer1/marked")):
            assert answer.status_code == 409 and "delete it to start over" in answer.json()["detail"], answer.text
    assert path.read_text() == text


def test_concurrent_marks_are_all_kept(gen: synthetic.SyntheticGenerator, results: Results, marks_dir: Path):
    """14 marks at once through a real server (worker threads): none is lost to a read-modify-write race."""
    wanted = [("layer1", u) for u in range(6)] + [("layer2", u) for u in range(8)]
    with running(marking_app(gen, results, marks_dir)) as url, httpx.Client(base_url=url, timeout=20) as http:
        with ThreadPoolExecutor(len(wanted)) as pool:
            answers = list(pool.map(lambda lu: http.put(f"/api/layers/{lu[0]}/units/{lu[1]}/mark"), wanted))
        assert all(a.status_code == 200 for a in answers)
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(lambda u: http.delete(f"/api/layers/layer2/units/{u}/mark"), range(0, 8, 2)))
        assert http.get("/api/layers/layer1/marked").json()["units"] == list(range(6))
    assert MarkStore(marks_dir).load() == {"layer1": list(range(6)), "layer2": [1, 3, 5, 7]}


def ranking_json(layer: str, units: list[int], top: int) -> dict:
    """artifacts.json as `ganscope artifacts` writes it, for a ranking worst first in ``units`` order."""
    scores = [UnitScore(unit=u, kid=0.5 - 0.01 * k, discriminator=-float(k), label="alpha", iou=0.1, samples=[0, 1])
              for k, u in enumerate(units)]
    ranking = RankingResult(layer=layer, score="kid", seed=0, top_samples=2, baseline_kid=0.01,
                            baseline_discriminator=0.0, random_kid=[0.01, 0.02], units=scores)
    return ArtifactsResult(model="demo", results="results", dissection_samples=64, features="demo segmenter",
                           reference="demo", reference_samples=80, reference_seed=1, discriminator=True,
                           reference_discriminator=0.5, top=top, ranking=ranking, quality=None).model_dump(mode="json")


def test_candidates_come_from_the_artifact_ranking(gen: synthetic.SyntheticGenerator, results: Results,
                                                   marks_dir: Path):
    write_json(marks_dir / ARTIFACTS_FILE, ranking_json("layer1", [4, 0, 5, 1, 2, 3], 2))
    with TestClient(marking_app(gen, results, marks_dir)) as http:
        answer = http.get("/api/layers/layer1/candidates").json()
        assert (answer["score"], answer["features"], answer["top"]) == ("kid", "demo segmenter", 2)
        assert [(c["unit"], c["rank"]) for c in answer["units"]] == [(4, 1), (0, 2), (5, 3), (1, 4), (2, 5), (3, 6)]
        assert answer["units"][1]["kid"] == pytest.approx(0.49) and answer["units"][1]["discriminator"] == -1
        assert http.get("/api/layers/layer2/candidates").json() == {"layer": "layer2", "score": None,
                                                                   "features": None, "top": 0, "units": []}
        (marks_dir / ARTIFACTS_FILE).write_text('{"ranking": {"layer": "layer1", "units": [{"unit": "x"}]}}')
        assert http.get("/api/layers/layer1/candidates").json()["units"] == []  # unreadable: no candidates


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[torch.nn.Module, Results, Path]:
    """The demo generator, dissected on 64 samples at layer4 and layer6 (painting edits layer6)."""
    torch.set_num_threads(1)
    gen, seg = load_generator("demo"), load_segmenter("demo")
    res = dissect(gen, seg, ["layer4", "layer6"], samples=64, seed=0, batch_size=16, progress=False,
                  model_name="demo", segmenter_name="demo")
    directory = tmp_path_factory.mktemp("demo-dissection")
    res.save(directory)
    return gen, res, directory


@pytest.mark.slow
def test_paint_in_headless_chromium(demo: tuple[torch.nn.Module, Results, Path], tmp_path: Path):
    """Pick a sample, remove trees with one stroke and draw doors with another; the image changes inside
    each stroke and nowhere far from it. In the unit browser, mark a unit as an artifact (kept in the results
    directory) and list the artifact candidates. Screenshots go to $GANSCOPE_SCREENSHOTS or a temporary folder."""
    shots = Path(SCREENSHOTS) if SCREENSHOTS else tmp_path
    chromium_or_skip()
    from browser import chromium_page, drag

    gen, res, results_dir = demo
    directory = Path(shutil.copytree(results_dir, tmp_path / "results"))
    worst = [7, 3, 11]
    write_json(directory / ARTIFACTS_FILE, ranking_json("layer6", worst + [u for u in range(len(
        res.layers["layer6"].units)) if u not in worst], 2))
    seg = load_segmenter("demo")
    images = gen(latents(res.seed, range(12), gen.latent_shape))
    trees = seg.segment(images) == res.concept_names.index("tree")
    index = int(trees.flatten(1).sum(1).argmax())
    rows = trees[index].any(1).nonzero().flatten()
    tree_row = int(rows[len(rows) // 2])
    cols = trees[index, tree_row].nonzero().flatten()
    tree_x = (int(cols.min()), int(cols.max()))
    door_row = 8 if tree_row > 32 else 56  # far from the tree stroke
    errors: list[str] = []
    app = create_app(Session(gen, seg), res, directory=directory)
    with running(app) as url, chromium_page(errors, width=1200, height=820) as page:
        page.goto(url + "/", wait_until="networkidle")
        rendering = "getComputedStyle(document.getElementById('picture')).imageRendering"
        assert page.evaluate(rendering) == "auto"  # smoothly upscaled, as in GANPaint
        page.check("#raw-pixels")
        assert page.evaluate(rendering) == "pixelated"
        page.reload(wait_until="networkidle")  # the choice is kept
        assert page.is_checked("#raw-pixels") and page.evaluate(rendering) == "pixelated"
        page.uncheck("#raw-pixels")
        page.click(f"#samples img[data-index='{index}']")
        page.wait_for_function(f"document.getElementById('picture').src.endsWith('/{index}.png')")
        page.wait_for_function("document.getElementById('picture').complete")
        original = fetch_picture(page)
        strokes = [("remove", "tree", tree_row, tree_x), ("draw", "door", door_row, (20, 44))]
        changed = []
        for mode, concept, row, (x0, x1) in strokes:
            page.check(f"input[name=mode][value={mode}]")
            page.click(f"#palette button[data-concept={concept}]")
            version = page.get_attribute("#picture", "data-version")
            drag(page, "#overlay", row, x0, x1, res.image_size[1])
            page.wait_for_function(f"document.getElementById('picture').dataset.version !== '{version}'")
            page.wait_for_function("document.getElementById('picture').src.startsWith('data:')")
            now = fetch_picture(page)
            changed.append((np.abs(now.astype(int) - original.astype(int)).sum(-1), row, x0, x1))
            original = now
        page.screenshot(path=shots / "server-paint.png")
        page.goto(url + "/browse", wait_until="networkidle")
        page.select_option("select[name=concept]", "tree")
        top = res.top_units("layer6", "tree", 1)[0]
        page.wait_for_selector(f"#units label.unit:first-child[data-unit='{top}']")
        page.click("#all-off")
        page.wait_for_function("document.getElementById('status').textContent === '20 unit(s) off'")
        page.wait_for_function("[...document.images].every(image => image.complete)")
        page.screenshot(path=shots / "server-browse.png", full_page=True)
        toggle = f"#units label.unit[data-unit='{top}'] button.mark"
        assert page.get_attribute(toggle, "aria-pressed") == "false"
        page.click(toggle)
        page.wait_for_selector(f"{toggle}[aria-pressed=true]")
        assert not page.is_checked(f"#units input[value='{top}']")  # the toggle is not the card's checkbox
        assert httpx.get(f"{url}/api/layers/layer6/marked").json()["units"] == [top]
        assert f"marked in layer6: {top}" in page.text_content("#marks")
        page.reload(wait_until="networkidle")  # the page shows the stored state
        page.select_option("select[name=concept]", "tree")
        page.wait_for_selector(f"{toggle}[aria-pressed=true]")
        page.select_option("select[name=view]", "candidates")
        page.wait_for_selector(f"#units label.unit:first-child[data-unit='{worst[0]}']")
        assert page.text_content(f"#units label.unit[data-unit='{worst[1]}'] .rank.candidate").startswith(
            "artifact candidate #2 of")
        page.wait_for_function("[...document.images].every(image => image.complete)")
        page.screenshot(path=shots / "server-browse-artifacts.png", full_page=True)
        assert page.text_content(f"#units label.unit[data-unit='{worst[2]}'] .rank").startswith("artifact rank 3 of")
        page.select_option("select[name=view]", "marked")
        page.wait_for_function(f"[...document.querySelectorAll('#units label.unit')].map(u => u.dataset.unit)"
                               f".join() === '{top}'")
        page.click(f"{toggle}[aria-pressed=true]")
        page.wait_for_selector(f"{toggle}[aria-pressed=false]")
        assert httpx.get(f"{url}/api/layers/layer6/marked").json()["units"] == []
    assert errors == []
    assert MarkStore(directory).load() == {}
    for diff, row, x0, x1 in changed:
        near = np.zeros_like(diff, bool)
        near[max(0, row - 4) : row + 5, max(0, x0 - 4) : x1 + 5] = True
        far = np.ones_like(diff, bool)
        far[max(0, row - 16) : row + 17, max(0, x0 - 16) : x1 + 17] = False
        assert diff[near].mean() > 10, "the image did not change under the stroke"
        assert diff[far].max() <= 3, "the image changed far from the stroke"


def fetch_picture(page: object) -> np.ndarray:
    """The pixels the page shows (fetched by the page itself, so data URLs and PNG routes both work)."""
    data = page.evaluate("""async () => {
        const blob = await (await fetch(document.getElementById('picture').src)).blob();
        const bytes = new Uint8Array(await blob.arrayBuffer());
        return btoa(String.fromCharCode(...bytes));
    }""")
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(data))).convert("RGB"))


def test_strips_read_the_dissection_s_images(gen: synthetic.SyntheticGenerator, marks_dir: Path,
                                             monkeypatch: pytest.MonkeyPatch):
    """With the results directory's sample images there, a unit strip is drawn from them (no generator pass),
    and equals the strip drawn by the generator."""
    from ganscope.results import SAMPLES_DIR

    loaded = Results.load(marks_dir)
    tops = sorted({i for u in loaded.layers["layer1"].units for i in u.top_samples})
    with TestClient(marking_app(gen, loaded, marks_dir)) as http:
        drawn = http.get("/api/layers/layer1/units/2/strip.png").content
    Session(gen, seed=loaded.seed).render_samples(tops, marks_dir / SAMPLES_DIR)
    again = Results.load(marks_dir)
    with TestClient(marking_app(gen, again, marks_dir)) as http:
        monkeypatch.setattr(Session, "images", lambda *a, **k: pytest.fail("a strip ran the generator"))
        assert http.get("/api/layers/layer1/units/2/strip.png").content == drawn
