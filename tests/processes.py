"""Real processes for fault-injection tests: a private Redis, a private PostgreSQL cluster and the `web`
process (gunicorn, as the Procfile runs it). Private servers are ours to stop and restart without
disturbing the shared services other tests use."""
import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

from tests.conftest import service_unavailable

ROOT = Path(__file__).resolve().parent.parent


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(check, timeout=20.0, interval=0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return True
        except Exception:
            pass
        time.sleep(interval)
    return False


class PrivateRedis:
    def __init__(self):
        if not shutil.which("redis-server"):
            service_unavailable("redis-server binary", "not installed")
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.dir = tempfile.mkdtemp(prefix="raf-redis-")
        self.process = None

    def start(self):
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", self.dir], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        import redis

        assert wait_until(lambda: redis.Redis.from_url(self.url).ping()), "private Redis did not start"

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)

    def close(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


class PrivatePostgres:
    """A throw-away PostgreSQL cluster (initdb) on a free port, trust auth, user postgres."""

    def __init__(self):
        binaries = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
        if not binaries:
            service_unavailable("PostgreSQL server binaries", "initdb not found")
        self.bin = Path(binaries[-1]).parent
        self.port = free_port()
        self.root = tempfile.mkdtemp(prefix="raf-pg-")
        self.data = os.path.join(self.root, "data")
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"
        os.chmod(self.root, 0o755)
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
        self._run("initdb", "-D", self.data, "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8")

    def _run(self, tool, *args):
        command = [str(self.bin / tool), *args]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=120)

    def _options(self):
        return f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.root} -c fsync=off"

    def start(self):
        self._run("pg_ctl", "-D", self.data, "-o", self._options(), "-w", "-l", os.path.join(self.root, "log"),
                  "start")

    def restart(self):
        self._run("pg_ctl", "-D", self.data, "-o", self._options(), "-m", "fast", "-w", "restart")

    def close(self):
        try:
            self._run("pg_ctl", "-D", self.data, "-m", "immediate", "-w", "stop")
        except subprocess.CalledProcessError:
            pass
        shutil.rmtree(self.root, ignore_errors=True)


class WebProcess:
    """The `web` process of the Procfile: gunicorn on wsgi:app, with the given environment."""

    def __init__(self, env, workers=2):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        full_env = {**os.environ, "APP_ENV": "production", "SECRET_KEY": "fault-test-secret-key-" + "x" * 20,
                    "WEBHOOK_SECRET": "whsec_" + "A" * 32,
                    "BIND_HOST": "127.0.0.1", "PORT": str(self.port), "WEB_CONCURRENCY": str(workers),
                    "LOG_LEVEL": "WARNING", **env}
        self.log = tempfile.NamedTemporaryFile(prefix="raf-web-", suffix=".log", delete=False)
        self.process = subprocess.Popen(
            [os.path.join(os.path.dirname(sys.executable), "gunicorn"), "-c", "gunicorn.conf.py", "wsgi:app"],
            cwd=ROOT, env=full_env, stdout=self.log, stderr=subprocess.STDOUT)
        if not wait_until(lambda: requests.get(self.url + "/healthz", timeout=1).status_code == 200, 30):
            self.close()
            raise AssertionError("web process did not start: " + Path(self.log.name).read_text()[-2000:])

    def get(self, path, **kwargs):
        kwargs.setdefault("timeout", 10)
        return requests.get(self.url + path, **kwargs)

    def close(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
        os.unlink(self.log.name)
