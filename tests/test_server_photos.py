"""The paint server's photo flow: upload, inversion progress, painting on the photo, bad uploads, and the
same in headless Chromium."""

from __future__ import annotations

import base64
import io
import os
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from fastapi.testclient import TestClient
from PIL import Image

from dissecting import dissect
from ganscope.images import png_bytes, to_pil
from ganscope.models import load_generator
from ganscope.results import Results
from ganscope.segmenters import load_segmenter
from ganscope.server import create_app
from ganscope.server.limits import MAX_BODY_BYTES
from ganscope.session import Session
from ganscope.world import LABEL, render
from live import running
from test_report import chromium_or_skip

FAST = dict(starts=2, search_steps=2, steps=6, adapt_steps=30)
SCREENSHOTS = os.environ.get("GANSCOPE_SCREENSHOTS")


@pytest.fixture(scope="module")
def demo() -> tuple[Session, Results, bytes]:
    torch.set_num_threads(1)
    gen, seg = load_generator("demo"), load_segmenter("demo")
    res = dissect(gen, seg, ["layer6"], samples=16, seed=0, batch_size=16, progress=False, model_name="demo",
                  segmenter_name="demo")
    scenes = render(range(40), seed=17)
    index = int((scenes.labels == LABEL["tree"]).flatten(1).float().mean(1).argmax())
    return Session(gen, seg), res, png_bytes(to_pil(scenes.images[index]))


def ready(client: TestClient, token: str) -> dict:
    for _ in range(400):
        status = client.get(f"/api/photos/{token}").json()
        if status["status"] in ("ready", "failed"):
            return status
        time.sleep(0.05)
    raise AssertionError("the inversion did not finish")


def decode(url: str) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))).convert("RGB")).astype(int)


def test_upload_invert_and_paint_a_photo(demo: tuple[Session, Results, bytes]):
    session, res, photo = demo
    client = TestClient(create_app(session, res, photo_options=FAST))
    first = client.post("/api/photos", content=photo, headers={"Content-Type": "image/png"})
    assert first.status_code == 200 and first.json()["status"] in ("queued", "inverting", "ready")
    token = first.json()["token"]
    done = ready(client, token)
    assert done["status"] == "ready" and done["done"] == done["total"] == 38
    assert done["metrics"]["step2"]["psnr"] > done["metrics"]["step1"]["psnr"]
    shown = np.asarray(Image.open(io.BytesIO(client.get(f"/api/photos/{token}.png").content))).astype(int)
    assert np.array_equal(shown, np.asarray(Image.open(io.BytesIO(photo))).astype(int))
    stroke = {"mode": "remove", "concept": "tree", "strokes": [{"points": [[8, 40], [30, 40]], "radius": 4}]}
    edited = client.post(f"/api/photos/{token}/intervene", json={"edits": [stroke]})
    assert edited.status_code == 200, edited.text
    image = decode(edited.json()["image"])
    far = np.ones((64, 64), bool)
    far[40 - 4 - 6 - 4 : 40 + 4 + 6 + 4, :30 + 4 + 6 + 4] = False  # the stroke, the margin, a cell's spill
    assert np.array_equal(image[far], shown[far])
    unedited = client.post(f"/api/photos/{token}/intervene", json={"edits": []})
    assert np.array_equal(decode(unedited.json()["image"]), shown)


@pytest.mark.parametrize(("body", "status", "detail"), [
    (b"not a picture", 400, "is not a PNG or JPEG"),
    (b"", 400, "is empty"),
    (b"\0" * (MAX_BODY_BYTES + 1), 413, "larger than"),
])
def test_bad_uploads_are_4xx(demo: tuple[Session, Results, bytes], body: bytes, status: int, detail: str):
    session, res, _ = demo
    client = TestClient(create_app(session, res, photo_options=FAST))
    answer = client.post("/api/photos", content=body)
    assert answer.status_code == status and detail in answer.json()["detail"]


def test_photos_are_only_served_to_their_token(demo: tuple[Session, Results, bytes]):
    session, res, photo = demo
    client = TestClient(create_app(session, res, photo_options=FAST))
    token = client.post("/api/photos", content=photo).json()["token"]
    assert len(token) >= 20
    for path in ("/api/photos/other", "/api/photos/other.png", f"/api/photos/{token[:-1]}"):
        assert client.get(path).status_code == 404
    assert client.post("/api/photos/other/intervene", json={"edits": []}).status_code == 404
    ready(client, token)
    assert client.post(f"/api/photos/{token}/intervene", json={"edits": [{"mode": "paint"}]}).status_code == 422
    assert client.post(f"/api/photos/{token}/intervene", content=b"{").status_code == 422


@pytest.mark.slow
def test_upload_and_paint_in_headless_chromium(demo: tuple[Session, Results, bytes], tmp_path: Path):
    """Upload a photo on the paint page, watch the progress, remove a tree with one stroke, download."""
    chromium_or_skip()
    from browser import chromium_page, drag

    shots = Path(SCREENSHOTS) if SCREENSHOTS else tmp_path
    session, res, photo = demo
    (tmp_path / "photo.png").write_bytes(photo)
    original = np.asarray(Image.open(io.BytesIO(photo))).astype(int)
    errors: list[str] = []
    app = create_app(session, res, photo_options=dict(FAST, adapt_steps=300))
    with running(app) as url, chromium_page(errors, width=1200, height=820) as page:
        page.goto(url + "/", wait_until="networkidle")
        page.evaluate("""() => { window.statuses = [];
            new MutationObserver(() => statuses.push(document.getElementById('status').textContent))
              .observe(document.getElementById('status'), {childList: true, characterData: true, subtree: true}); }""")
        page.set_input_files("#upload", str(tmp_path / "photo.png"))
        page.wait_for_function("document.getElementById('status').textContent.startsWith('your photo: reconstructed')",
                               timeout=60_000)
        assert any(s.startswith("inverting your photo:") for s in page.evaluate("statuses"))
        page.wait_for_function("document.getElementById('picture').complete")
        assert page.get_attribute("#picture", "src").startswith("/api/photos/")
        page.check("input[name=mode][value=remove]")
        page.click("#palette button[data-concept=tree]")
        version = page.get_attribute("#picture", "data-version")
        drag(page, "#overlay", 40, 8, 30, 64)
        page.wait_for_function(f"document.getElementById('picture').dataset.version !== '{version}'")
        page.wait_for_function("document.getElementById('picture').src.startsWith('data:')")
        page.screenshot(path=shots / "server-photo-paint.png")
        assert page.get_attribute("#download", "href").startswith("data:image/png")
        image = decode(page.get_attribute("#picture", "src"))
    assert errors == []
    far = np.ones((64, 64), bool)
    far[40 - 14 : 40 + 14, : 30 + 14] = False
    assert np.array_equal(image[far], original[far])
    assert np.abs(image[~far] - original[~far]).sum() > 0
