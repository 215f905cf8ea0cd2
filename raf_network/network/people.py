"""Reads of the network's people: the alumni directory (all of it, or one company's people), companies, and one
person's academic and employment history — each served as cached JSON bytes (family ``network``), built with a
constant number of queries however many rows there are.

Who is in the directory: profiles imported from the alumni portal, the demo network's sample people, and the
profiles of accounts whose role is ``alumni`` — visible ones only. Students and staff who merely wrote something
have a profile (they are shown as authors) but are not listed. Names are ordered casefolded, in Python, so that
the order is the same on SQLite and PostgreSQL whatever the database's collation.
"""
import json

from sqlalchemy import exists, or_, select
from sqlalchemy.orm import joinedload

from raf_network.cache import cached_body
from raf_network.extensions import db
from raf_network.network.freshness import FAMILY
from raf_network.network.models import AcademicHistory, Company, EmploymentHistory, Media, Profile
from raf_network.network.schemas import (
    AcademicHistorySchema,
    AlumniUserSchema,
    CompanySchema,
    EmploymentHistorySchema,
    display_name,
)
from raf_network.users.models import User

ALUMNI_ROLE = "alumni"


def json_bytes(data):
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def picture_loaded():
    """Load option for Profile rows: the picture's key and extension (its path) in the same query, never its
    bytes."""
    return joinedload(Profile.picture).load_only(Media.key, Media.extension)


def author_loaded(relationship):
    """Load option for rows with an author (``Post.author``, ``Comment.author``): the author and the picture's
    path in the same query."""
    return joinedload(relationship).joinedload(Profile.picture).load_only(Media.key, Media.extension)


def profile_sort_key(profile):
    return (display_name(profile).casefold(), profile.id)


def member_clause():
    """The network's people, hidden or not: imported, sample, or an alumni account's (``User`` outer-joined)."""
    return or_(Profile.portal_id.is_not(None), Profile.sample.is_(True), User.role == ALUMNI_ROLE)


def listed_clause():
    """Profiles the directory lists: among the network's people, those neither hidden by themselves nor by an
    officer."""
    return Profile.visible.is_(True) & Profile.hidden_by_staff.is_(False) & member_clause()


def directory_list(*, company=None):
    """The visible alumni by name; ``company``: those who work or worked there, each once (unknown → [])."""
    key = "alumni-users" if company is None else f"alumni-users:company={company}"

    def build():
        query = (
            select(Profile)
            .outerjoin(User, User.id == Profile.user_id)
            .options(picture_loaded())
            .where(listed_clause())
        )
        if company is not None:
            # EXISTS, not a join: someone with three jobs at the company is listed once.
            query = query.where(exists().where(EmploymentHistory.profile_id == Profile.id,
                                               EmploymentHistory.company_id == company))
        people = sorted(db.session.scalars(query).all(), key=profile_sort_key)
        return json_bytes(AlumniUserSchema(many=True).dump(people))

    return cached_body(key, (FAMILY,), build)


def company_list():
    """Every company, by name."""
    def build():
        companies = sorted(db.session.scalars(select(Company)).all(),
                           key=lambda company: (company.name.casefold(), company.id))
        return json_bytes(CompanySchema(many=True).dump(companies))

    return cached_body("companies", (FAMILY,), build)


def academic_history_list(*, alumni_user):
    """One person's studies, oldest first, with degree and thesis (unknown person → [])."""
    def build():
        histories = db.session.scalars(
            select(AcademicHistory)
            .options(joinedload(AcademicHistory.degree))
            .where(AcademicHistory.profile_id == alumni_user)
            .order_by(AcademicHistory.start_date, AcademicHistory.id)
        ).all()
        return json_bytes(AcademicHistorySchema(many=True).dump(histories))

    return cached_body(f"academic-history:{alumni_user}", (FAMILY,), build)


def employment_sort_key(employment):
    """Newest first by start date; jobs without a start date last."""
    start = employment.start_date
    return (start is None, -(start.toordinal() if start else 0), -employment.id)


def employment_history_list(*, alumni_user):
    """One person's jobs, newest first by start date, with the company (unknown person → [])."""
    def build():
        jobs = db.session.scalars(
            select(EmploymentHistory)
            .options(joinedload(EmploymentHistory.company))
            .where(EmploymentHistory.profile_id == alumni_user)
        ).all()
        return json_bytes(EmploymentHistorySchema(many=True).dump(sorted(jobs, key=employment_sort_key)))

    return cached_body(f"employment-history:{alumni_user}", (FAMILY,), build)
