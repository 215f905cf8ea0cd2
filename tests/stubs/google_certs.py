"""A stand-in for Google's sign-in key endpoint, for tests of anything that accepts Google ID tokens.

``GoogleCertsStub`` serves a JWKS of locally generated RSA keys on 127.0.0.1 (threaded ``http.server``,
port 0) and signs ID tokens with them, so the app's real verification code runs end to end::

    with GoogleCertsStub() as google:
        app.config.update(GOOGLE_CERTS_URL=google.url, GOOGLE_CLIENT_IDS=[CLIENT_ID])
        token = google.id_token(email="mmarkovic1021rn@raf.rs", aud=CLIENT_ID)

``stranger_id_token`` signs with a key the stub does not publish (a forged token). ``requests`` counts
fetches of the key set, to observe caching.
"""
import json
import threading
import time
import uuid
from functools import cache
from http.server import BaseHTTPRequestHandler

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from tests.stubs import LocalServer

CLIENT_ID = "raf-network-test.apps.googleusercontent.com"
ISSUER = "https://accounts.google.com"
CERTS_PATH = "/oauth2/v3/certs"


@cache
def _private_key(name):
    """RSA keys are slow to generate; each named key is made once per test run."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


class GoogleCertsStub(LocalServer):
    def __init__(self):
        self.kid = "stub-key-1"
        self.requests = 0
        self._lock = threading.Lock()
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                if self.path.split("?")[0] != CERTS_PATH:
                    self.send_error(404)
                    return
                with stub._lock:
                    stub.requests += 1
                body = json.dumps(stub.jwks()).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "public, max-age=21600")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.serve(Handler)

    @property
    def url(self):
        return self.address + CERTS_PATH

    def jwks(self):
        public = RSAAlgorithm.to_jwk(_private_key(self.kid).public_key(), as_dict=True)
        return {"keys": [{**public, "kid": self.kid, "alg": "RS256", "use": "sig"}]}

    def claims(self, **overrides):
        """Claims of a valid ID token for ``CLIENT_ID``; ``overrides`` replace them (``None`` removes one)."""
        now = int(time.time())
        email = overrides.get("email", "mmarkovic1021rn@raf.rs")
        claims = {
            "iss": ISSUER, "aud": CLIENT_ID, "azp": CLIENT_ID, "sub": str(uuid.uuid5(uuid.NAMESPACE_URL, email or "-")),
            "email": email, "email_verified": True, "given_name": "Marko", "family_name": "Marković",
            "name": "Marko Marković", "iat": now, "exp": now + 3600,
        }
        claims.update(overrides)
        return {name: value for name, value in claims.items() if value is not None}

    def id_token(self, **overrides):
        """An ID token signed with the published key."""
        return jwt.encode(self.claims(**overrides), _private_key(self.kid), algorithm="RS256",
                          headers={"kid": self.kid})

    def stranger_id_token(self, **overrides):
        """An ID token that claims the published key id but is signed with another key (a forgery)."""
        return jwt.encode(self.claims(**overrides), _private_key("stranger"), algorithm="RS256",
                          headers={"kid": self.kid})

