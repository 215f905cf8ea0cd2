"""The push sender's HTTP (notifications/fcm_http.py) on real sockets: FCM unreachable or silent is a transient
failure, a keep-alive connection the server closed is replaced before it is reused, and the production path — TLS
to fcm.googleapis.com through the environment's HTTPS proxy, checked against the environment's CA bundle — reaches
the stub (through its TLS-intercepting proxy), so nothing leaves 127.0.0.1."""
import socket
import threading
from contextlib import contextmanager

import pytest

from raf_network.notifications import push
from raf_network.notifications.fcm_http import NoAnswer, ThreadConnections
from tests.stubs.fcm import TlsInterceptingProxy, service_account


def _closed_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_fcm_refusing_connections_is_a_transient_failure():
    connections = ThreadConnections(f"http://127.0.0.1:{_closed_port()}/v1/send", timeout=2, ca_bundle=None)
    with pytest.raises(NoAnswer) as refused:
        connections.exchange(b"{}", {})
    assert refused.value.code == "UNAVAILABLE"


def test_fcm_not_answering_within_the_timeout_is_a_transient_failure():
    with socket.socket() as silent:  # accepts connections (the backlog), never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        connections = ThreadConnections(f"http://127.0.0.1:{silent.getsockname()[1]}/v1/send", timeout=0.3,
                                        ca_bundle=None)
        with pytest.raises(NoAnswer) as silence:
            connections.exchange(b"{}", {})
    assert silence.value.code == "DEADLINE_EXCEEDED"


class _ClosingServer:
    """Answers one request per connection, then closes it without saying so (no ``Connection: close``), as a
    server closing an idle keep-alive connection does; ``keep_alive``: answers every request of a connection."""

    def __init__(self, *, keep_alive=False):
        self.keep_alive = keep_alive
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.connections = 0
        self.closed = threading.Semaphore(0)  # released once per connection it has closed
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            with client:
                while self._answer(client) and self.keep_alive:
                    pass
            self.closed.release()

    @staticmethod
    def _answer(client):
        request = b""
        while not request.endswith(b"{}"):  # the headers, then the 2-byte body the tests send
            chunk = client.recv(65536)
            if not chunk:
                return False
            request += chunk
        client.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}")
        return True

    def close(self):
        self.listener.close()


@contextmanager
def _served(*, keep_alive):
    """A ``_ClosingServer`` and the sender's connections to it."""
    server = _ClosingServer(keep_alive=keep_alive)
    try:
        yield server, ThreadConnections(f"http://127.0.0.1:{server.listener.getsockname()[1]}/v1/send", timeout=5,
                                        ca_bundle=None)
    finally:
        server.close()


def test_a_connection_the_server_closed_while_idle_is_replaced_not_reused():
    with _served(keep_alive=False) as (server, connections):
        answers = []
        for _ in range(3):
            answers.append(connections.exchange(b"{}", {"Content-Length": "2"}))
            assert server.closed.acquire(timeout=5)  # the server has closed it before the next request
        assert answers == [(200, b"{}")] * 3
        assert server.connections == 3


def test_a_thread_keeps_its_connection_from_one_request_to_the_next():
    with _served(keep_alive=True) as (server, connections):
        assert [connections.exchange(b"{}", {"Content-Length": "2"}) for _ in range(3)] == [(200, b"{}")] * 3
        assert server.connections == 1


def test_a_surprise_mid_request_leaves_the_thread_a_usable_connection():
    with _served(keep_alive=True) as (_server, connections):
        with pytest.raises(UnicodeEncodeError):  # a header http.client cannot encode, after the request line
            connections.exchange(b"{}", {"Content-Length": "2", "X-Name": "Đorđe"})
        assert connections.exchange(b"{}", {"Content-Length": "2"}) == (200, b"{}")


def test_a_proxy_the_sender_cannot_use_stops_it_at_once(fcm_stub, tmp_path, monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", "https://proxy.example:443")
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    config = {"FIREBASE_CREDENTIALS": str(service_account(tmp_path, token_uri=f"{fcm_stub.url}/token")),
              "FIREBASE_PROJECT_ID": None, "FCM_URL": None, "PUSH_HTTP_TIMEOUT": 5.0, "PUSH_CONCURRENCY": 1,
              "PUSH_ANDROID_CHANNEL": "raf_notifications"}
    with pytest.raises(push.PushConfigurationError, match="only http://host:port proxies"):
        push.FcmSender(config, name="proxy-test")


@pytest.mark.parametrize("spelled", ["http://host:port", "host:port"])
def test_the_production_path_tls_to_fcm_through_the_environments_proxy_reaches_the_stub(fcm_stub, tmp_path,
                                                                                         monkeypatch, spelled):
    proxy = TlsInterceptingProxy(fcm_stub, tmp_path).start()
    try:  # a proxy without a scheme is plain HTTP, as requests reads it
        monkeypatch.setenv("HTTPS_PROXY", proxy.url if spelled == "http://host:port" else proxy.url[len("http://"):])
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", proxy.ca_path)
        for name in ("NO_PROXY", "no_proxy", "CURL_CA_BUNDLE"):
            monkeypatch.delenv(name, raising=False)
        config = {"FIREBASE_CREDENTIALS": str(service_account(tmp_path, token_uri=f"{fcm_stub.url}/token")),
                  "FIREBASE_PROJECT_ID": None, "FCM_URL": None, "PUSH_HTTP_TIMEOUT": 5.0, "PUSH_CONCURRENCY": 4,
                  "PUSH_ANDROID_CHANNEL": "raf_notifications"}
        sender = push.FcmSender(config, name="tls-test")
        content = push.PushContent(title="Naslov", body="Tekst", data={"type": "announcement"}, locale="sr-Latn",
                                   category="announcement")
        fcm_stub.script("gone", "UNREGISTERED")
        results = sender.send([push.PushItem(token=token, content=content) for token in ("tok-a", "tok-b", "gone")])
        sender.pool.shutdown()
    finally:
        proxy.stop()
    assert sender.url == "https://fcm.googleapis.com/v1/projects/raf-network-test/messages:send"
    assert [result.outcome for result in results] == [push.SENT, push.SENT, push.INVALID_TOKEN]
    assert sorted(fcm_stub.tokens_received()) == ["gone", "tok-a", "tok-b"]
