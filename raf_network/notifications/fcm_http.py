"""The push sender's HTTP: one keep-alive HTTP/1.1 connection per sending thread, to FCM (or through the HTTPS
proxy the environment names, as a ``CONNECT`` tunnel), on the standard library's ``http.client``.

Why not urllib3 (which the sender used before): a fan-out is CPU-bound in one worker, and a pooled urllib3 request
cost about twice the CPU of the same request on ``http.client`` (measured: 570-616 against 275-304 µs per message,
100 threads against the local stub; docs/benchmarks.md, "Push fan-out"). What urllib3 gave and is kept here:

- a connection the server closed while idle is noticed before it is reused (it is readable: EOF), and replaced;
- a connection that cannot be made is tried once more (nothing was sent); a request sent without an answer is not
  (FCM may have it): it raises ``NoAnswer``, and the job's backoff retry sends it again;
- TLS checked against the environment's CA bundle, one timeout for the connect and each read.
"""
import base64
import http.client
import select
import socket
import ssl
import threading
from urllib.parse import unquote, urlsplit


class NoAnswer(Exception):
    """No HTTP answer: ``code`` is ``UNAVAILABLE`` (refused, reset, closed) or ``DEADLINE_EXCEEDED`` (timed out)."""

    def __init__(self, code, reason):
        super().__init__(f"{code}: {reason}")
        self.code = code


class ThreadConnections:
    """``exchange(body, headers)`` POSTs ``url`` on the calling thread's own connection: ``(status, body bytes)``."""

    def __init__(self, url, *, timeout, ca_bundle, proxy=None):
        target = urlsplit(url)
        self.https = target.scheme == "https"
        self.host, self.port = target.hostname, target.port or (443 if self.https else 80)
        self.path = target.path
        self.timeout = timeout
        self.tls = ssl.create_default_context(cafile=ca_bundle) if self.https else None
        self.proxy = _proxy_parse(proxy) if proxy else None
        self.local = threading.local()

    def exchange(self, body, headers):
        connection = self._connection()
        if connection.sock is None:
            self._connect(connection)
        try:
            connection.request("POST", self._request_target(), body=body, headers=headers)
            response = connection.getresponse()
            return response.status, response.read()
        except (OSError, http.client.HTTPException) as exc:
            connection.close()  # its state is unknown: the next request gets a new one
            raise NoAnswer(_code(exc), exc) from exc
        except BaseException:
            connection.close()  # whatever went wrong mid-request must not leave the thread's connection half used
            raise

    def _connection(self):
        connection = getattr(self.local, "connection", None)
        if connection is None:
            connection = self.local.connection = self._new()
        elif connection.sock is not None and _closed_by_peer(connection.sock):
            connection.close()
        return connection

    def _new(self):
        kind = http.client.HTTPSConnection if self.https else http.client.HTTPConnection
        options = {"context": self.tls} if self.https else {}
        if self.proxy is None:
            return kind(self.host, self.port, timeout=self.timeout, **options)
        connection = kind(self.proxy.hostname, self.proxy.port or 80, timeout=self.timeout, **options)
        if self.https:
            connection.set_tunnel(self.host, self.port, headers=self._proxy_authorization())
        return connection

    def _request_target(self):
        if self.proxy is not None and not self.https:  # a plain-HTTP request through a proxy names the whole URL
            return f"http://{self.host}:{self.port}{self.path}"
        return self.path

    def _proxy_authorization(self):
        if not self.proxy.username:
            return None
        user = f"{unquote(self.proxy.username)}:{unquote(self.proxy.password or '')}"
        return {"Proxy-Authorization": "Basic " + base64.b64encode(user.encode()).decode()}

    def _connect(self, connection):
        """Connect, once more if the first attempt fails: nothing has been sent yet."""
        try:
            connection.connect()
        except OSError:
            connection.close()
            try:
                connection.connect()
            except OSError as exc:
                connection.close()
                raise NoAnswer(_code(exc), exc) from exc


class ProxyUnsupported(ValueError):
    """The environment names a proxy this sender cannot use."""


def _proxy_parse(proxy):
    """The proxy's URL, ``http://`` when it names none (``HTTPS_PROXY=proxy.corp:3128``, as requests reads it).
    Only plain-HTTP proxies: the tunnel to FCM is TLS end to end, the hop to the proxy is not."""
    parsed = urlsplit(proxy if "://" in proxy else f"http://{proxy}")
    if parsed.scheme != "http" or not parsed.hostname:
        raise ProxyUnsupported(f"the proxy {proxy!r} is not usable: only http://host:port proxies are supported")
    return parsed


def _closed_by_peer(sock):
    """An idle keep-alive connection is readable only when the server closed it (or sent what it should not)."""
    poller = select.poll()
    poller.register(sock, select.POLLIN)
    return bool(poller.poll(0))


def _code(exc):
    return "DEADLINE_EXCEEDED" if isinstance(exc, (socket.timeout, TimeoutError)) else "UNAVAILABLE"
