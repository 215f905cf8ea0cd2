"""The console's browser harness: the app served on 127.0.0.1, headless Chromium driven by Playwright.

- ``live_server(app)``: the app on a threaded WSGI server on 127.0.0.1 (a free port), ``PUBLIC_URL`` pointed at it.
- ``browse(server)``: a fresh browser context (its own cookies) on that server. Every request the page makes is
  logged; one to any host but 127.0.0.1 is aborted, and the test fails at teardown (nothing leaves the machine).
- ``console_link(app, email)``: a one-time sign-in link, printed by ``flask users console-link`` (its last line).
- ``embedded_console`` / ``staff_page``: the embedded default (as ``make run``) served live, and a faculty
  administrator signed in there through a one-time link.

Chromium is Debian's (``/usr/bin/chromium``, installed by ``.ci/run``); Playwright's own browser download is never
used. Without it the browser tests skip loudly here and fail under ``CI=true``.
"""
import threading
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from werkzeug.serving import make_server

from tests.conftest import service_unavailable
from tests.factories import user_create

CHROMIUM = "/usr/bin/chromium"
LOCAL_HOST = "127.0.0.1"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


class LiveServer:
    """``app`` on 127.0.0.1:<free port>, threaded (the page's assets load in parallel), until ``close``."""

    def __init__(self, app):
        self.app = app
        self._server = make_server(LOCAL_HOST, 0, app, threaded=True)
        self.url = f"http://{LOCAL_HOST}:{self._server.server_port}"
        app.config["PUBLIC_URL"] = self.url  # one-time links and the OpenID Connect redirect URI point here
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def close(self):
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)


@pytest.fixture
def live_server():
    servers = []

    def serve(app):
        server = LiveServer(app)
        servers.append(server)
        return server

    yield serve
    for server in servers:
        server.close()


@pytest.fixture(scope="session")
def chromium():
    if not Path(CHROMIUM).exists():
        service_unavailable("Chromium (Debian's chromium package)", f"{CHROMIUM} not found; .ci/run installs it")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield browser
        browser.close()


class Browsing:
    """One browser context (cookies of its own) and its page, with every request it made."""

    def __init__(self, browser, server, viewport):
        self.server = server
        self.requests = []  # every URL the page asked for, redirects followed included
        self.context = browser.new_context(base_url=server.url, viewport=viewport)
        self.context.set_default_timeout(20_000)
        self.context.on("request", lambda request: self.requests.append(request.url))
        self.context.route("**/*", self._guard)
        self.page = self.context.new_page()

    @property
    def outside(self):
        """Requests for any host but 127.0.0.1."""
        return [url for url in self.requests if urlsplit(url).hostname != LOCAL_HOST]

    @staticmethod
    def _guard(route):
        # Nothing may leave the machine: a request for another host is not even attempted.
        if urlsplit(route.request.url).hostname != LOCAL_HOST:
            route.abort()
        else:
            route.continue_()

    def cookies(self):
        return {cookie["name"]: cookie for cookie in self.context.cookies()}


@pytest.fixture
def browse(chromium):
    opened = []

    def open_browser(server, viewport=DESKTOP):
        browsing = Browsing(chromium, server, viewport)
        opened.append(browsing)
        return browsing

    yield open_browser
    for browsing in opened:
        browsing.context.close()
    outside = [url for browsing in opened for url in browsing.outside]
    assert not outside, f"requests left 127.0.0.1: {outside}"
    assert all(browsing.requests for browsing in opened), "a browser made no request at all"


def console_link(app, email):
    """A one-time sign-in link, as an operator gets it: the last line ``flask users console-link EMAIL`` prints."""
    result = app.test_cli_runner().invoke(args=["users", "console-link", email])
    assert result.exit_code == 0, result.output
    return result.output.strip().splitlines()[-1]


@pytest.fixture
def embedded_console(embedded_app, live_server):
    """The embedded default (SQLite, inline jobs, pushes recorded), served on 127.0.0.1."""
    return live_server(embedded_app)


@pytest.fixture
def staff_page(embedded_console, browse):
    """A faculty administrator signed in to the embedded console through a one-time link (the Browsing)."""
    user_create(embedded_console.app, role="faculty_administrator", email="referent@raf.rs",
                first_name="Ana", last_name="Referentić")
    browsing = browse(embedded_console)
    browsing.page.goto(console_link(embedded_console.app, "referent@raf.rs"))
    assert browsing.page.url == embedded_console.url + "/console/"
    return browsing
