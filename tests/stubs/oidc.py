"""A local stand-in for Google's OpenID Connect provider, for the console's "Sign in with Google" on 127.0.0.1.

``OidcStub`` serves (threaded ``http.server``, port 0):

- ``/.well-known/openid-configuration`` — the discovery document (issuer ``https://accounts.google.com``, as
  Google's; the endpoints below on 127.0.0.1);
- ``/authorize`` — consents at once for the person in ``stub.email`` (auto-consent): checks the client id, that the
  request is a code request with a PKCE S256 challenge, and redirects to ``redirect_uri`` with a code and the state;
- ``/token`` — exchanges a code once, for the client and redirect URI it was issued to, after checking the PKCE
  verifier against the challenge and the client's secret; answers with an ID token signed by the stub's key, carrying
  the nonce of the authorization request;
- ``/jwks`` — the stub's public key (point ``GOOGLE_CERTS_URL`` here too, so ``users/google.py`` verifies it).

Everything it was asked is recorded in ``stub.authorizations`` and ``stub.exchanges`` (with any refusal's reason).
"""
import base64
import hashlib
import json
import secrets
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt
from jwt.algorithms import RSAAlgorithm

from tests.stubs import LocalServer
from tests.stubs.google_certs import _private_key

ISSUER = "https://accounts.google.com"
WEB_CLIENT_ID = "raf-console-test.apps.googleusercontent.com"
WEB_CLIENT_SECRET = "console-test-secret"
KEY_NAME = "oidc-stub-key"


def _s256(verifier):
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode("ascii")).digest()).rstrip(b"=").decode("ascii")


class OidcStub(LocalServer):
    def __init__(self, *, client_id=WEB_CLIENT_ID, client_secret=WEB_CLIENT_SECRET):
        self.client_id, self.client_secret = client_id, client_secret
        self.email = "sluzba@raf.rs"
        self.given_name, self.family_name = "Studentska", "Služba"
        self.claims_override = {}
        self.authorizations = []  # every /authorize request's query (dict)
        self.exchanges = []       # every /token request: {"form": …, "refused": reason or None}
        self._codes = {}
        self._lock = threading.Lock()
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):  # noqa: N802 (http.server's naming)
                parts = urlsplit(self.path)
                query = {name: values[0] for name, values in parse_qs(parts.query).items()}
                if parts.path == "/.well-known/openid-configuration":
                    self._json(200, stub.discovery())
                elif parts.path == "/jwks":
                    self._json(200, stub.jwks())
                elif parts.path == "/authorize":
                    stub._authorize(self, query)
                else:
                    self._json(404, {"error": "not_found"})

            def do_POST(self):  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                form = {name: values[0] for name, values in parse_qs(self.rfile.read(length).decode()).items()}
                if urlsplit(self.path).path == "/token":
                    stub._token(self, form)
                else:
                    self._json(404, {"error": "not_found"})

            def _json(self, status, body):
                payload = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(payload)

            def _redirect(self, location):
                self.send_response(302)
                self.send_header("Location", location)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.serve(Handler)

    # ---- what it serves

    @property
    def base_url(self):
        return self.address

    @property
    def discovery_url(self):
        return self.base_url + "/.well-known/openid-configuration"

    @property
    def jwks_url(self):
        return self.base_url + "/jwks"

    def discovery(self):
        return {
            "issuer": ISSUER, "authorization_endpoint": self.base_url + "/authorize",
            "token_endpoint": self.base_url + "/token", "jwks_uri": self.jwks_url,
            "response_types_supported": ["code"], "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"], "scopes_supported": ["openid", "email", "profile"],
            "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
            "code_challenge_methods_supported": ["S256"],
        }

    def jwks(self):
        public = RSAAlgorithm.to_jwk(_private_key(KEY_NAME).public_key(), as_dict=True)
        return {"keys": [{**public, "kid": KEY_NAME, "alg": "RS256", "use": "sig"}]}

    def id_token(self, *, nonce, client_id):
        now = int(time.time())
        claims = {"iss": ISSUER, "aud": client_id, "azp": client_id, "sub": str(uuid.uuid5(uuid.NAMESPACE_URL,
                                                                                             self.email)),
                  "email": self.email, "email_verified": True, "given_name": self.given_name,
                  "family_name": self.family_name, "iat": now, "exp": now + 3600, "nonce": nonce}
        claims.update(self.claims_override)
        claims = {name: value for name, value in claims.items() if value is not None}
        return jwt.encode(claims, _private_key(KEY_NAME), algorithm="RS256", headers={"kid": KEY_NAME})

    # ---- the two steps of the flow

    def _authorize(self, handler, query):
        self.authorizations.append(query)
        refused = None
        if query.get("client_id") != self.client_id:
            refused = "unknown client_id"
        elif query.get("response_type") != "code":
            refused = "response_type must be code"
        elif query.get("code_challenge_method") != "S256" or not query.get("code_challenge"):
            refused = "PKCE with S256 is required"
        elif "openid" not in query.get("scope", "").split():
            refused = "scope must include openid"
        if refused or not query.get("redirect_uri"):
            handler._json(400, {"error": "invalid_request", "error_description": refused or "no redirect_uri"})
            return
        code = secrets.token_urlsafe(16)
        with self._lock:
            self._codes[code] = {"challenge": query["code_challenge"], "nonce": query.get("nonce"),
                                 "redirect_uri": query["redirect_uri"], "client_id": query["client_id"]}
        separator = "&" if "?" in query["redirect_uri"] else "?"
        handler._redirect(query["redirect_uri"] + separator + urlencode({"code": code, "state": query.get("state",
                                                                                                       "")}))

    def _client_credentials(self, handler, form):
        header = handler.headers.get("Authorization", "")
        if header.startswith("Basic "):
            client_id, _, secret = base64.b64decode(header[6:]).decode().partition(":")
            return client_id, secret
        return form.get("client_id"), form.get("client_secret")

    def _token(self, handler, form):
        with self._lock:
            issued = self._codes.pop(form.get("code", ""), None)
        client_id, secret = self._client_credentials(handler, form)
        refused = None
        if issued is None:
            refused = "unknown or used code"
        elif form.get("grant_type") != "authorization_code":
            refused = "grant_type must be authorization_code"
        elif client_id != issued["client_id"] or secret != self.client_secret:
            refused = "client authentication failed"
        elif form.get("redirect_uri") != issued["redirect_uri"]:
            refused = "redirect_uri differs from the authorization request's"
        elif not form.get("code_verifier") or _s256(form["code_verifier"]) != issued["challenge"]:
            refused = "PKCE verifier does not match the challenge"
        self.exchanges.append({"form": form, "refused": refused})
        if refused:
            handler._json(400, {"error": "invalid_grant", "error_description": refused})
            return
        handler._json(200, {"access_token": secrets.token_urlsafe(16), "token_type": "Bearer", "expires_in": 3599,
                            "scope": "openid email profile",
                            "id_token": self.id_token(nonce=issued["nonce"], client_id=client_id)})

    # ---- lifecycle

