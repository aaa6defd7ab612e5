// ganscope's notebook widgets (anywidget front-end module): the sample image with a brush overlay,
// and per kind the controls that edit it. Everything is sent as synced traits; the kernel draws.
const SCALE = 4; // on-screen pixels per image pixel
const COLORS = {draw: "rgba(60, 200, 90, 0.45)", remove: "rgba(230, 60, 60, 0.45)", mask: "rgba(255, 200, 0, 0.5)"};

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "text") node.textContent = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value);
  }
  node.append(...children);
  return node;
}

function commit(model, changes) {
  for (const [key, value] of Object.entries(changes)) model.set(key, value);
  model.save_changes();
}

// The image, a canvas over it for the stroke being drawn, and the sample picker.
function canvasView(model, strokeStyle, radius, onStroke, persist = false) {
  const [height, width] = model.get("size");
  const picture = el("img", {class: "gs-picture", alt: "sample", width: width * SCALE, height: height * SCALE});
  const overlay = el("canvas", {class: "gs-overlay", width: width * SCALE, height: height * SCALE});
  const pen = overlay.getContext("2d");
  let stroke = null;
  const point = event => {
    const box = overlay.getBoundingClientRect();
    return [(event.clientX - box.left) / box.width * width, (event.clientY - box.top) / box.height * height];
  };
  const line = ({points, radius: r}) => {
    pen.lineWidth = 2 * r * SCALE;
    pen.lineCap = pen.lineJoin = "round";
    pen.beginPath();
    points.forEach(([x, y], k) => (k ? pen.lineTo : pen.moveTo).call(pen, x * SCALE, y * SCALE));
    if (points.length === 1) pen.lineTo(points[0][0] * SCALE + 0.01, points[0][1] * SCALE);
    pen.stroke();
  };
  // The stroke being drawn, and with ``persist`` the committed ones (a mask stays visible).
  const preview = () => {
    pen.clearRect(0, 0, overlay.width, overlay.height);
    pen.strokeStyle = strokeStyle();
    if (persist) model.get("strokes").forEach(line);
    if (stroke) line(stroke);
  };
  if (persist) model.on("change:strokes", preview);
  if (onStroke) {
    overlay.addEventListener("pointerdown", event => {
      overlay.setPointerCapture(event.pointerId);
      stroke = {radius: radius(), points: [point(event)]};
      preview();
    });
    overlay.addEventListener("pointermove", event => { if (stroke) { stroke.points.push(point(event)); preview(); } });
    overlay.addEventListener("pointerup", () => {
      if (!stroke) return;
      const done = stroke;
      stroke = null;
      preview();
      onStroke(done);
    });
    overlay.addEventListener("pointercancel", () => { stroke = null; preview(); });
  }
  // A new sample starts with no strokes (its edits were painted on another image).
  const fresh = () => (model.get("strokes") !== undefined ? {strokes: []} : {});
  const index = el("input", {type: "number", min: 0, value: model.get("index"), class: "gs-index",
                             onchange: event => commit(model, {index: Math.max(0, Number(event.target.value)), ...fresh()})});
  const error = el("div", {class: "gs-error"});
  const show = () => {
    picture.src = model.get("image");
    index.value = model.get("index");
    error.textContent = model.get("error");
  };
  model.on("change:image", show);
  model.on("change:error", show);
  model.on("change:index", show);
  show();
  const stage = el("div", {class: "gs-stage", style: `width:${width * SCALE}px;height:${height * SCALE}px`}, picture, overlay);
  return {stage, picker: el("label", {}, "sample ", index), error};
}

function paintControls(model, view) {
  const concept = el("select", {class: "gs-concept"}, ...model.get("concepts").map(c => el("option", {value: c, text: c})));
  const modes = ["remove", "draw"].map(m => el("label", {}, el("input", {type: "radio", name: `mode-${model.cid ?? "w"}`, value: m,
                                                                          ...(m === "remove" ? {checked: ""} : {})}), ` ${m}`));
  const brush = el("input", {type: "range", min: 1, max: 12, value: 3, class: "gs-brush"});
  const undo = el("button", {type: "button", text: "undo", onclick: () => commit(model, {strokes: model.get("strokes").slice(0, -1)})});
  const clear = el("button", {type: "button", text: "reset", onclick: () => commit(model, {strokes: []})});
  const count = el("span", {class: "gs-count"});
  const update = () => { count.textContent = `${model.get("strokes").length} stroke(s)`; undo.disabled = !model.get("strokes").length; };
  model.on("change:strokes", update);
  update();
  view.mode = () => modes.map(label => label.firstChild).find(input => input.checked).value;
  view.concept = () => concept.value;
  view.radius = () => Number(brush.value);
  const note = el("div", {class: "gs-note", text: model.get("note")});
  return el("div", {class: "gs-controls"}, concept, ...modes, " brush ", brush, undo, clear, count, note);
}

function unitButtons(model) {
  const box = el("div", {class: "gs-units"});
  const draw = () => {
    const off = new Set(model.get("off"));
    box.replaceChildren(...model.get("units").map(({unit, label, iou}) => el("button", {
      type: "button", class: off.has(unit) ? "gs-unit gs-off" : "gs-unit", "data-unit": unit,
      title: `IoU ${iou.toFixed(3)}`, text: `${unit} ${label}`,
      onclick: () => commit(model, {off: off.has(unit) ? [...off].filter(u => u !== unit) : [...off, unit]}),
    })));
  };
  model.on("change:off", draw);
  draw();
  return box;
}

function maskResults(model) {
  const concept = el("select", {class: "gs-concept", onchange: event => commit(model, {concept: event.target.value})},
                     el("option", {value: "", text: "(concept left in the mask)"}),
                     ...model.get("concepts").map(c => el("option", {value: c, text: c})));
  const clear = el("button", {type: "button", text: "clear mask", onclick: () => commit(model, {strokes: []})});
  const ranking = el("div", {class: "gs-ranking"});
  const images = el("div", {class: "gs-ablated"});
  const draw = () => {
    const best = model.get("ranking");
    ranking.textContent = best.length ? `best units: ${best.map(r => `${r.unit} (${r.score})`).join(", ")}` : "paint a mask on the sample";
    images.replaceChildren(...model.get("ablated").map(({top, image, left}) => el("figure", {},
      el("img", {src: image, alt: top ? `top ${top} off` : "original"}),
      el("figcaption", {text: (top ? `top ${top} off` : "original") + (left === null ? "" : `: ${(100 * left).toFixed(1)} % left`)}))));
  };
  model.on("change:ranking", draw);
  model.on("change:ablated", draw);
  draw();
  return el("div", {}, el("div", {class: "gs-controls"}, concept, clear), ranking, images);
}

const STYLE = `.gs-stage{position:relative;display:inline-block}.gs-stage img,.gs-stage canvas{position:absolute;left:0;top:0;width:100%;height:100%}
.gs-stage canvas{cursor:crosshair;touch-action:none}.gs-error{color:#b00}.gs-controls{margin:4px 0;display:flex;gap:6px;align-items:center;flex-wrap:wrap}
.gs-unit{margin:2px}.gs-off{background:#333;color:#fff;text-decoration:line-through}.gs-ablated{display:flex;gap:6px}
.gs-ablated img{width:128px;height:128px}.gs-ablated figure{margin:0}`;

function render({model, el: root}) {
  const view = {};
  const kind = model.get("kind");
  const onStroke = {
    paint: stroke => commit(model, {strokes: [...model.get("strokes"), {...stroke, mode: view.mode(), concept: view.concept()}]}),
    mask: stroke => commit(model, {strokes: [...model.get("strokes"), stroke]}),
  }[kind];
  const canvas = canvasView(model, () => (kind === "paint" ? COLORS[view.mode()] : COLORS.mask),
                            () => (view.radius ? view.radius() : 4), onStroke, kind === "mask");
  const parts = [el("style", {text: STYLE}), canvas.picker, el("div", {text: `layer ${model.get("layer")}`})];
  if (kind === "paint") parts.push(paintControls(model, view));
  parts.push(canvas.stage, canvas.error);
  if (kind === "units") parts.push(unitButtons(model));
  if (kind === "mask") parts.push(maskResults(model));
  root.classList.add("ganscope-widget");
  root.append(...parts);
}

export default { render };
