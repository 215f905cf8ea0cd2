"""A stand-in for the faculty's web server, for the importers' ``http(s)://`` sources.

``FileServerStub`` serves the files it is given on 127.0.0.1 (threaded ``http.server``, port 0)::

    with FileServerStub({"/raspored.csv": data}) as server:
        runner.invoke(args=["import-schedule", server.url("/raspored.csv")])

Any other path is a 404; ``status`` and ``delay`` override the answer of one path (an outage, a slow server),
``no_length`` leaves out Content-Length (a size cap must then stop the download itself).
"""
import time
from http.server import BaseHTTPRequestHandler

from tests.stubs import LocalServer


class FileServerStub(LocalServer):
    def __init__(self, files, *, status=None, delay=None, no_length=()):
        self.files, self.status, self.delay, self.no_length = dict(files), dict(status or {}), dict(delay or {}), \
            set(no_length)
        self.requests = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                stub.requests.append(self.path)
                time.sleep(stub.delay.get(self.path, 0))
                status = stub.status.get(self.path, 200 if self.path in stub.files else 404)
                body = stub.files.get(self.path, b"not found") if status == 200 else b"error"
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "text/csv; charset=utf-8")
                    if self.path not in stub.no_length:
                        self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout or a size cap under test)

            def log_message(self, *args):
                pass

        self.serve(Handler)

    def url(self, path):
        return self.address + path
