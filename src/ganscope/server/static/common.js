// Shared by the paint page and the unit browser: JSON calls that surface the server's error message.
"use strict";

// GET without a body, POST with one; `method` overrides (PUT, DELETE).
async function api(path, body, method) {
  const options = {method: method || (body === undefined ? "GET" : "POST")};
  if (body !== undefined) {
    options.headers = {"Content-Type": "application/json"};
    options.body = JSON.stringify(body);
  }
  const response = await fetch(path, options);
  const data = await response.json().catch(() => ({detail: response.statusText}));
  if (!response.ok) throw new Error(data.detail || `HTTP ${response.status}`);
  return data;
}

function element(tag, attributes = {}, children = []) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (key === "text") node.textContent = value;
    else if (key.startsWith("data-")) node.setAttribute(key, value);
    else node[key] = value;
  }
  node.append(...children);
  return node;
}

function showStatus(message, isError = false) {
  const status = document.getElementById("status");
  status.textContent = message;
  status.classList.toggle("error", isError);
}

// Small generated images are shown smoothly upscaled, as GANPaint shows them; the "raw pixels"
// box shows them pixelated instead (the choice is kept for the next visit).
function setupRawPixels() {
  const box = document.getElementById("raw-pixels");
  const apply = () => document.body.classList.toggle("raw-pixels", box.checked);
  box.checked = localStorage.getItem("ganscope-raw-pixels") === "1";
  box.addEventListener("change", () => {
    localStorage.setItem("ganscope-raw-pixels", box.checked ? "1" : "0");
    apply();
  });
  apply();
}
document.addEventListener("DOMContentLoaded", setupRawPixels);
