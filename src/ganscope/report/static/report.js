// ganscope report: filter, search and sort unit cards. Plain JavaScript, no dependencies.
"use strict";

// "12, 40-47" -> a predicate on unit numbers; an empty query matches every unit.
function unitMatcher(query) {
  const ranges = [];
  for (const part of query.split(",")) {
    const m = part.trim().match(/^(\d+)(?:\s*-\s*(\d+))?$/);
    if (m) ranges.push([Number(m[1]), Number(m[2] ?? m[1])]);
  }
  if (!query.trim()) return () => true;
  return (unit) => ranges.some(([lo, hi]) => unit >= lo && unit <= hi);
}

function setupFilters(section) {
  const form = section.querySelector(".filters");
  const container = section.querySelector(".cards");
  const cards = Array.from(container.querySelectorAll(".card"));
  const selects = Array.from(form.querySelectorAll("[data-filter]"));
  const search = form.querySelector("[data-search]");
  const onlyGood = form.querySelector("[data-only-interpretable]");
  const sort = form.querySelector("[data-sort]");
  const count = form.querySelector("[data-count]");

  function apply() {
    const wanted = selects.map((s) => [s.dataset.filter, s.value]).filter(([, v]) => v !== "");
    const matches = unitMatcher(search ? search.value : "");
    let shown = 0;
    for (const card of cards) {
      const ok = wanted.every(([key, value]) => card.dataset[key] === value) &&
        matches(Number(card.dataset.unit)) &&
        (!onlyGood || !onlyGood.checked || card.dataset.interpretable === "1");
      card.hidden = !ok;
      if (ok) shown += 1;
    }
    if (count) count.textContent = `showing ${shown} of ${cards.length} units`;
  }

  function reorder() {
    const key = sort.value === "unit"
      ? (a, b) => Number(a.dataset.unit) - Number(b.dataset.unit)
      : (a, b) => Number(b.dataset.iou) - Number(a.dataset.iou) || Number(a.dataset.unit) - Number(b.dataset.unit);
    container.append(...cards.slice().sort(key));
  }

  // A link such as layer-layer4.html#concept=door or #unit=12 opens the page filtered.
  function fromHash() {
    const params = new URLSearchParams(location.hash.slice(1));
    for (const s of selects) {
      const value = params.get(s.name);
      if (value !== null && Array.from(s.options).some((o) => o.value === value)) s.value = value;
    }
    if (search && params.has("unit")) search.value = params.get("unit");
  }

  form.addEventListener("input", apply);
  form.addEventListener("change", apply);
  if (sort) sort.addEventListener("change", reorder);
  window.addEventListener("hashchange", () => { fromHash(); apply(); });
  fromHash();
  apply();
}

document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("[data-filterable]").forEach(setupFilters);
});
