"""Pregled (accounts, devices, subscriptions, the last delivery, the 14-day push chart) and Dnevnik (the audit
log: who, what, on what, when, from where; newest first, paginated); both in a constant number of queries."""
import re
from datetime import datetime, time, timedelta, timezone

from sqlalchemy import select

from raf_network.console.models import AuditEntry
from raf_network.courses.catalogue import catalogue_plan, catalogue_write
from raf_network.courses.models import ScheduleEntry
from raf_network.extensions import db
from raf_network.notifications.models import Notification
from raf_network.users.models import Device, Subscription
from raf_network.webhook.models import WebhookDelivery
from tests.conftest import count_queries
from tests.console.helpers import ConsoleClient, page_text
from tests.factories import user_create


def _pushes(app, days_ago, *, sent, failed=0, pruned=0, count=1):
    moment = datetime.now(timezone.utc).replace(hour=12, minute=0) - timedelta(days=days_ago)
    with app.app_context():
        for number in range(count):
            db.session.add(Notification(category="announcement", source=f"broadcast:{days_ago}-{number}-{sent}",
                                        texts={"sr-Latn": {"title": "t", "body": "b"}}, created_at=moment,
                                        sent_count=sent, failed_count=failed, invalid_token_count=pruned))
        db.session.commit()


def _world(app):
    students = [user_create(app, role="student") for _ in range(3)]
    user_create(app, role="alumni", is_active=False)
    with app.app_context():
        catalogue_write(catalogue_plan(
            courses=[{"code": "UUP", "name": "Uvod u programiranje"}],
            schedule=[{"id": "e1", "course": "UUP", "kind": "P", "professor": "Urosevic Dragan", "groups": ["101"],
                       "day": 0, "start": time(9), "end": time(11), "classroom": "Kolarac2"}]))
        db.session.commit()
        entry = db.session.scalar(select(ScheduleEntry.id))
        for user_id in students:
            db.session.add(Device(user_id=user_id, token=f"device-{user_id}-" + "x" * 20, platform="ios"))
            db.session.add(Subscription(user_id=user_id, schedule_entry_id=entry))
        db.session.add(WebhookDelivery(webhook_id="msg_last", signature="valid", status="rejected", http_status=409,
                                       raw_body=b"{}", created_count=0, updated_count=0, removed_count=0))
        db.session.commit()


def _stat(html, heading):
    section = html.split(f">{heading}</h2>")[1]
    return [int(number) for number in re.findall(r'class="stat">(\d+)<', section.split("</section>")[0])]


def test_the_dashboard_counts_accounts_devices_subscriptions_and_the_last_delivery(app):
    staff = ConsoleClient(app, role="admin")
    _world(app)
    html = page_text(staff.get("/console/"))
    assert _stat(html, "Nalozi") == [5]  # three students, the alumnus, the admin
    assert re.search(r"Studenti</th><td>3<", html) and re.search(r"Administratori</th><td>1<", html)
    assert re.search(r"Onemogućeni</th><td>1<", html)
    assert _stat(html, "Uređaji i pretplate") == [3, 3]
    assert "#1 ·" in html and ">rejected</span>" in html and "HTTP 409" in html


def test_the_push_chart_shows_each_of_the_last_14_days(app):
    staff = ConsoleClient(app)
    _pushes(app, 0, sent=5, failed=1, pruned=2)
    _pushes(app, 3, sent=7, count=2)   # two notifications that day: 14 sent
    _pushes(app, 14, sent=100)         # fifteen days ago: outside the chart
    html = page_text(staff.get("/console/"))
    svg = html.split("<svg")[1].split("</svg>")[0]
    today, three_ago = datetime.now(timezone.utc).date(), datetime.now(timezone.utc).date() - timedelta(days=3)
    assert svg.count("<g>") == 14
    assert f"{today.strftime('%d.%m.')}: poslato 5, neuspelo 1, uklonjeno 2" in svg
    assert f"{three_ago.strftime('%d.%m.')}: poslato 14, neuspelo 0, uklonjeno 0" in svg
    assert "poslato 100" not in svg
    assert 'class="failed"' in svg and 'class="pruned"' in svg
    assert "najviše 14 dnevno" in svg  # the scale is the busiest day


def test_the_dashboard_costs_the_same_queries_whatever_the_numbers(embedded_app):
    staff = ConsoleClient(embedded_app)

    def queries():
        with count_queries(embedded_app) as statements:
            assert staff.get("/console/").status_code == 200
        return len(statements)

    empty = queries()
    _world(embedded_app)
    for days_ago in range(14):
        _pushes(embedded_app, days_ago, sent=days_ago, failed=1, count=3)
    assert queries() == empty


def test_every_console_action_is_in_the_log_newest_first(app):
    staff = ConsoleClient(app, role="admin", email="sef@raf.rs")
    user_create(app, role="student", email="s@raf.rs")
    staff.post("/console/posts", {"title": "Objava", "text": "Tekst"})
    staff.post("/console/users/role", {"email": "s@raf.rs", "role": "alumni"})
    html = page_text(staff.get("/console/audit", headers={"User-Agent": "Testni pregledač/1.0"}))
    rows = html.split("<tbody>")[1].split("</tbody>")[0].split("<tr>")[1:]
    actions = [re.search(r'data-label="Radnja">([^<]+)<', row).group(1) for row in rows]
    assert actions == ["promena uloge", "nova objava", "prijava"]
    assert all("sef@raf.rs" in row and "127.0.0.1" in row for row in rows)
    assert "s@raf.rs" in rows[0] and "from: student" in rows[0] and "to: alumni" in rows[0]
    with app.app_context():
        sign_in = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "sign_in"))
        assert sign_in.details == {"method": "link"} and sign_in.ip_address == "127.0.0.1"
        assert sign_in.created_at is not None


def test_the_log_is_paginated_in_constant_queries(embedded_app):
    staff = ConsoleClient(embedded_app, role="admin")
    with embedded_app.app_context():
        for number in range(120):
            db.session.add(AuditEntry(actor_email="x@raf.rs", action="post_create", target=f"post {number}",
                                      details={}, ip_address="10.0.0.1", user_agent="ua"))
        db.session.commit()
    first = page_text(staff.get("/console/audit"))
    assert first.count('data-label="Radnja"') == 50 and "post 119" in first and "Strana 1 od 3" in first
    last = page_text(staff.get("/console/audit?page=3"))
    assert "post 0<" in last and last.count('data-label="Radnja"') == 21  # 120 entries + the sign-in
    with count_queries(embedded_app) as one:
        staff.get("/console/audit?page_size=5")
    with count_queries(embedded_app) as many:
        staff.get("/console/audit?page_size=100")
    assert len(one) == len(many)
    assert staff.get("/console/audit?page=0").status_code == 422
    assert staff.get("/console/audit?page_size=1000").status_code == 422


def test_a_deleted_account_stays_in_the_log_by_its_address(embedded_app):
    from raf_network.users.services import user_delete

    staff = ConsoleClient(embedded_app, role="admin", email="bivsi@raf.rs")
    with embedded_app.app_context():
        user_delete(user_id=staff.user_id)
        entry = db.session.scalar(select(AuditEntry))
        assert entry.actor_id is None and entry.actor_email == "bivsi@raf.rs"
