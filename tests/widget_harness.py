"""A page that runs a widget's real front-end module against its real Python object, for the browser tests.

The page implements the anywidget front-end model interface (``get``, ``set``, ``save_changes``,
``on``, ``off``) over HTTP: ``save_changes`` posts the changed traits, the Python widget applies
them with ``set_state`` (its observers run as in a kernel) and the answer holds its new state,
whose changes the page announces as ``change:NAME`` events. Jupyter's comm does the same over a
websocket; this keeps the test free of a Jupyter server.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>widget</title></head><body><div id="root"></div>
<script type="module">
import widget from "/widget.js";
const state = await (await fetch("/state")).json();
const listeners = {};
let pending = {};
const emit = (name, value) => (listeners[name] || []).forEach(cb => cb(value));
const model = {
  get: key => state[key],
  set: (key, value) => { state[key] = value; pending[key] = value; emit(`change:${key}`, value); },
  on: (name, cb) => { (listeners[name] = listeners[name] || []).push(cb); },
  off: (name, cb) => { listeners[name] = (listeners[name] || []).filter(f => f !== cb); },
  save_changes: async () => {
    const changes = pending; pending = {};
    window.syncing = (window.syncing || 0) + 1;
    const fresh = await (await fetch("/sync", {method: "POST", body: JSON.stringify(changes)})).json();
    for (const [key, value] of Object.entries(fresh)) {
      if (JSON.stringify(state[key]) !== JSON.stringify(value)) { state[key] = value; emit(`change:${key}`, value); }
    }
    window.syncing -= 1;
    window.synced = (window.synced || 0) + 1;
  },
};
widget.render({model, el: document.getElementById("root")});
window.ready = true;
</script></body></html>"""


def _state(widget: Any) -> dict[str, Any]:
    return {k: v for k, v in widget.get_state().items() if not k.startswith("_")}


@contextmanager
def serve_widget(widget: Any) -> Iterator[str]:
    """Serve ``widget``'s page on a free loopback port; yields its URL."""
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def _send(self, body: bytes, kind: str) -> None:
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            if self.path == "/widget.js":
                self._send(str(widget._esm).encode(), "text/javascript")  # anywidget holds the module text
            elif self.path == "/state":
                with lock:
                    self._send(json.dumps(_state(widget)).encode(), "application/json")
            else:
                self._send(PAGE.encode(), "text/html")

        def do_POST(self) -> None:
            changes = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            with lock:
                widget.set_state(changes)
                self._send(json.dumps(_state(widget)).encode(), "application/json")

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
