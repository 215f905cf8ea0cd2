"""Where an import file comes from: a local path or an ``http(s)://`` URL (RAF publishes its files online).

``import_text_read`` gives the file's text, or raises ``SourceUnreadable`` with a message an operator can act
on (missing file, 4xx/5xx, unreachable host, too large, not UTF-8). Downloads have a timeout and a size cap
(``IMPORT_FETCH_TIMEOUT``, ``IMPORT_MAX_BYTES``), and the body is read in chunks so a huge answer is cut off
without being held in memory.
"""
from pathlib import Path

import requests
from flask import current_app

from raf_network.errors import ApiError

CHUNK_BYTES = 64 * 1024


class SourceUnreadable(ApiError):
    """The file could not be read; the message says why."""

    code = 422


def is_url(location):
    return location.lower().startswith(("http://", "https://"))


def import_text_read(location):
    """The text of the file at ``location`` (a path or an http(s) URL), decoded as UTF-8."""
    max_bytes = current_app.config["IMPORT_MAX_BYTES"]
    data = _download(location, max_bytes) if is_url(location) else _file_read(location, max_bytes)
    return import_text_decode(data, name=location)


def import_text_decode(data, *, name):
    """An import file's bytes (read, downloaded or uploaded) as text: UTF-8 (a byte-order mark is kept; the parsers
    set it aside), or SourceUnreadable (422) naming ``name`` and the first bad byte."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SourceUnreadable(f"{name} is not UTF-8 text (byte {exc.start}); save it as UTF-8") from None


def _file_read(location, max_bytes):
    path = Path(location)
    if not path.is_file():
        raise SourceUnreadable(f"{location}: no such file")
    if path.stat().st_size > max_bytes:
        raise SourceUnreadable(f"{location} is larger than IMPORT_MAX_BYTES ({max_bytes} bytes)")
    return path.read_bytes()


def _download(url, max_bytes):
    timeout = current_app.config["IMPORT_FETCH_TIMEOUT"]
    try:
        with requests.get(url, stream=True, timeout=timeout) as response:
            if response.status_code >= 400:
                raise SourceUnreadable(f"GET {url} answered {response.status_code} {response.reason}")
            declared = response.headers.get("Content-Length")
            if declared and declared.isdigit() and int(declared) > max_bytes:
                raise SourceUnreadable(f"{url} is larger than IMPORT_MAX_BYTES ({max_bytes} bytes)")
            body = bytearray()
            for chunk in response.iter_content(CHUNK_BYTES):
                body.extend(chunk)
                if len(body) > max_bytes:
                    raise SourceUnreadable(f"{url} is larger than IMPORT_MAX_BYTES ({max_bytes} bytes)")
            return bytes(body)
    except requests.Timeout:
        raise SourceUnreadable(f"{url} did not answer within {timeout:g} s (IMPORT_FETCH_TIMEOUT)") from None
    except requests.RequestException as exc:
        raise SourceUnreadable(f"{url} is unreachable: {exc.__class__.__name__}") from None
