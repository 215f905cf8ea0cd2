"""Fixtures and row builders for the network tests: people, companies, studies, jobs, posts and comments written
straight into the database (as the portal import or earlier requests would have), and pictures made with Pillow."""
import io
from datetime import date

from PIL import Image
from sqlalchemy import func, select

from raf_network.cache import cache_families_invalidate
from raf_network.extensions import db
from raf_network.network.models import (
    AcademicDegree,
    AcademicHistory,
    Comment,
    Company,
    EmploymentHistory,
    Media,
    Post,
    Profile,
)
from raf_network.network.pictures import picture_store
from tests.notifications.conftest import device_add, fcm_app, fcm_settings, fcm_stub  # noqa: F401 (fixtures)
from tests.users.conftest import google, sign_in, signin_app  # noqa: F401 (fixtures)

__all__ = ["device_add", "sign_in"]


def _commit():
    """Commit, and retire the cached network responses as every writer of the network does (the portal import,
    the services): rows written here are visible on the next read."""
    db.session.commit()
    cache_families_invalidate(["network"])


def image_bytes(size=(64, 48), colour=(200, 30, 30), fmt="PNG", **options):
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, fmt, **options)
    return buffer.getvalue()


def profile_add(app, *, first_name="Ana", last_name="Anić", user_id=None, portal_id=None, sample=False,
                visible=True, hidden_by_staff=False, biography="", social_id_1=None, picture=None, edited_fields=()):
    """A profile; ``picture``: image bytes stored through the real picture pipeline. Returns its id."""
    with app.app_context():
        profile = Profile(first_name=first_name, last_name=last_name, user_id=user_id, portal_id=portal_id,
                          sample=sample, visible=visible, hidden_by_staff=hidden_by_staff, biography=biography,
                          social_id_1=social_id_1,
                          edited_fields=list(edited_fields))
        if picture is not None:
            profile.picture_key = picture_store(data=picture, max_bytes=app.config["MAX_PICTURE_BYTES"]).key
        db.session.add(profile)
        _commit()
        return profile.id


def company_add(app, name, *, portal_id=None):
    with app.app_context():
        company = Company(name=name, portal_id=portal_id)
        db.session.add(company)
        _commit()
        return company.id


def job_add(app, profile_id, company_id, *, role="Programer", start=None, end=None, source="portal",
            description=""):
    with app.app_context():
        job = EmploymentHistory(profile_id=profile_id, company_id=company_id, role=role, start_date=start,
                                end_date=end, source=source, description=description)
        db.session.add(job)
        _commit()
        return job.id


def study_add(app, profile_id, *, kind="osnovne", level_id=109, start=date(2012, 10, 1), end=date(2016, 7, 1),
              thesis_title="Rad", thesis_date=None, grade=None, commission=("A", "B", "C")):
    with app.app_context():
        degree = AcademicDegree(name="Računarske nauke", title="Diplomirani inženjer", level_id=level_id)
        db.session.add(degree)
        db.session.flush()
        history = AcademicHistory(profile_id=profile_id, degree_id=degree.id, kind=kind, student_number="RN 1/12",
                                  start_date=start, end_date=end, thesis_title=thesis_title, thesis_date=thesis_date,
                                  thesis_grade=grade, thesis_abstract="", mentor="Mentor",
                                  commission=list(commission))
        db.session.add(history)
        _commit()
        return history.id


def post_add(app, author_id, *, title="Naslov", text="Tekst", comments=()):
    """A post and its comments (``(author_id, text)`` pairs, in order). Returns the post id."""
    with app.app_context():
        post = Post(author_id=author_id, title=title, text=text)
        db.session.add(post)
        db.session.flush()
        db.session.add_all([Comment(post_id=post.id, author_id=author, text=body) for author, body in comments])
        _commit()
        return post.id


def rows(app, model, *where):
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model).where(*where))


def network_rows(app):
    """Every network table's rows (all columns): the "nothing was written" comparison."""
    with app.app_context():
        return {model.__tablename__: [tuple(row) for row in db.session.execute(
            select(*model.__table__.columns).order_by(*model.__table__.primary_key.columns))]
            for model in (Profile, Company, AcademicDegree, AcademicHistory, EmploymentHistory, Post, Comment, Media)}
