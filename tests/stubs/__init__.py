"""Local stand-ins for the network peers the app talks to (tests replace the peer, never our code)."""
import threading
from http.server import ThreadingHTTPServer


class LocalServer:
    """A stub's HTTP server on 127.0.0.1 (a free port), serving from a thread between ``start`` and ``stop`` (or as a
    context manager)."""

    def serve(self, handler_class):
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler_class)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)

    @property
    def address(self):
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self):
        self._thread.start()
        return self

    def stop(self):
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.stop()
