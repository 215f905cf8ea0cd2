"""Operator commands: flask webhook sign | send | replay."""
import json
import threading

import pytest
from werkzeug.serving import make_server

from tests.webhook.helpers import URL, deliver, deliveries, delta, entry_row, raf_snapshot


def test_replay_reapplies_a_stored_delivery_through_the_same_service(snapshot_applied):
    app = snapshot_applied
    entry = raf_snapshot()["data"]["schedule"][4]
    moved = deliver(app, delta(schedule=[{**entry, "classroom": "Raf01"}])).get_json()["delivery"]
    deliver(app, delta(timestamp="2026-11-26T11:00:00Z", schedule=[entry]))
    assert entry_row(app, entry["id"]).classroom == entry["classroom"]

    result = app.test_cli_runner().invoke(args=["webhook", "replay", str(moved)])

    assert result.exit_code == 0, result.output
    assert "applied: created 0, updated 1, removed 0" in result.output
    assert entry_row(app, entry["id"]).classroom == "Raf01"
    replay = deliveries(app)[-1]
    assert replay.signature == "replay" and replay.original_id == moved and replay.status == "applied"


def test_replay_keeps_the_mass_deletion_guard_unless_forced(snapshot_applied):
    app = snapshot_applied
    payload = raf_snapshot(force=True)
    payload["data"]["schedule"] = payload["data"]["schedule"][:10]
    deliver(app, payload)
    deliver(app, raf_snapshot(timestamp="2026-11-26T12:00:00Z"))  # everything back
    shrinking = deliveries(app)[-2].id
    runner = app.test_cli_runner()
    # The stored body says "force": true, so the guard does not apply to it either.
    assert runner.invoke(args=["webhook", "replay", str(shrinking)]).exit_code == 0
    assert len(app.test_client().get("/api/course-schedule").get_json()) == 10


def test_replay_of_an_unknown_delivery_fails_clearly(app):
    result = app.test_cli_runner().invoke(args=["webhook", "replay", "42"])
    assert result.exit_code == 1 and "does not exist" in result.output


def test_sign_prints_headers_the_endpoint_accepts(app, tmp_path):
    path = tmp_path / "snapshot.json"
    path.write_bytes(json.dumps(raf_snapshot()).encode())
    result = app.test_cli_runner().invoke(args=["webhook", "sign", str(path)])
    assert result.exit_code == 0, result.output
    headers = dict(line.split(": ", 1) for line in result.output.strip().splitlines())
    assert set(headers) == {"webhook-id", "webhook-timestamp", "webhook-signature"}
    response = app.test_client().post(URL, data=path.read_bytes(), headers=headers, content_type="application/json")
    assert response.status_code == 200 and response.get_json()["created"] == 400


@pytest.fixture
def served(embedded_app):
    """The app on a real HTTP server on an ephemeral port (the peer `flask webhook send` talks to)."""
    server = make_server("127.0.0.1", 0, embedded_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield embedded_app, f"http://127.0.0.1:{server.server_port}{URL}"
    server.shutdown()
    thread.join(timeout=5)


def test_send_signs_and_posts_over_http(served, tmp_path):
    app, url = served
    path = tmp_path / "snapshot.json"
    path.write_bytes(json.dumps(raf_snapshot()).encode())
    result = app.test_cli_runner().invoke(args=["webhook", "send", str(path), "--url", url])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("200 OK") and '"status": "applied"' in result.output.replace('":"', '": "')
    assert len(app.test_client().get("/api/course-schedule").get_json()) == 326


def test_send_with_the_wrong_secret_reports_the_401_and_exits_1(served, tmp_path):
    app, url = served
    path = tmp_path / "delta.json"
    path.write_bytes(json.dumps(delta(schedule=[])).encode())
    result = app.test_cli_runner().invoke(
        args=["webhook", "send", str(path), "--url", url, "--secret", "whsec_" + "Z" * 32])
    assert result.exit_code == 1 and result.output.startswith("401")
