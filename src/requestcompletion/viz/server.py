"""The viewer's HTTP server: the page, its assets, the runs as JSON, and live updates.

Built on the standard library's `ThreadingHTTPServer`: a viewer for one person's
saved runs serves one browser or two, so a thread per connection is plenty, and
the package gains no dependency, no event loop of its own and nothing to keep up
with. Live updates are server-sent events (`/api/events`), a plain HTTP response
that stays open: the `FolderWatcher` wakes the connection's thread when a file
changes, and it pushes the new data. A file that cannot be read is reported, never
raised: one bad file must not take the server down.
"""

from __future__ import annotations

import ipaddress
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from ..errors import SavedRunError
from ..state import ExecutionInfo
from ..state.persistence import inside_folder
from .diff import match_runs
from .model import run_files, run_model, runs_listing, summary, to_json
from .watch import FolderWatcher

__all__ = ["Viewer", "is_loopback"]

# The page may load only its own script and style and talk only to this server.
_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
_ASSETS = {
    "/": ("index.html", "text/html; charset=utf-8"),
    "/static/app.js": ("app.js", "text/javascript; charset=utf-8"),
    "/static/app.css": ("app.css", "text/css; charset=utf-8"),
}


def is_loopback(host: str) -> bool:
    """Whether `host` names this machine only (127.0.0.0/8, ::1 or localhost)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def asset(name: str) -> str:
    """The text of one of the page's files, shipped inside the package."""
    return (resources.files(__package__) / "static" / name).read_text(encoding="utf-8")


class _Loaded:
    """One version of a run file (size, mtime) as read, and what was made from it."""

    __slots__ = ("info", "page", "summary", "version")

    def __init__(self, version: tuple[int, int], info: ExecutionInfo) -> None:
        self.version, self.info = version, info
        self.summary: dict[str, Any] | None = None
        self.page: str | None = None  # the run's JSON for the page


class _Runs:
    """The state folder's runs, each read once per version of its file: every open page
    of a live run, and the runs list, reuse the same read."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._lock = threading.Lock()
        self._loaded: dict[Path, _Loaded] = {}

    def page(self, run_id: str) -> str | None:
        """The run's JSON for the page, None if there is no such run.

        Raises:
            SavedRunError: the run's file is unreadable.
        """
        path = run_files(self.folder).get(run_id)
        if path is None:
            return None
        try:
            loaded = self._load(path)
        except SavedRunError:
            if not path.exists():
                return None  # deleted between the listing and the read
            raise
        if loaded.page is None:
            loaded.page = to_json(run_model(loaded.info))
        return loaded.page

    def info(self, run_id: str) -> ExecutionInfo | None:
        path = run_files(self.folder).get(run_id)
        return None if path is None else self._load(path).info

    def listing(self) -> list[dict[str, Any]]:
        """The runs list; runs whose files are gone are forgotten."""
        current = set(run_files(self.folder).values())
        with self._lock:
            for gone in self._loaded.keys() - current:
                del self._loaded[gone]
        return runs_listing(self.folder, self._summary)

    def _summary(self, path: Path) -> dict[str, Any]:
        loaded = self._load(path)
        if loaded.summary is None:
            loaded.summary = summary(loaded.info)
        return loaded.summary

    def _load(self, path: Path) -> _Loaded:
        inside_folder(path, self.folder)  # as `runs` lists them: a link out is not followed
        try:
            stat = path.stat()
        except OSError:  # gone or unreadable: the loader says so, as SavedRunError
            return _Loaded((0, 0), ExecutionInfo.load(path))
        version = (stat.st_size, stat.st_mtime_ns)
        with self._lock:
            loaded = self._loaded.get(path)
        if loaded is None or loaded.version != version:
            loaded = _Loaded(version, ExecutionInfo.load(path))
            with self._lock:
                self._loaded[path] = loaded
        return loaded


class Viewer:
    """The run viewer, serving the runs of `state_dir` at `url`.

    Use it as a context manager (it serves on a background thread), or call
    `serve_forever()` in the foreground, as `requestcompletion viz` does.

    Args:
        state_dir: the folder runs are saved in.
        host: the address to listen on (loopback unless `allow_remote`).
        port: the port; 0 picks a free one.
        allow_remote: allow a `host` other machines can reach. The viewer shows
            everything your runs hold, with no login: only for a trusted network.

    Raises:
        ValueError: `host` is not a loopback address and `allow_remote` is False.
        OSError: the port cannot be bound.
    """

    def __init__(
        self,
        state_dir: str | Path,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        allow_remote: bool = False,
    ) -> None:
        if not allow_remote and not is_loopback(host):
            raise ValueError(
                f"the viewer serves on loopback addresses only, not host={host!r}: it has no "
                "login and shows everything your runs hold; pass --allow-remote (or "
                "allow_remote=True) to serve it to other machines"
            )
        self.runs = _Runs(Path(state_dir))
        self.allow_remote = allow_remote
        self.watcher = FolderWatcher(self.runs.folder)
        try:
            self._server = ThreadingHTTPServer((host, port), _Handler)
        except BaseException:
            self.watcher.close()
            raise
        self._server.daemon_threads = True
        self._server.viewer = self  # type: ignore[attr-defined]
        self._thread: threading.Thread | None = None
        bound_host, bound_port = self._server.server_address[:2]
        self.url = f"http://{bound_host!s}:{bound_port}/"

    def serve_forever(self) -> None:
        """Serve until `close()` is called (or Ctrl-C in the foreground)."""
        self._server.serve_forever()

    def start(self, *, daemon: bool = False) -> Viewer:
        """Serve on a background thread (a daemon one does not keep the process alive)."""
        thread = threading.Thread(target=self.serve_forever, name="rc-viz-http", daemon=daemon)
        self._thread = thread
        thread.start()
        return self

    def __enter__(self) -> Viewer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop serving, end every open event stream, release the port."""
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join()
            self._thread = None
        self.watcher.close()
        self._server.server_close()


class _Handler(BaseHTTPRequestHandler):
    server_version = "requestcompletion-viz"

    @property
    def viewer(self) -> Viewer:
        return self.server.viewer  # type: ignore[attr-defined,no-any-return]

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the terminal shows the URL, not a line per request

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        host = (self.headers.get("Host") or "").rsplit(":", 1)[0]
        if not self.viewer.allow_remote and not is_loopback(host):
            # a page on another site resolving its name to 127.0.0.1 must not read runs
            self._json({"error": f"unexpected Host header {host!r}"}, HTTPStatus.FORBIDDEN)
            return
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        path = url.path
        if path in _ASSETS:
            name, kind = _ASSETS[path]
            self._send(asset(name).encode(), kind)
        elif path == "/api/runs":
            self._json(self.viewer.runs.listing())
        elif path.startswith("/api/runs/"):
            self._run(unquote(path.removeprefix("/api/runs/")))
        elif path == "/api/diff":
            self._diff(query.get("a", ""), query.get("b", ""))
        elif path == "/api/events":
            self._events(query.get("run"))
        else:
            self._json({"error": f"no page {path!r} here"}, HTTPStatus.NOT_FOUND)

    def _run(self, run_id: str) -> None:
        try:
            page = self.viewer.runs.page(run_id)
        except SavedRunError as error:
            self._json({"error": str(error), "unreadable": True}, HTTPStatus.UNPROCESSABLE_ENTITY)
            return
        if page is None:
            self._json({"error": f"no run {run_id!r}", "gone": True}, HTTPStatus.NOT_FOUND)
            return
        self._send(page.encode(), "application/json")

    def _diff(self, left: str, right: str) -> None:
        try:
            a, b = self.viewer.runs.info(left), self.viewer.runs.info(right)
            if a is None or b is None:
                missing = left if a is None else right
                self._json({"error": f"no run {missing!r}", "gone": True}, HTTPStatus.NOT_FOUND)
                return
            # a loaded run's views may find it malformed: that too is a SavedRunError
            both = {"a": run_model(a), "b": run_model(b), "pairs": match_runs(a, b)}
        except SavedRunError as error:
            self._json({"error": str(error)}, HTTPStatus.UNPROCESSABLE_ENTITY)
            return
        self._json(both)

    def _events(self, run_id: str | None) -> None:
        box = self.viewer.watcher.subscribe()
        try:
            self.send_response(HTTPStatus.OK)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self._push("hello", "{}")
            while True:
                names = {box.get()}
                while not box.empty():  # one update for a burst of writes
                    names.add(box.get_nowait())
                if None in names:
                    return
                self._push("runs", to_json(self.viewer.runs.listing()))
                if run_id is not None and any(
                    n == "" or n.rsplit(".", 1)[0] == run_id for n in names if n is not None
                ):
                    self._push_run(run_id)
        except (BrokenPipeError, ConnectionResetError):
            return  # the page was closed
        finally:
            self.viewer.watcher.unsubscribe(box)
            self.close_connection = True

    def _push_run(self, run_id: str) -> None:
        try:
            page = self.viewer.runs.page(run_id)
        except SavedRunError as error:
            self._push("unreadable", to_json({"error": str(error)}))
            return
        if page is None:
            self._push("gone", to_json({"id": run_id}))
        else:
            self._push("run", page)

    def _push(self, event: str, data: str) -> None:
        """Send one server-sent event; `data` is JSON, which holds no raw newline."""
        self.wfile.write(f"event: {event}\ndata: {data}\n\n".encode())
        self.wfile.flush()

    def _json(self, data: Any, status: HTTPStatus = HTTPStatus.OK) -> None:
        self._send(to_json(data).encode(), "application/json", status)

    def _send(self, body: bytes, kind: str, status: HTTPStatus = HTTPStatus.OK) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Content-Security-Policy", _CSP)
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)
