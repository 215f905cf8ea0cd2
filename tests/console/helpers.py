"""Test-client helpers for the console: a signed-in client (through a one-time link) and its forms' CSRF token."""
import re

from tests.console.conftest import console_link
from tests.factories import user_create

CSRF_FIELD = re.compile(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"')


class ConsoleClient:
    """A Flask test client signed in to the console as a new account of ``role``."""

    def __init__(self, app, *, role="faculty_administrator", email=None, **fields):
        self.app = app
        self.email = email or f"{role.replace('_', '.')}.{id(self)}@raf.rs"
        self.user_id = user_create(app, role=role, email=self.email, **fields)
        self.client = app.test_client()
        link = console_link(app, self.email).removeprefix(app.config["PUBLIC_URL"])
        assert self.client.get(link).status_code == 302

    def get(self, path, **kwargs):
        return self.client.get(path, **kwargs)

    def csrf_token(self, path="/console/"):
        return CSRF_FIELD.search(self.client.get(path).get_data(as_text=True)).group(1)

    def post(self, path, data=None, *, token=True, **kwargs):
        """A form post, with this session's CSRF token unless ``token`` is False (or another token string)."""
        data = dict(data or {})
        if token is True:
            data["csrf_token"] = self.csrf_token()
        elif token:
            data["csrf_token"] = token
        return self.client.post(path, data=data, **kwargs)

    def flashed(self, path="/console/"):
        """The page text after a redirect (flashed messages are shown once)."""
        return self.client.get(path).get_data(as_text=True)


def page_text(response):
    return response.get_data(as_text=True)
