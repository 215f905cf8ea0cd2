"""Security headers on every response (a CSP per kind of page: the API, the Swagger page, the officers' console),
CORS (off unless configured) and ProxyFix behind a router."""
import base64
import hashlib
import re

from flask import current_app, request
from werkzeug.middleware.proxy_fix import ProxyFix

API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
# The officers' console: its own styles, scripts and images only (no inline script, nothing from another host), forms
# posting to itself. Sign-in with Google is a link, not a form, so form-action needs no other origin.
CONSOLE_CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
               "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
CONSOLE_PREFIX = "/console"
INLINE_SCRIPT = re.compile(rb"<script>(.*?)</script>", re.S)


def proxy_fix_install(app):
    """Trust ``TRUSTED_PROXY_HOPS`` proxies' X-Forwarded-For/-Proto/-Host (1 behind Heroku's router)."""
    hops = app.config["TRUSTED_PROXY_HOPS"]
    if hops > 0:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_port=hops)


def _docs_csp(response):
    """A strict CSP for the Swagger UI page: its assets from this app, and only the exact inline script it ships."""
    hashes = " ".join(
        "'sha256-" + base64.b64encode(hashlib.sha256(script).digest()).decode() + "'"
        for script in INLINE_SCRIPT.findall(response.get_data())
    )
    return (f"default-src 'none'; script-src 'self' {hashes}; style-src 'self'; img-src 'self' data:; "
            "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'")


def security_headers(response):
    headers = response.headers
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Referrer-Policy", "no-referrer")
    headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    if response.mimetype == "text/html" and request.path.rstrip("/").endswith("/docs"):
        headers["Content-Security-Policy"] = _docs_csp(response)
    elif request.path == CONSOLE_PREFIX or request.path.startswith(CONSOLE_PREFIX + "/"):
        headers.setdefault("Content-Security-Policy", CONSOLE_CSP)
    else:
        headers.setdefault("Content-Security-Policy", API_CSP)
    if request.is_secure:
        headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
    _cors(response)
    return response


def _cors(response):
    """Cross-origin access only for the origins in ``CORS_ORIGINS`` (the mobile app needs none)."""
    allowed = current_app.config["CORS_ORIGINS"]
    origin = request.headers.get("Origin")
    if not allowed or not origin:
        return
    response.vary.add("Origin")
    if origin not in allowed and "*" not in allowed:
        return
    response.headers["Access-Control-Allow-Origin"] = origin
    response.headers["Access-Control-Expose-Headers"] = "ETag, X-Request-ID, X-Unread-Count, Retry-After"
    if request.method == "OPTIONS":
        response.headers["Access-Control-Allow-Methods"] = "GET, POST, PATCH, DELETE, OPTIONS"
        response.headers["Access-Control-Allow-Headers"] = "Authorization, Content-Type, If-None-Match"
        response.headers["Access-Control-Max-Age"] = "600"
