"""Fixtures of the webhook tests."""
import pytest

from tests.webhook.helpers import deliver, raf_snapshot


@pytest.fixture
def snapshot_applied(app):
    """The app with the real RAF timetable applied through the webhook."""
    response = deliver(app, raf_snapshot())
    assert response.status_code == 200, response.get_json()
    return app
