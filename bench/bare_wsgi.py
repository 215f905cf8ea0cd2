"""The baseline for `make bench`: a bare WSGI app that serves the catalogue bytes the real app returned.

It does the least work a server of those same responses could do: no framework, no routing, no cache
check, no database, no logging. Each response carries the real app's own captured headers (same names,
same values, so the same header bytes on the wire) and its exact body:

- ``If-None-Match`` containing the captured ETag → 304 with the real app's 304 headers;
- ``Accept-Encoding`` mentioning gzip → the real app's gzipped bytes and headers;
- otherwise → the real app's raw JSON bytes and headers.

``BARE_DIR`` names the directory ``bench/benchlib.py capture`` wrote (``raw``/``gzip``/``304``: ``.body``
and ``.json`` with the status line and headers). Run under the same gunicorn settings as the real app:
``gunicorn -c gunicorn.conf.py bench.bare_wsgi:app``.
"""
import json
import os
from pathlib import Path

# Set per response by gunicorn or WSGI itself; everything else is replayed exactly.
_SERVER_HEADERS = {"date", "server", "connection", "transfer-encoding", "keep-alive"}


def _load(directory, variant):
    meta = json.loads((directory / f"{variant}.json").read_text(encoding="utf-8"))
    headers = [(name, value) for name, value in meta["headers"] if name.lower() not in _SERVER_HEADERS]
    body = (directory / f"{variant}.body").read_bytes()
    return meta["status_line"], headers, [body] if body else []


_DIR = Path(os.environ["BARE_DIR"])
_ETAG = (_DIR / "etag").read_text(encoding="ascii").strip()  # the opaque tag, without W/ and quotes
_RAW = _load(_DIR, "raw")
_GZIP = _load(_DIR, "gzip")
_NOT_MODIFIED = _load(_DIR, "304")


def app(environ, start_response):
    if _ETAG in environ.get("HTTP_IF_NONE_MATCH", ""):
        status, headers, body = _NOT_MODIFIED
    elif "gzip" in environ.get("HTTP_ACCEPT_ENCODING", ""):
        status, headers, body = _GZIP
    else:
        status, headers, body = _RAW
    start_response(status, headers)
    return body
