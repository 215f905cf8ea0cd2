"""The cookie session of the console, and of nothing else: the API stays bearer-only and cookie-free.

Requests under ``/console`` get Flask's signed cookie session (``SESSION_COOKIE_*`` in config.py: HttpOnly,
SameSite=Lax, path ``/console``; ``Secure`` when the request came over TLS); every other request gets the same
empty, write-refusing null session as before (``extensions.NoSessionInterface``), so no API response ever reads
or sets a cookie. The cookie holds the console session's secret (see ``console.auth``), Flask-WTF's CSRF secret
and, during a Google sign-in, Authlib's state, nonce and PKCE verifier.
"""
from flask import request
from flask.sessions import SecureCookieSessionInterface

from raf_network.extensions import NoSessionInterface

CONSOLE_PREFIX = "/console"
SESSION_KEY = "console_session"  # the cookie session's key holding the console session's secret


def console_request():
    """Is this request one of the console's (its pages, static files and sign-in)?"""
    path = request.path
    return path == CONSOLE_PREFIX or path.startswith(CONSOLE_PREFIX + "/")


class ConsoleSessionInterface(SecureCookieSessionInterface):
    """A signed cookie session for console requests; the null session for all others."""

    null_session_class = NoSessionInterface.null_session_class

    def __init__(self):
        self._no_session = NoSessionInterface()

    def open_session(self, app, request):
        if not console_request():
            return self._no_session.open_session(app, request)
        return super().open_session(app, request)

    def save_session(self, app, session, response):
        if self.is_null_session(session):
            return None
        return super().save_session(app, session, response)

    def get_cookie_secure(self, app):
        # Behind TLS (directly, or through a router trusted by TRUSTED_PROXY_HOPS) the cookie is Secure; over plain
        # http (make run on 127.0.0.1) a Secure cookie would never come back.
        return request.is_secure
