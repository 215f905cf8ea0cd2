"""Pregled (the dashboard): accounts by role, devices and subscriptions; the last webhook delivery and its outcome;
pushes of the last 14 days (sent / failed / pruned) as a small server-rendered SVG chart.

Four queries whatever the numbers: the counts in one, the last delivery, the pushes grouped by day (UTC).
"""
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

from flask import render_template
from sqlalchemy import func, select
from sqlalchemy.orm import defer

from raf_network.console.auth import staff_required
from raf_network.console.blueprint import blp
from raf_network.extensions import db
from raf_network.notifications.models import Notification
from raf_network.users.models import ROLES, Device, Subscription, User
from raf_network.webhook.models import WebhookDelivery

CHART_DAYS = 14
ROLE_LABELS = {"student": "Studenti", "alumni": "Alumni", "faculty_administrator": "Službenici",
               "admin": "Administratori"}
# The chart's drawing box (SVG user units); bars are stacked sent / failed / pruned.
WIDTH, HEIGHT, TOP, BOTTOM, LEFT = 560, 200, 12, 24, 34


@dataclass
class PushDay:
    day: date
    sent: int = 0
    failed: int = 0
    pruned: int = 0

    @property
    def total(self):
        return self.sent + self.failed + self.pruned


def dashboard_summary(*, today=None):
    """What the dashboard shows (four queries)."""
    accounts = dict(db.session.execute(select(User.role, func.count()).group_by(User.role)).all())
    devices, subscriptions, inactive = db.session.execute(select(
        select(func.count(Device.id)).scalar_subquery(),
        select(func.count(Subscription.id)).scalar_subquery(),
        select(func.count(User.id)).where(User.is_active.is_(False)).scalar_subquery(),
    )).one()
    last_delivery = db.session.scalar(
        select(WebhookDelivery).options(defer(WebhookDelivery.raw_body, raiseload=True))
        .order_by(WebhookDelivery.id.desc()).limit(1)
    )
    return {
        "accounts": [(ROLE_LABELS[role], accounts.get(role, 0)) for role in ROLES],
        "accounts_total": sum(accounts.values()), "inactive": inactive,
        "devices": devices, "subscriptions": subscriptions, "last_delivery": last_delivery,
        "pushes": pushes_by_day(today=today or datetime.now(timezone.utc).date()),
    }


def pushes_by_day(*, today):
    """Push outcomes of the notifications created on each of the last ``CHART_DAYS`` days (UTC), oldest first."""
    first = today - timedelta(days=CHART_DAYS - 1)
    day = func.date(Notification.created_at)
    rows = db.session.execute(
        select(day, func.sum(Notification.sent_count), func.sum(Notification.failed_count),
               func.sum(Notification.invalid_token_count))
        .where(Notification.created_at >= datetime(first.year, first.month, first.day, tzinfo=timezone.utc))
        .group_by(day)
    ).all()
    by_day = {str(row[0])[:10]: row for row in rows}
    days = []
    for offset in range(CHART_DAYS):
        current = first + timedelta(days=offset)
        row = by_day.get(current.isoformat())
        days.append(PushDay(current, *(int(value or 0) for value in row[1:])) if row else PushDay(current))
    return days


def push_chart(days):
    """The bars of the chart: per day a stacked column (sent at the bottom), with its label; and the scale."""
    peak = max((day.total for day in days), default=0) or 1
    plot = HEIGHT - TOP - BOTTOM
    slot = (WIDTH - LEFT) / len(days)
    columns = []
    for index, day in enumerate(days):
        x = LEFT + index * slot + slot * 0.15
        y = HEIGHT - BOTTOM
        parts = []
        for kind, value in (("sent", day.sent), ("failed", day.failed), ("pruned", day.pruned)):
            height = plot * value / peak
            y -= height
            if value:
                parts.append({"kind": kind, "x": round(x, 1), "y": round(y, 1), "height": round(height, 1),
                              "value": value})
        columns.append({"day": day, "parts": parts, "label_x": round(x + slot * 0.35, 1),
                        "width": round(slot * 0.7, 1)})
    return {"columns": columns, "peak": peak, "width": WIDTH, "height": HEIGHT, "left": LEFT,
            "baseline": HEIGHT - BOTTOM, "top": TOP}


@blp.get("/")
@staff_required
def dashboard():
    """Pregled: the state of the service at a glance."""
    summary = dashboard_summary()
    return render_template("console/dashboard.html", summary=summary, chart=push_chart(summary["pushes"]))
