// The unit browser: a layer's top units for a concept (or its artifact candidates, or its marked units),
// with their top images; unchecking a unit ablates it (everywhere) on the chosen sample. "mark as artifact"
// keeps a unit in the results directory's marked_units.json, which `ganscope artifacts --marked` ablates.
"use strict";

const form = document.getElementById("controls");
const container = document.getElementById("units");
let info = null;
let shown = {layer: "", marked: new Set(), ranks: new Map(), top: 0, score: null, features: null};
let ticket = 0;
let loading = 0;
let marking = 0;

function offUnits() {
  return [...document.querySelectorAll("#units input:not(:checked)")].map(box => Number(box.value));
}

async function renderSample() {
  const index = Number(form.index.value);
  const mine = ++ticket;
  document.getElementById("original").src = `/api/samples/${index}.png`;
  const off = offUnits();
  const edits = off.length ? [{mode: "remove", layer: shown.layer || form.layer.value, units: off}] : [];
  try {
    const result = await api("/api/intervene", {index, edits});
    if (mine !== ticket) return;
    const edited = document.getElementById("edited");
    edited.src = result.image;
    edited.dataset.version = String(Number(edited.dataset.version) + 1);
    showStatus(`${off.length} unit(s) off`);
  } catch (error) {
    showStatus(error.message, true);
  }
}

function rankText(candidate) {
  const what = candidate.rank <= shown.top ? `artifact candidate #${candidate.rank}` : `artifact rank ${candidate.rank}`;
  const score = shown.score === "discriminator" && candidate.discriminator !== null
    ? `D logit ${candidate.discriminator.toFixed(3)}`
    : candidate.kid !== null ? `KID ${candidate.kid.toFixed(4)}` : "";
  return `${what} of ${shown.ranks.size}` + (score ? `, ${score}` : "");
}

function card(u) {
  const candidate = shown.ranks.get(u.unit);
  const meta = [];
  if (info.marking) meta.push(element("button", {type: "button", className: "mark", "data-unit": u.unit}));
  if (candidate) {
    meta.push(element("span", {className: candidate.rank <= shown.top ? "rank candidate" : "rank",
                               text: rankText(candidate)}));
  }
  return element("label", {className: "unit", "data-unit": u.unit}, [
    element("img", {src: u.strip, alt: `unit ${u.unit} top samples`}),
    element("span", {}, [
      element("input", {type: "checkbox", checked: true, value: u.unit}),
      ` unit ${u.unit}: ${u.label} (${u.category}), IoU ${u.iou.toFixed(3)}`,
    ]),
    element("div", {className: "unit-meta"}, meta),
  ]);
}

// Mark toggles and the note under the controls follow `shown.marked`.
function showMarks() {
  document.querySelectorAll("#units button.mark").forEach(button => {
    const on = shown.marked.has(Number(button.dataset.unit));
    button.setAttribute("aria-pressed", String(on));
    button.textContent = on ? "✓ marked as artifact" : "mark as artifact";
    button.closest(".unit").classList.toggle("marked", on);
  });
  const layer = shown.layer;
  const parts = [];
  if (!info.marking) {
    parts.push("marking is off: the server was started without its results directory");
  } else if (shown.marked.size) {
    parts.push(`marked in ${layer}: ${[...shown.marked].sort((a, b) => a - b).join(", ")}; `,
               element("code", {text: `ganscope artifacts --layer ${layer} --results DIR --marked`}),
               " ablates them");
  } else {
    parts.push(`no units of ${layer} are marked as artifacts`);
  }
  if (shown.ranks.size) {
    parts.push(` · artifact ranking by ${shown.score} (features: ${shown.features}), top ${shown.top} are candidates`);
  }
  document.getElementById("marks").replaceChildren(...parts);
}

async function loadUnits() {
  const layer = form.layer.value;
  const view = form.view.value;
  const path = `/api/layers/${encodeURIComponent(layer)}`;
  const query = view === "concept" ? `?${new URLSearchParams({concept: form.concept.value, n: form.count.value})}`
                                   : "";
  form.concept.disabled = view !== "concept";
  const mine = ++loading;
  try {
    const [units, ranking, marked] = await Promise.all([
      api(`${path}/units${query}`),
      api(`${path}/candidates`),
      info.marking ? api(`${path}/marked`) : Promise.resolve({units: []}),
    ]);
    if (mine !== loading) return;
    shown = {layer, marked: new Set(marked.units), ranks: new Map(ranking.units.map(c => [c.unit, c])),
             top: ranking.top, score: ranking.score, features: ranking.features};
    form.view.querySelector("option[value=candidates]").disabled = !ranking.units.length;
    let chosen = units;
    let empty = "no units";
    if (view === "candidates") {
      chosen = units.filter(u => shown.ranks.has(u.unit))
        .sort((a, b) => shown.ranks.get(a.unit).rank - shown.ranks.get(b.unit).rank)
        .slice(0, Math.max(1, Number(form.count.value) || 20));
      empty = `no artifact ranking of ${layer} in the results directory: run \`ganscope artifacts --layer ${layer}\``;
    } else if (view === "marked") {
      chosen = units.filter(u => shown.marked.has(u.unit));
      empty = `no units of ${layer} are marked as artifacts`;
    }
    container.replaceChildren(...(chosen.length ? chosen.map(card) : [element("p", {className: "note", text: empty})]));
    showMarks();
    renderSample();
  } catch (error) {
    showStatus(error.message, true);
  }
}

async function toggleMark(button) {
  const unit = Number(button.dataset.unit);
  const layer = shown.layer;
  const on = button.getAttribute("aria-pressed") !== "true";
  const mine = ++marking;
  button.disabled = true;
  try {
    const result = await api(`/api/layers/${encodeURIComponent(layer)}/units/${unit}/mark`, undefined,
                             on ? "PUT" : "DELETE");
    if (layer !== shown.layer) return;
    if (mine === marking) shown.marked = new Set(result.units);  // the latest answer holds every earlier change
    else if (on) shown.marked.add(unit);
    else shown.marked.delete(unit);
    showMarks();
    showStatus(`unit ${unit} of ${layer} ${on ? "marked as artifact" : "unmarked"}`);
  } catch (error) {
    showStatus(error.message, true);
  } finally {
    button.disabled = false;
  }
}

function setAll(on) {
  document.querySelectorAll("#units input").forEach(box => { box.checked = on; });
  renderSample();
}

function markedOff() {
  document.querySelectorAll("#units input").forEach(box => { box.checked = !shown.marked.has(Number(box.value)); });
  renderSample();
}

(async () => {
  info = await api("/api/info");
  form.layer.append(...info.layers.map(l => element("option", {value: l.name, text: `${l.name} (${l.units} units)`})));
  form.layer.value = info.paint.layer;
  form.concept.append(...info.concepts.map(c => element("option", {value: c.name, text: c.name})));
  form.layer.addEventListener("change", loadUnits);
  form.view.addEventListener("change", loadUnits);
  form.concept.addEventListener("change", loadUnits);
  form.count.addEventListener("change", loadUnits);
  form.index.addEventListener("change", renderSample);
  container.addEventListener("change", renderSample);
  container.addEventListener("click", event => {
    const button = event.target.closest("button.mark");
    if (!button) return;
    event.preventDefault();  // a click on the toggle is not a click on the card's checkbox
    toggleMark(button);
  });
  document.getElementById("all-on").addEventListener("click", () => setAll(true));
  document.getElementById("all-off").addEventListener("click", () => setAll(false));
  document.getElementById("marked-off").addEventListener("click", markedOff);
  document.getElementById("marked-off").hidden = !info.marking;
  form.addEventListener("submit", event => event.preventDefault());
  loadUnits();
})().catch(error => showStatus(`cannot load the server's info: ${error.message}`, true));
