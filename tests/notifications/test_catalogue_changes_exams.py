"""An exam import becomes one summary per attendee of the courses whose exams it announced, through the
notification pipeline (inbox row, push job, preferences); nobody else hears about it, and nothing twice."""
from sqlalchemy import select, update

from raf_network.courses.catalogue import catalogue_plan, catalogue_write
from raf_network.courses.exam_import import exam_schedule_import
from raf_network.courses.models import Course, ExamEntry, ExamPeriod
from raf_network.extensions import db
from raf_network.notifications.catalogue_changes import catalogue_change_notify, exam_changes_notify
from raf_network.notifications.models import Notification, NotificationRecipient, PushLog
from raf_network.notifications.preferences import preferences_update
from tests.conftest import count_queries
from tests.factories import user_create
from tests.notifications.conftest import count, device_add, entry, subscribe

COURSES = [{"code": "ds", "name": "Diskretne strukture"}, {"code": "uup", "name": "Uvod u programiranje"},
           {"code": "rg", "name": "Racunarska grafika"}]
PERIOD = "Januarski kolokvijumi 2027"
EXAMS = (
    "Diskretne strukture;Irena Jovanović;6,9;9-10.30;Subota;23.01.\n"
    "Diskretne strukture;Irena Jovanović;6,9;13-14.30;Subota;30.01.\n"
    "Uvod u programiranje (RN);Dragan Urošević;Raf06 (a);9-14;Nedelja;24.01.\n"
    "Računarska grafika;Dragan Mašulović;4;15-16;Ponedeljak;25.01.\n"
)


def _timetable(app):
    with app.app_context():
        catalogue_write(catalogue_plan(courses=COURSES, schedule=[
            entry("ds-p", course="ds"), entry("ds-v", course="ds", kind="V"), entry("uup-p", course="uup"),
            entry("rg-p", course="rg")], replace={"schedule"}))
        db.session.commit()


def _import(app, text=EXAMS, **options):
    options.setdefault("visible", True)
    with app.app_context():
        return exam_schedule_import(text=text, period=PERIOD, year=2027, **options)


def _pushes(app):
    with app.app_context():
        return {row.token: row for row in db.session.scalars(select(PushLog))}


def _attendee(app, token, *entries, **fields):
    user_id = user_create(app, **fields)
    subscribe(app, user_id, *entries)
    device_add(app, user_id, token)
    return user_id


def test_each_attendee_gets_one_summary_of_their_exams(app):
    _timetable(app)
    _attendee(app, "t-ds", "ds-p", "ds-v")  # both entries of one course: still one notification
    _attendee(app, "t-uup", "uup-p")
    _attendee(app, "t-en", "uup-p", locale="en")
    _attendee(app, "t-all", "ds-p", "uup-p", "rg-p")
    bystander = user_create(app)
    device_add(app, bystander, "t-by")

    _import(app)

    pushes = _pushes(app)
    assert set(pushes) == {"t-ds", "t-uup", "t-en", "t-all"}
    assert pushes["t-uup"].title == PERIOD
    assert pushes["t-uup"].body == "Kolokvijum iz Uvod u programiranje: 24.01.2027., 9-14, učionica Raf06 (a)"
    assert pushes["t-en"].body == "Uvod u programiranje exam: 24 Jan 2027, 9-14, room Raf06 (a)"
    assert pushes["t-ds"].body == f"2 kolokvijuma u periodu {PERIOD}"
    assert pushes["t-all"].body == f"4 kolokvijuma u periodu {PERIOD}"
    data = pushes["t-ds"].data
    assert data["type"] == "exams" and data["examination_period_id"].isdigit() and data["notification_id"].isdigit()
    assert len(data["exam_ids"].split(",")) == 2 and '"date":"2027-01-23"' in data["exams"]
    # One inbox row each; the two who attend only Uvod u programiranje share one notification.
    assert count(app, Notification) == 3 and count(app, NotificationRecipient) == 4
    assert count(app, NotificationRecipient, NotificationRecipient.user_id == bystander) == 0
    assert {row.category for row in _rows(app, Notification)} == {"exams"}


def _rows(app, model):
    with app.app_context():
        return db.session.scalars(select(model)).all()


def test_a_hidden_period_says_nothing_until_it_is_published(app):
    _timetable(app)
    _attendee(app, "t-ds", "ds-p")
    _import(app, visible=False)
    assert count(app, Notification) == 0
    _import(app, visible=True)  # published: all its exams are news now
    assert _pushes(app)["t-ds"].body == f"2 kolokvijuma u periodu {PERIOD}"


def test_only_a_changed_schedule_is_news_and_nothing_arrives_twice(app):
    _timetable(app)
    _attendee(app, "t-ds", "ds-p")
    _attendee(app, "t-rg", "rg-p")
    _import(app)
    assert count(app, Notification) == 2

    _import(app)  # the same file again
    assert count(app, Notification) == 2 and count(app, PushLog) == 2

    _import(app, EXAMS.replace("Dragan Mašulović", "D. Mašulović"))  # the teacher's name only: no push
    assert count(app, Notification) == 2

    _import(app, EXAMS.replace("4;15-16", "Rg7;15-16"))  # the classroom moved
    assert count(app, Notification) == 3
    latest = max(_rows(app, Notification), key=lambda row: row.id)
    assert latest.texts["sr-Latn"]["body"] == "Kolokvijum iz Racunarska grafika: 25.01.2027., 15-16, učionica Rg7"
    with app.app_context():
        recipients = db.session.scalars(select(NotificationRecipient.user_id)
                                        .where(NotificationRecipient.notification_id == latest.id)).all()
    assert len(recipients) == 1  # only the graphics student


def test_rerunning_the_job_creates_nothing_new(app):
    _timetable(app)
    _attendee(app, "t-ds", "ds-p")
    report = _import(app)
    with app.app_context():
        notification_ids = db.session.scalars(select(Notification.id)).all()
        again = catalogue_change_notify(report.changes.change_id)  # the job, run once more
    assert notification_ids and again == notification_ids
    assert count(app, Notification) == 1 and count(app, PushLog) == 1


def test_the_preference_turns_pushes_off_not_the_inbox(app):
    _timetable(app)
    muted = _attendee(app, "t-muted", "uup-p")
    _attendee(app, "t-on", "uup-p")
    with app.app_context():
        preferences_update(user_id=muted, changes={"exam_schedule": False, "announcements": True})
    _import(app)
    assert set(_pushes(app)) == {"t-on"}
    assert count(app, NotificationRecipient, NotificationRecipient.user_id == muted) == 1


def test_the_notification_costs_the_same_queries_for_few_or_many_attendees(app):
    _timetable(app)
    report = _import(app, visible=False)  # nobody notified yet
    with app.app_context():
        db.session.execute(update(ExamPeriod).values(visible=True))  # published without announcing anything
        db.session.commit()
        first_ds, second_ds = db.session.scalars(
            select(ExamEntry.external_id).join(Course, Course.id == ExamEntry.course_id).where(Course.code == "ds")
            .order_by(ExamEntry.date)).all()
    assert report.period_id

    def cost(exam_key):
        with count_queries(app) as statements, app.app_context():
            ids = exam_changes_notify(changes={"created": {"exams": [exam_key]}}, source=f"test:{exam_key}")
            db.session.commit()
            assert len(ids) == 1
        return len(statements)

    for index in range(2):
        _attendee(app, f"few-{index}", "ds-p")
    few = cost(first_ds)
    for index in range(40):
        _attendee(app, f"many-{index}", "ds-p", "ds-v")
    many = cost(second_ds)  # another announcement: a notification of its own, 42 recipients, 42 pushes
    assert few == many
    assert count(app, PushLog) == 2 + 42
