"""Deliveries racing each other, as two gunicorn workers on the real PostgreSQL would receive them."""
import json
import threading

from tests.webhook.helpers import deliver, deliveries, delta, entry_row, raf_snapshot, signed_headers


def _race(*calls):
    """Run the calls at the same moment in threads; their results, in order."""
    barrier = threading.Barrier(len(calls))
    results = [None] * len(calls)

    def run(index, call):
        barrier.wait()
        results[index] = call()

    threads = [threading.Thread(target=run, args=(i, call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def _two_workers(make_pg_app):
    first, second = make_pg_app(), make_pg_app()
    assert deliver(first, raf_snapshot()).status_code == 200
    return first, second


def test_two_different_deliveries_at_once_apply_one_after_the_other(make_pg_app):
    first, second = _two_workers(make_pg_app)
    entry = raf_snapshot()["data"]["schedule"][7]
    to_a, to_b = delta(schedule=[{**entry, "classroom": "Raf-A"}]), delta(schedule=[{**entry, "classroom": "Raf-B"}])
    for _ in range(3):
        responses = _race(lambda: deliver(first, to_a), lambda: deliver(second, to_b))
        assert [r.status_code for r in responses] == [200, 200]
    stored = entry_row(first, entry["id"])
    # Six applies of the same entry, each diffed against the previous one's result: never a lost update.
    applied = [d for d in deliveries(first) if d.type == "courses.delta"]
    assert len(applied) == 6 and all(d.status == "applied" for d in applied)
    assert stored.sequence == sum(d.updated_count for d in applied)
    # Delivery ids are taken under the apply lock, so the highest id applied last and its room stands.
    assert stored.classroom == json.loads(applied[-1].raw_body)["data"]["schedule"][0]["classroom"]


def test_the_same_delivery_twice_at_once_applies_once(make_pg_app):
    first, second = _two_workers(make_pg_app)
    entry = raf_snapshot()["data"]["schedule"][9]
    body = json.dumps(delta(schedule=[{**entry, "classroom": "Raf-X"}])).encode()
    headers = signed_headers(first, body, webhook_id="msg_twice")
    responses = _race(lambda: deliver(first, body, headers=headers), lambda: deliver(second, body, headers=headers))
    assert sorted(r.get_json()["status"] for r in responses) == ["applied", "duplicate"]
    assert all(r.status_code == 200 for r in responses)
    assert len({r.get_json()["delivery"] for r in responses}) == 1
    stored = entry_row(first, entry["id"])
    assert stored.classroom == "Raf-X" and stored.sequence == 1
    assert sorted(d.status for d in deliveries(first) if d.webhook_id == "msg_twice") == ["applied", "duplicate"]
