"""The caller's own network profile: biography, LinkedIn handle, visibility, picture, and the jobs they enter.

What a person changes is named in ``Profile.edited_fields``, so a re-import from the alumni portal keeps their
value. Jobs they enter are ``source = "self"`` (the import replaces only its own, ``"portal"``, rows); an imported
job cannot be changed here (409): the next import would bring it back. Someone else's job is 404.
Every change retires the network's cached responses once it has committed (``network_changed``).
"""
from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from raf_network.errors import Conflict, NotFound, ValidationFailed
from raf_network.extensions import db
from raf_network.network.accounts import media_release, profile_ensure, profile_of_user
from raf_network.network.companies import company_by_name
from raf_network.network.freshness import network_changed
from raf_network.network.models import Company, EmploymentHistory, Profile
from raf_network.network.people import picture_loaded
from raf_network.network.pictures import picture_store

SELF = "self"


def fields_edited_mark(profile, names):
    """Name ``names`` in the profile's ``edited_fields``: a re-import from the portal keeps their values."""
    edited = list(profile.edited_fields or [])
    added = [name for name in names if name not in edited]
    if added:
        profile.edited_fields = edited + added  # a new list: the JSON column sees the change


def _profile_loaded(profile_id):
    """The profile with its picture's path (no picture bytes), fresh from the database."""
    return db.session.scalar(select(Profile).options(picture_loaded()).where(Profile.id == profile_id)
                             .execution_options(populate_existing=True))


def own_profile_get(*, user):
    """The caller's profile; NotFound until they have one (alumni from their first sign-in, others from their
    first post, comment or profile edit)."""
    profile = profile_of_user(user_id=user.id)
    if profile is None:
        raise NotFound("you have no network profile yet: it is created when you first post, comment or edit it")
    return _profile_loaded(profile.id)


def own_profile_update(*, user, changes):
    """Change ``biography``, ``social_id_1`` (a handle, already reduced from a URL) and/or ``visible``."""
    profile = profile_ensure(user=user)
    changed = [name for name, value in changes.items() if getattr(profile, name) != value]
    for name in changed:
        setattr(profile, name, changes[name])
    # Marked even when equal to the current value: the person chose it, and a re-import must keep it.
    fields_edited_mark(profile, changes)
    network_changed()
    db.session.commit()
    return _profile_loaded(profile.id)


def profile_picture_set(*, user, data):
    """Check, re-encode and store a picture (ValidationFailed when it is not one) and show it on the profile."""
    profile = profile_ensure(user=user)
    media = picture_store(data=data, max_bytes=current_app.config["MAX_PICTURE_BYTES"])
    old_key, profile.picture_key = profile.picture_key, media.key
    fields_edited_mark(profile, ["picture"])
    db.session.flush()
    if old_key != media.key:
        media_release(keys=[old_key])
    network_changed()
    db.session.commit()
    return _profile_loaded(profile.id)


def profile_picture_delete(*, user):
    """Remove the picture (also the stored image, unless another profile shows the same one). Idempotent."""
    profile = profile_ensure(user=user)
    old_key, profile.picture_key = profile.picture_key, None
    fields_edited_mark(profile, ["picture"])  # a re-import must not bring the portal's picture back
    db.session.flush()
    media_release(keys=[old_key])
    network_changed()
    db.session.commit()


# --------------------------------------------------------------------------------------------------
# The caller's jobs
# --------------------------------------------------------------------------------------------------

def _company_resolve(*, company=None, company_name=None):
    """A company by id (unknown → 404, as any reference to nothing), or by name: the existing one of that name
    (``company_by_name``), else a new one."""
    if company is not None:
        found = db.session.get(Company, company)
        if found is None:
            raise NotFound("the company does not exist",
                                   errors={"json": {"company": [f"no company with id {company}"]}})
        return found
    found = company_by_name(company_name)
    if found is not None:
        return found
    created = Company(name=company_name)
    db.session.add(created)
    return created


def _own_job(*, user, employment_id):
    job = db.session.scalar(
        select(EmploymentHistory).join(Profile, Profile.id == EmploymentHistory.profile_id)
        .where(EmploymentHistory.id == employment_id, Profile.user_id == user.id)
    )
    if job is None:
        raise NotFound(f"you have no job with id {employment_id}")
    if job.source != SELF:
        raise Conflict("this job was imported from the alumni portal; change it there (a re-import would bring "
                       "it back)")
    return job


def _job_loaded(employment_id):
    return db.session.scalar(select(EmploymentHistory).options(joinedload(EmploymentHistory.company))
                             .where(EmploymentHistory.id == employment_id)
                             .execution_options(populate_existing=True))


def employment_create(*, user, role, company=None, company_name=None, description="", start_date=None,
                      end_date=None):
    """A job the caller enters (``source = "self"``)."""
    profile = profile_ensure(user=user)
    job = EmploymentHistory(profile_id=profile.id, company=_company_resolve(company=company, company_name=company_name),
                            role=role, description=description, start_date=start_date, end_date=end_date,
                            source=SELF)
    db.session.add(job)
    network_changed()
    db.session.commit()
    return _job_loaded(job.id)


def employment_update(*, user, employment_id, changes):
    """Change some fields of one of the caller's own jobs; the dates stay ordered (end not before start)."""
    job = _own_job(user=user, employment_id=employment_id)
    changes = dict(changes)
    if "company" in changes or "company_name" in changes:
        job.company = _company_resolve(company=changes.pop("company", None),
                                       company_name=changes.pop("company_name", None))
    for name, value in changes.items():
        setattr(job, name, value)
    if job.start_date is not None and job.end_date is not None and job.end_date < job.start_date:
        db.session.rollback()
        raise ValidationFailed("the job would end before it starts",
                               errors={"json": {"end_date": ["must not be before start_date"]}})
    network_changed()
    db.session.commit()
    return _job_loaded(job.id)


def employment_delete(*, user, employment_id):
    job = _own_job(user=user, employment_id=employment_id)
    db.session.delete(job)
    network_changed()
    db.session.commit()

