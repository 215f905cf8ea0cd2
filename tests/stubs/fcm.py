"""A local stand-in for FCM's HTTP v1 API and Google's OAuth token endpoint, on 127.0.0.1.

Threaded (the push sender sends many requests concurrently). Each token can be scripted with a list of
answers, used one per request (the last one repeats): ``"ok"``, ``"UNREGISTERED"``,
``"SENDER_ID_MISMATCH"``, ``"INVALID_TOKEN"`` (INVALID_ARGUMENT naming the registration token),
``"INVALID_ARGUMENT"`` (a payload problem), ``"QUOTA_EXCEEDED"``, ``"UNAVAILABLE"``, ``"INTERNAL"``,
``"THIRD_PARTY_AUTH_ERROR"``, ``"AUTH_EXPIRED"`` (401 UNAUTHENTICATED: the OAuth access token is no longer
accepted), ``"BAD_GATEWAY"`` (a 502 HTML page from a proxy in between). Every request is recorded.
``service_account(tmp_path)`` writes an offline service-account JSON (a fresh RSA key) whose ``token_uri`` is this
stub, so nothing ever reaches Google. ``TlsInterceptingProxy`` puts the stub behind TLS at Google's own host names.
"""
import itertools
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

ACCESS_TOKEN = "stub-access-token"
FCM_ERROR = "type.googleapis.com/google.firebase.fcm.v1.FcmError"

# answer → (HTTP status, google.rpc status, FCM error code or None, message, extra details)
ERRORS = {
    "UNREGISTERED": (404, "NOT_FOUND", "UNREGISTERED", "Requested entity was not found.", []),
    "SENDER_ID_MISMATCH": (403, "PERMISSION_DENIED", "SENDER_ID_MISMATCH", "SenderId mismatch", []),
    "INVALID_TOKEN": (400, "INVALID_ARGUMENT", "INVALID_ARGUMENT",
                      "The registration token is not a valid FCM registration token",
                      [{"@type": "type.googleapis.com/google.rpc.BadRequest", "fieldViolations": [
                          {"field": "message.token",
                           "description": "The registration token is not a valid FCM registration token"}]}]),
    "INVALID_ARGUMENT": (400, "INVALID_ARGUMENT", "INVALID_ARGUMENT",
                         "Invalid value at 'message.data[0].value'",
                         [{"@type": "type.googleapis.com/google.rpc.BadRequest", "fieldViolations": [
                             {"field": "message.data[0].value", "description": "Invalid value"}]}]),
    "QUOTA_EXCEEDED": (429, "RESOURCE_EXHAUSTED", "QUOTA_EXCEEDED", "Quota exceeded.", []),
    "UNAVAILABLE": (503, "UNAVAILABLE", "UNAVAILABLE", "The service is currently unavailable.", []),
    "INTERNAL": (500, "INTERNAL", "INTERNAL", "Internal error encountered.", []),
    "THIRD_PARTY_AUTH_ERROR": (401, "UNAUTHENTICATED", "THIRD_PARTY_AUTH_ERROR",
                               "Auth error from APNS or Web Push Service", []),
}


class FcmStub:
    def __init__(self, *, record_bodies=True):
        self.record_bodies = record_bodies
        self.lock = threading.Lock()
        self.scripts = {}
        self.requests = []       # {"token": …, "message": …} per send request, in arrival order
        self.token_requests = 0  # OAuth token exchanges
        self.sent = 0            # messages answered with success
        self.received = 0        # send requests of any outcome
        self._ids = itertools.count(1)
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as firebase-admin's pooled session expects
            disable_nagle_algorithm = True  # one small reply must not wait for a delayed ACK (40 ms)

            def log_message(self, *args):
                pass

            def do_POST(self):  # noqa: N802 (http.server's naming)
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                if self.path == "/token":
                    stub._token(self, raw)
                elif self.path.endswith("/messages:send"):
                    stub._send(self, raw)
                else:
                    self._reply(404, {"error": {"code": 404, "message": "no such path", "status": "NOT_FOUND"}})

            def _reply(self, status, body):
                payload = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=UTF-8")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            request_queue_size = 1024

        self.server = Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self):
        self._thread.start()
        return self

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    def script(self, token, *answers):
        """Answer ``token``'s requests with ``answers`` in turn; the last one repeats."""
        with self.lock:
            self.scripts[token] = list(answers)

    def tokens_received(self):
        with self.lock:
            return [request["token"] for request in self.requests]

    def _answer_for(self, token):
        with self.lock:
            answers = self.scripts.get(token)
            if not answers:
                return "ok"
            return answers.pop(0) if len(answers) > 1 else answers[0]

    def _token(self, handler, raw):
        form = parse_qs(raw.decode())
        with self.lock:
            self.token_requests += 1
        if form.get("grant_type") != ["urn:ietf:params:oauth:grant-type:jwt-bearer"] or not form.get("assertion"):
            handler._reply(400, {"error": "invalid_grant"})
            return
        handler._reply(200, {"access_token": ACCESS_TOKEN, "expires_in": 3600, "token_type": "Bearer"})

    def _send(self, handler, raw):
        if handler.headers.get("Authorization") != f"Bearer {ACCESS_TOKEN}":
            handler._reply(401, {"error": {"code": 401, "message": "Request had invalid authentication "
                                                                   "credentials.", "status": "UNAUTHENTICATED"}})
            return
        message = json.loads(raw)["message"]
        token = message.get("token")
        answer = self._answer_for(token)
        with self.lock:
            self.received += 1
            self.requests.append({"token": token, "message": message if self.record_bodies else None,
                                  "answer": answer, "path": handler.path})
            if answer == "ok":
                self.sent += 1
        if answer == "ok":
            handler._reply(200, {"name": f"projects/stub/messages/{next(self._ids)}"})
            return
        if answer == "AUTH_EXPIRED":
            handler._reply(401, {"error": {"code": 401, "status": "UNAUTHENTICATED",
                                           "message": "Request had invalid authentication credentials."}})
            return
        if answer == "BAD_GATEWAY":
            page = b"<html><body>502 Bad Gateway</body></html>"
            handler.send_response(502)
            handler.send_header("Content-Type", "text/html")
            handler.send_header("Content-Length", str(len(page)))
            handler.end_headers()
            handler.wfile.write(page)
            return
        status, rpc_status, fcm_code, text, details = ERRORS[answer]
        handler._reply(status, {"error": {
            "code": status, "message": text, "status": rpc_status,
            "details": [{"@type": FCM_ERROR, "errorCode": fcm_code}, *details],
        }})


def service_account(directory, *, token_uri, project_id="raf-network-test"):
    """Write an offline service-account JSON file (a fresh RSA key, token_uri → the stub); return its path."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    info = {
        "type": "service_account", "project_id": project_id, "private_key_id": "stub-key",
        "private_key": pem, "client_email": f"push@{project_id}.iam.gserviceaccount.com",
        "client_id": "1", "token_uri": token_uri,
    }
    path = directory / "service-account.json"
    path.write_text(json.dumps(info))
    return path


class TlsInterceptingProxy:
    """An HTTPS proxy (``CONNECT``) that answers every tunnel itself, with TLS under a certificate of a throw-away
    CA, and serves the requests inside with ``stub``'s handler.

    firebase-admin's FCM endpoint is fixed (``https://fcm.googleapis.com``); with ``HTTPS_PROXY`` set to this proxy
    and the CA trusted (``REQUESTS_CA_BUNDLE``/``SSL_CERT_FILE`` = ``ca_path``), its real code path — TLS included —
    reaches the stub. Used by bench/fcm_sender_bench.py to measure firebase-admin's ``send_each``.
    """

    def __init__(self, stub, directory, hosts=("fcm.googleapis.com", "oauth2.googleapis.com")):
        import ssl

        self.ca_path, cert_path, key_path = _certificates(directory, hosts)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert_path, key_path)
        handler_class = stub.server.RequestHandlerClass

        class Tunnel(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_CONNECT(self):  # noqa: N802 (http.server's naming)
                self.send_response(200, "Connection established")
                self.end_headers()
                self.wfile.flush()
                tls = context.wrap_socket(self.connection, server_side=True)
                handler_class(tls, self.client_address, stub.server)  # serves the keep-alive requests inside
                self.close_connection = True

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            request_queue_size = 1024

        self.server = Server(("127.0.0.1", 0), Tunnel)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self):
        self._thread.start()
        return self

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def _certificates(directory, hosts):
    """A CA and a certificate for ``hosts`` signed by it, as PEM files in ``directory``."""
    from datetime import datetime, timedelta, timezone

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.now(timezone.utc)
    ca_key, leaf_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "raf-network test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(hours=1))
          .not_valid_after(now + timedelta(days=2))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                       content_commitment=False, key_encipherment=False, data_encipherment=False,
                                       key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))
    leaf = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0])]))
            .issuer_name(ca_name).public_key(leaf_key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(hours=1)).not_valid_after(now + timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(host) for host in hosts]), critical=False)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    paths = [directory / name for name in ("ca.pem", "leaf.pem", "leaf.key")]
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(leaf_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                serialization.NoEncryption()))
    return [str(path) for path in paths]
