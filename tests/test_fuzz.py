"""Fuzzing with hypothesis: CLI arguments and specs, results files, masks and every HTTP endpoint.

The contract under test: bad input is a GanscopeError (CLI: one line, exit 2; HTTP: a 4xx), never a
traceback or a 500, and the server keeps serving. ``max_examples`` keep the file under a minute.
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

import synthetic
from ganscope.artifacts.marks import MARKS_FILE, MarkStore
from ganscope.cli import app as cli_app
from ganscope.errors import GanscopeError
from ganscope.intervene import Region
from ganscope.painting import rasterise
from ganscope.regions import pooled
from ganscope.results import RESULTS_FILE, Results
from ganscope.server import create_app
from ganscope.server.limits import MAX_COORD
from ganscope.server.masks import decode_mask
from ganscope.session import Session
from test_cli import GEN, SEG


def fuzz(examples: int) -> settings:
    """No deadline (the machine is shared), fixtures reused across examples on purpose."""
    return settings(max_examples=examples, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


SPECS = ["synthetic:make_generator", "synthetic:make_segmenter", "badmodels:nan_layer_generator", "os:system",
         "json:loads", "demo", "proggan:/nonexistent", "..:x", ":", "synthetic:", "synthetic:CONCEPTS", "/etc/passwd"]
odd_text = st.one_of(st.sampled_from(["", " ", "-1", "nan", "inf", "1e999", "layer1", "layer1.x", "0x10", "☃", "\x00"]),
                     st.text(max_size=12))
url_text = odd_text.filter(str.isprintable)
numbers = st.one_of(st.integers(-2**64, 2**64), st.floats(allow_nan=True, allow_infinity=True))
json_values = st.recursive(st.none() | st.booleans() | numbers | st.text(max_size=8) | st.sampled_from(SPECS),
                           lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner,
                                                                                      max_size=4), max_leaves=12)


def invoke(args: list[str]) -> int:
    """Run the CLI in process: a GanscopeError exits 2 with one line; any other exception fails the test."""
    result = CliRunner().invoke(cli_app, args)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    assert result.exit_code in (0, 2), result.output
    if result.exit_code == 2:  # the promised one-line error, on stderr
        assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1, result.stderr
    return result.exit_code


@fuzz(40)
@given(options=st.dictionaries(st.sampled_from(["--samples", "--seed", "--batch-size", "--quantile", "--iou-cutoff",
                                                "--bins", "--seg-size", "--threshold", "--device", "-l", "--model",
                                                "--segmenter"]),
                               st.one_of(odd_text, st.integers(-3, 24).map(str), st.sampled_from(SPECS)),
                               min_size=1, max_size=3))
def test_dissect_arguments(options: dict[str, str]):
    args = ["dissect", "--model", GEN, "--segmenter", SEG, "-l", "layer1", "--samples", "6", "--no-progress",
            "--no-report"]
    for option, value in options.items():
        args += [option, value]
    with tempfile.TemporaryDirectory() as out:
        if invoke([*args, "--out", out]) == 0:
            assert Results.load(out).samples >= 1


@fuzz(30)
@given(command=st.sampled_from(["ablate", "insert"]), units=odd_text | st.sampled_from(["0,1", "9", "-1", "0,,0"]),
       value=odd_text | st.sampled_from(["nan", "inf", "1e39", "-1e38", "1,2"]), box=odd_text | st.just("0,0,8,8"),
       samples=st.integers(-1, 3))
def test_intervention_arguments(small_results: Path, command: str, units: str, value: str, box: str, samples: int):
    with tempfile.TemporaryDirectory() as out:
        args = [command, "-l", "layer1", "--units", units, "--box", box, "--samples", str(samples), "--model", GEN,
                "--segmenter", SEG, "--results", str(small_results), "--out", out, "--device", "cpu"]
        invoke(args + (["--value", value] if command == "insert" else []))


def mutations(text: str) -> st.SearchStrategy[str]:
    """Truncated, corrupted, retyped or re-versioned copies of a valid results.json."""
    data = json.loads(text)
    units = data["layers"]["layer1"]["units"]

    def retype(path: list, value: object) -> str:
        copy = json.loads(text)
        node = copy
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value
        return json.dumps(copy)

    paths = [[key] for key in data] + [["layers", "layer1", key] for key in data["layers"]["layer1"]] + [
        ["layers", "layer1", "units", 0, key] for key in units[0]] + [["concepts", 1, "name"], ["concepts", 0]]
    return st.one_of(
        st.integers(0, len(text) - 1).map(lambda n: text[:n]),
        st.tuples(st.integers(0, len(text) - 1), st.characters(codec="utf-8")).map(
            lambda p: text[:p[0]] + p[1] + text[p[0] + 1:]),
        st.builds(retype, st.sampled_from(paths), json_values),
        st.builds(retype, st.just(["schema_version"]), json_values),
    )


@pytest.fixture(scope="module")
def results_text(small_results: Path) -> str:
    return (small_results / RESULTS_FILE).read_text()


@fuzz(300)
@given(data=st.data())
def test_results_files(results_text: str, small_results: Path, tmp_path: Path, data: st.DataObject):
    directory = tmp_path / "results"
    if not directory.exists():
        shutil.copytree(small_results, directory)
    (directory / RESULTS_FILE).write_text(data.draw(mutations(results_text)))
    try:
        Results.load(directory)
    except GanscopeError as err:
        assert "\n" not in str(err)


@fuzz(40)
@given(data=st.data())
def test_report_on_results_files(results_text: str, small_results: Path, tmp_path: Path, data: st.DataObject):
    with tempfile.TemporaryDirectory(dir=tmp_path) as name:
        directory = Path(name) / "results"
        shutil.copytree(small_results, directory)
        (directory / RESULTS_FILE).write_text(data.draw(mutations(results_text)))
        invoke(["report", str(directory)])


points = st.tuples(*[st.floats(-MAX_COORD, MAX_COORD)] * 2) | st.tuples(*[st.floats(-64, 96)] * 2)


@fuzz(200)
@given(bitstring=st.text(alphabet="01x", max_size=80) | st.sampled_from(["data:image/png;base64,AAAA", "image/png;"
                                                                        "base64,iVBORw0KGgo="]),
       shape=st.none() | st.lists(st.integers(-3, 3000), max_size=3),
       bounds=st.none() | st.lists(st.integers(-3, 12), max_size=5),
       strokes=st.lists(st.tuples(st.lists(points, min_size=1, max_size=4), st.floats(1e-3, 4096)), max_size=3),
       cells=st.tuples(st.integers(1, 12), st.integers(1, 12)))
def test_masks(bitstring: str, shape: list[int] | None, bounds: list[int] | None,
               strokes: list[tuple[list[tuple[float, float]], float]], cells: tuple[int, int]):
    for make in (lambda: decode_mask(bitstring, shape, bounds, (8, 8)), lambda: rasterise(strokes, (32, 32))):
        try:
            mask = make()
        except GanscopeError:
            continue
        region = pooled(mask, "mean")
        assert region is None or torch.isfinite(region.cells(*cells)).all()


@fuzz(150)
@given(array=st.lists(st.lists(st.floats(allow_nan=True, allow_infinity=True) | st.integers(-1, 1), min_size=1,
                               max_size=6), min_size=1, max_size=6),
       size=st.none() | st.tuples(st.integers(1, 16), st.integers(1, 16)), coverage=st.floats(0, 1),
       box=st.tuples(*[st.integers(-2, 20)] * 4), png=st.binary(max_size=64))
def test_regions(tmp_path: Path, array: list[list[float]], size: tuple[int, int] | None, coverage: float,
                 box: tuple[int, int, int, int], png: bytes):
    width = min(len(row) for row in array)
    (tmp_path / "mask.png").write_bytes(b"\x89PNG\r\n\x1a\n" + png)
    makers = [lambda: Region.from_array(np.array([row[:width] for row in array]), size, coverage),
              lambda: Region.box(*box, (16, 16)), lambda: Region.from_png(tmp_path / "mask.png", size)]
    for make in makers:
        try:
            region = make()
            assert region.cells(4, 4).isfinite().all()
        except GanscopeError:
            pass


@pytest.fixture(scope="module")
def marks_dir(small_results: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the results directory for the fuzzed marks to land in."""
    return Path(shutil.copytree(small_results, tmp_path_factory.mktemp("fuzz") / "results"))


@pytest.fixture(scope="module")
def client(marks_dir: Path, monkeypatch_module: pytest.MonkeyPatch) -> Iterator[TestClient]:
    """The app over the synthetic model, with model specs made unresolvable: HTTP must never build a model."""

    def refuse(spec: str, *_args: object) -> None:
        raise AssertionError(f"a request made the server resolve the spec {spec!r}")

    for module in ("ganscope.registry", "ganscope.models", "ganscope.segmenters"):
        monkeypatch_module.setattr(f"{module}.resolve", refuse)
    torch.set_num_threads(1)
    app = create_app(Session(synthetic.make_generator(), synthetic.make_segmenter()), Results.load(marks_dir),
                     layer="layer1", max_body=100_000, directory=marks_dir)
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def monkeypatch_module() -> Iterator[pytest.MonkeyPatch]:
    with pytest.MonkeyPatch.context() as patch:
        yield patch


def check(client: TestClient, answer: object) -> None:
    assert answer.status_code < 500, answer.text
    assert client.get("/api/info").status_code == 200  # still serving


stroke = st.fixed_dictionaries({"points": st.lists(st.lists(numbers, min_size=2, max_size=2), max_size=3),
                                "radius": numbers})
mask = st.fixed_dictionaries({"bitstring": st.text(alphabet="01", max_size=70)},
                             optional={"shape": st.lists(st.integers(-2, 9), max_size=3),
                                       "bitbounds": st.lists(st.integers(-2, 9), max_size=5)})
edit = st.fixed_dictionaries({"mode": st.sampled_from(["draw", "remove", "paint"])}, optional={
    "concept": st.sampled_from(["alpha", "gamma", "tree", ""]), "units": st.lists(st.integers(-2, 8), max_size=4),
    "top": st.integers(-1, 5000), "layer": st.sampled_from(["layer1", "layer2", "layout", "", "os:system"]),
    "strength": numbers, "strokes": st.lists(stroke, max_size=2), "mask": mask})
ablation = st.fixed_dictionaries({"layer": st.sampled_from(["layer1", "layer2", "layout", "", "synthetic:paint"]),
                                  "unit": st.integers(-2, 10)}, optional={"alpha": numbers, "value": numbers})
BODIES = {
    "/api/intervene": st.fixed_dictionaries({}, optional={"index": numbers, "seed": numbers,
                                                          "edits": st.lists(edit, max_size=3), "model": json_values}),
    "/api/generate": st.fixed_dictionaries({}, optional={
        "ids": st.lists(st.integers(-2, 2**40), max_size=3), "project": st.sampled_from(SPECS),
        "zs": st.lists(st.lists(st.floats(-1e39, 1e39), min_size=15, max_size=17), max_size=2),
        "interventions": st.lists(st.fixed_dictionaries({"ablations": st.lists(ablation, max_size=3)}, optional={
            "mask": mask, "maskpooling": st.sampled_from(["max", "mean", "min"])}), max_size=2)}),
    "/api/photos": json_values,  # JSON is not a PNG or JPEG: 400
    "/api/photos/{token}/intervene": st.fixed_dictionaries({}, optional={"edits": st.lists(edit, max_size=3)}),
}


@fuzz(60)
@given(body=st.binary(max_size=300) | st.sampled_from([b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff\xe0", b"GIF89a"]))
def test_photo_uploads(client: TestClient, body: bytes):
    """Any bytes as a photo: a 4xx (random bytes are never a decodable PNG or JPEG)."""
    check(client, client.post("/api/photos", content=body, headers={"content-type": "image/png"}))


@fuzz(150)
@given(path=st.sampled_from(sorted(BODIES)), data=st.data())
def test_post_bodies(client: TestClient, path: str, data: st.DataObject):
    body = data.draw(BODIES[path] | json_values)
    check(client, client.post(path, content=json.dumps(body), headers={"content-type": "application/json"}))


GET_TEMPLATES = ["/api/layers/{}/units", "/api/layers/{}/units/{}", "/api/layers/{}/units/{}/strip.png",
                 "/api/layers/{}/marked", "/api/layers/{}/candidates", "/api/samples/{}.png", "/api/samples",
                 "/static/{}", "/{}", "/api/{}", "/api/photos/{}", "/api/photos/{}.png"]
MARK_PATH = "/api/layers/{}/units/{}/mark"
path_parts = st.lists(st.sampled_from(["layer1", "layer2", "..", "%2e%2e", "-1", "99", "1e3", "9" * 30, "0", "5"])
                      | url_text, min_size=2, max_size=2)


@fuzz(150)
@given(template=st.sampled_from(GET_TEMPLATES),
       parts=path_parts,
       query=st.dictionaries(st.sampled_from(["n", "concept", "seed", "start", "count"]),
                             st.sampled_from(["alpha", "tree", "-1", "0", "3", "1e9", "nan", 2**70]) | url_text,
                             max_size=3))
def test_get_paths(client: TestClient, template: str, parts: list[str], query: dict[str, object]):
    path = template.format(*parts)
    answer = client.get(path, params=query)
    check(client, answer)
    if answer.status_code == 200 and path.startswith("/static/"):
        assert "def " not in answer.text and "root:" not in answer.text  # never outside the static folder


@fuzz(80)
@given(method=st.sampled_from(["PUT", "DELETE"]), parts=path_parts)
def test_mark_requests(client: TestClient, marks_dir: Path, small_results: Path, method: str, parts: list[str]):
    """Marks of any path: a 4xx or a valid marks file in the results directory holding only real units."""
    check(client, client.request(method, MARK_PATH.format(*parts)))
    marks = MarkStore(marks_dir).load()
    assert set(marks) <= {"layer1", "layer2"} and all(u < 8 for units in marks.values() for u in units)
    assert [p.name for p in marks_dir.parent.iterdir()] == ["results"]  # nothing written beside the results
    assert {p.name for p in marks_dir.iterdir()} - {p.name for p in small_results.iterdir()} <= {MARKS_FILE}


@pytest.mark.parametrize(("value", "message"), [(1e39, "must be finite float32"), (3e38, "NaN or Inf in the images "
                                                                                    "edited at 'layer1' for sample 5")])
def test_non_finite_images_are_a_4xx(client: TestClient, value: float, message: str):
    body = {"ids": [5, 4], "interventions": [{"ablations": [{"layer": "layer1", "unit": 1, "value": value}]}]}
    answer = client.post("/api/generate", json=body)
    assert answer.status_code == 400 and message in answer.json()["detail"]


def test_every_route_is_fuzzed(client: TestClient):
    """Every route that takes a body or writes (read from the OpenAPI schema: routers nest routes differently across
    FastAPI versions)."""
    routes = [(method.upper(), path) for path, item in client.app.openapi()["paths"].items() for method in item]
    assert {path for method, path in routes if method == "POST"} == set(BODIES)
    writes = {(method, path) for method, path in routes if method in ("PUT", "DELETE", "PATCH")}
    assert writes == {("PUT", MARK_PATH.format("{name}", "{unit}")), ("DELETE", MARK_PATH.format("{name}", "{unit}"))}
    gets = {re.sub(r"\{\w+\}", "{}", path) for method, path in routes if method == "GET" and "{" in path}
    assert gets - {"/static/{}"} <= set(GET_TEMPLATES)
