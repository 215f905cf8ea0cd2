"""Fixtures for the users tests: a stand-in for Google's key endpoint, and an app that trusts it."""
import pytest

from tests.stubs.google_certs import CLIENT_ID, GoogleCertsStub


@pytest.fixture
def google():
    with GoogleCertsStub() as stub:
        yield stub


@pytest.fixture
def signin_app(app, google):
    """``app`` (SQLite and PostgreSQL+Redis) verifying Google ID tokens against the local stub."""
    app.config.update(GOOGLE_CERTS_URL=google.url, GOOGLE_CLIENT_IDS=["another-client-id", CLIENT_ID])
    return app


def sign_in(app, id_token, **extra):
    """POST /api/google-login the way the released app does."""
    return app.test_client().post("/api/google-login", json={"id_token": id_token, "access_token": "ya29.x", **extra})
