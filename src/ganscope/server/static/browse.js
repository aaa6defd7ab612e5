// The unit browser: a layer's top units for a concept, with their top images; unchecking a unit
// ablates it (everywhere) on the chosen sample.
"use strict";

const form = document.getElementById("controls");
let ticket = 0;

function offUnits() {
  return [...document.querySelectorAll("#units input:not(:checked)")].map(box => Number(box.value));
}

async function renderSample() {
  const index = Number(form.index.value);
  const mine = ++ticket;
  document.getElementById("original").src = `/api/samples/${index}.png`;
  const off = offUnits();
  const edits = off.length ? [{mode: "remove", layer: form.layer.value, units: off}] : [];
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

async function loadUnits() {
  const query = new URLSearchParams({concept: form.concept.value, n: form.count.value});
  const container = document.getElementById("units");
  try {
    const units = await api(`/api/layers/${encodeURIComponent(form.layer.value)}/units?${query}`);
    container.replaceChildren(...units.map(u => element("label", {className: "unit", "data-unit": u.unit}, [
      element("img", {src: u.strip, alt: `unit ${u.unit} top samples`}),
      element("span", {}, [
        element("input", {type: "checkbox", checked: true, value: u.unit}),
        ` unit ${u.unit}: ${u.label} (${u.category}), IoU ${u.iou.toFixed(3)}`,
      ]),
    ])));
    renderSample();
  } catch (error) {
    showStatus(error.message, true);
  }
}

function setAll(on) {
  document.querySelectorAll("#units input").forEach(box => { box.checked = on; });
  renderSample();
}

(async () => {
  const info = await api("/api/info");
  form.layer.append(...info.layers.map(l => element("option", {value: l.name, text: `${l.name} (${l.units} units)`})));
  form.layer.value = info.paint.layer;
  form.concept.append(...info.concepts.map(c => element("option", {value: c.name, text: c.name})));
  form.layer.addEventListener("change", loadUnits);
  form.concept.addEventListener("change", loadUnits);
  form.count.addEventListener("change", loadUnits);
  form.index.addEventListener("change", renderSample);
  document.getElementById("units").addEventListener("change", renderSample);
  document.getElementById("all-on").addEventListener("click", () => setAll(true));
  document.getElementById("all-off").addEventListener("click", () => setAll(false));
  form.addEventListener("submit", event => event.preventDefault());
  loadUnits();
})().catch(error => showStatus(`cannot load the server's info: ${error.message}`, true));
