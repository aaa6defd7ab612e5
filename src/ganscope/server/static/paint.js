// The paint page: pick a sample (or upload a photo, inverted on the server), paint strokes of "draw X" /
// "remove X"; each stroke is one request carrying the whole stroke history (the server keeps no paint
// state), so undo and redo are just list edits.
"use strict";

const COLORS = {draw: "rgba(60, 200, 90, 0.45)", remove: "rgba(230, 60, 60, 0.45)"};
const state = {info: null, index: null, photo: null, history: [], redone: [], next: 0, shown: 0, stroke: null,
  samples: 0};
const picture = document.getElementById("picture");
const overlay = document.getElementById("overlay");
const pen = overlay.getContext("2d");

function mode() { return document.querySelector("input[name=mode]:checked").value; }
function concept() { return document.querySelector("#palette button.selected")?.dataset.concept; }
function brush() { return Number(document.getElementById("brush").value); }

function show(src) {
  picture.src = src;
  document.getElementById("download").href = src;
  picture.dataset.version = String(Number(picture.dataset.version) + 1);
}

function updateButtons() {
  document.getElementById("undo").disabled = state.history.length === 0;
  document.getElementById("redo").disabled = state.redone.length === 0;
}

async function render() {
  // Newer requests win: a slow answer to an older history never replaces a newer image.
  const ticket = ++state.next;
  updateButtons();
  const name = state.photo ? "your photo" : `sample ${state.index}`;
  if (state.history.length === 0) {
    show(state.photo ? `/api/photos/${state.photo}.png` : `/api/samples/${state.index}.png`);
    state.shown = ticket;
    showStatus(name);
    return;
  }
  showStatus("painting…");
  const started = performance.now();
  try {
    const result = state.photo ? await api(`/api/photos/${state.photo}/intervene`, {edits: state.history})
      : await api("/api/intervene", {index: state.index, edits: state.history});
    if (ticket < state.shown) return;
    state.shown = ticket;
    show(result.image);
    const seconds = ((performance.now() - started) / 1000).toFixed(2);
    showStatus(`${name}: ${state.history.length} stroke(s), ${seconds} s`);
  } catch (error) {
    showStatus(error.message, true);
  }
}

function pick(index) {
  state.index = index;
  state.photo = null;
  state.history = [];
  state.redone = [];
  document.querySelectorAll("#samples img").forEach(img => img.classList.toggle("selected", img.dataset.index === String(index)));
  document.getElementById("download").download = `ganscope-${index}.png`;
  render();
}

function addSamples(count) {
  const grid = document.getElementById("samples");
  for (let i = state.samples; i < state.samples + count; i++) {
    const thumb = element("img", {src: `/api/samples/${i}.png`, alt: `sample ${i}`, "data-index": i, tabIndex: 0});
    thumb.addEventListener("click", () => pick(i));
    thumb.addEventListener("keydown", event => { if (event.key === "Enter") pick(i); });
    grid.append(thumb);
  }
  state.samples += count;
}

function buildPalette(info) {
  const palette = document.getElementById("palette");
  for (const c of info.concepts) {
    const button = element("button", {type: "button", text: c.name, title: c.category, "data-concept": c.name});
    button.addEventListener("click", () => {
      palette.querySelectorAll("button").forEach(b => b.classList.toggle("selected", b === button));
      describeButton();
    });
    palette.append(button);
  }
  palette.querySelector("button")?.classList.add("selected");
  document.querySelectorAll("input[name=mode]").forEach(input => input.addEventListener("change", describeButton));
  const fallback = document.getElementById("fallback-note");
  fallback.textContent = info.paint.note || "";
  fallback.hidden = !info.paint.note;
  describeButton();
}

// What the selected button edits: its layer and unit count, and whether a paint set chose them.
function describeButton() {
  const chosen = state.info?.paint.buttons[concept()]?.[mode()];
  document.getElementById("paint-note").textContent = chosen ?
    `${mode()} ${concept()} edits ${chosen.units} units of ${chosen.layer} (${chosen.source === "paint set" ?
      "its paint set" : "top units by IoU"})` : "";
}

// Pointer events cover mouse, pen and touch; points are kept in image pixels.
function imagePoint(event) {
  const box = overlay.getBoundingClientRect();
  const [height, width] = state.info.image_size;
  return [(event.clientX - box.left) / box.width * width, (event.clientY - box.top) / box.height * height];
}

function drawPreview() {
  const scale = overlay.width / state.info.image_size[1];
  pen.clearRect(0, 0, overlay.width, overlay.height);
  if (!state.stroke) return;
  pen.strokeStyle = pen.fillStyle = COLORS[state.stroke.mode];
  pen.lineWidth = 2 * state.stroke.radius * scale;
  pen.lineCap = pen.lineJoin = "round";
  pen.beginPath();
  state.stroke.points.forEach(([x, y], k) => k ? pen.lineTo(x * scale, y * scale) : pen.moveTo(x * scale, y * scale));
  if (state.stroke.points.length === 1) pen.lineTo(state.stroke.points[0][0] * scale + 0.01, state.stroke.points[0][1] * scale);
  pen.stroke();
}

overlay.addEventListener("pointerdown", event => {
  if ((state.index === null && !state.photo) || !concept()) return;
  overlay.setPointerCapture(event.pointerId);
  state.stroke = {mode: mode(), concept: concept(), radius: brush() / 2, points: [imagePoint(event)]};
  drawPreview();
});
overlay.addEventListener("pointermove", event => {
  if (!state.stroke) return;
  state.stroke.points.push(imagePoint(event));
  drawPreview();
});
function finishStroke() {
  if (!state.stroke) return;
  const {mode: m, concept: c, radius, points} = state.stroke;
  state.stroke = null;
  drawPreview();
  state.history.push({mode: m, concept: c, strokes: [{points, radius}]});
  state.redone = [];
  render();
}
overlay.addEventListener("pointerup", finishStroke);
overlay.addEventListener("pointercancel", () => { state.stroke = null; drawPreview(); });

document.getElementById("undo").addEventListener("click", () => {
  if (state.history.length) { state.redone.push(state.history.pop()); render(); }
});
document.getElementById("redo").addEventListener("click", () => {
  if (state.redone.length) { state.history.push(state.redone.pop()); render(); }
});
document.getElementById("reset").addEventListener("click", () => {
  if (state.photo) { state.history = []; state.redone = []; render(); } else pick(state.index);
});

// An uploaded photo is inverted on the server; its progress is polled, then it is painted like a sample.
async function upload(file) {
  const response = await fetch("/api/photos", {method: "POST", body: file, headers: {"Content-Type": file.type}});
  let photo = await response.json().catch(() => ({detail: response.statusText}));
  if (!response.ok) throw new Error(photo.detail || `HTTP ${response.status}`);
  state.index = null;
  state.photo = null;
  state.history = [];
  state.redone = [];
  document.querySelectorAll("#samples img").forEach(img => img.classList.remove("selected"));
  while (photo.status === "queued" || photo.status === "inverting") {
    showStatus(`inverting your photo: ${photo.done} / ${photo.total || "…"} steps`);
    await new Promise(resolve => setTimeout(resolve, 250));
    photo = await api(`/api/photos/${photo.token}`);
  }
  if (photo.status === "failed") throw new Error(photo.error);
  state.photo = photo.token;
  document.getElementById("download").download = "ganscope-photo.png";
  await render();
  const fit = photo.metrics.step2;
  showStatus(`your photo: reconstructed at ${fit.psnr.toFixed(1)} dB` +
    (fit.mean_iou === undefined ? "" : `, segmentation agreement ${fit.mean_iou.toFixed(2)}`));
}
document.getElementById("upload").addEventListener("change", event => {
  const file = event.target.files[0];
  if (file) upload(file).catch(error => showStatus(error.message, true));
});
document.getElementById("more").addEventListener("click", () => addSamples(12));
document.getElementById("brush").addEventListener("input", event => {
  document.getElementById("brush-size").textContent = event.target.value;
});
document.addEventListener("keydown", event => {
  if (!(event.ctrlKey || event.metaKey) || event.key.toLowerCase() !== "z") return;
  event.preventDefault();
  document.getElementById(event.shiftKey ? "redo" : "undo").click();
});

function sizeOverlay() {
  overlay.width = overlay.clientWidth * devicePixelRatio;
  overlay.height = overlay.clientHeight * devicePixelRatio;
  drawPreview();
}

(async () => {
  try {
    state.info = await api("/api/info");
    const [height, width] = state.info.image_size;
    document.getElementById("stage").style.aspectRatio = `${width} / ${height}`;
    const brushInput = document.getElementById("brush");
    brushInput.max = String(Math.max(4, Math.round(width / 4)));
    brushInput.value = String(Math.max(2, Math.round(width / 12)));
    document.getElementById("brush-size").textContent = brushInput.value;
    buildPalette(state.info);
    addSamples(12);
    sizeOverlay();
    new ResizeObserver(sizeOverlay).observe(overlay);
    pick(0);
  } catch (error) {
    showStatus(`cannot load the server's info: ${error.message}`, true);
  }
})();
