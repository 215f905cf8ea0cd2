"""Accounts and their network profiles: one profile per person, and what happens to it when the account signs in,
changes its name, writes for the first time, is deleted, or is linked by an operator to an imported profile.

- An ``alumni`` account gets its profile at sign-in (``user_signed_in``); staff and students get one when they first
  write (post, comment, edit their profile). A profile that exists because of the account (not imported, not
  sample data) carries the account's name, kept current at sign-in and on ``PATCH /api/me``.
- Deleting the account (``user_deleting``, same transaction): such a profile is deleted with everything it wrote. An
  imported profile is the portal's and stays, unlinked; what the account wrote (posts, comments, jobs entered by
  hand) is deleted, and the person's own choices on the profile (e.g. hidden) are kept, so a re-import does not
  undo them.
- ``flask network link EMAIL PROFILE_ID``: an alumnus who signs in after being imported gets the imported profile.
  If the account already had a profile of its own, its posts, comments and hand-entered jobs move to the imported
  one and the empty profile is deleted; a value the person had set there wins over the portal's.

The users blueprint knows nothing of this: it sends the signals (``raf_network.users.signals``), and the network
blueprint connects these receivers.
"""
import logging

from sqlalchemy import delete, exists, select, update
from sqlalchemy.dialects import postgresql, sqlite

from raf_network.errors import Conflict, Forbidden, NotFound, ValidationFailed
from raf_network.extensions import db
from raf_network.network.freshness import network_changed
from raf_network.network.models import Comment, EmploymentHistory, Media, Post, Profile
from raf_network.users.models import User

log = logging.getLogger(__name__)

ALUMNI_ROLE = "alumni"


def profile_of_user(*, user_id):
    """The account's profile, or None."""
    return db.session.scalar(select(Profile).where(Profile.user_id == user_id))


def _owned_by_account(profile):
    """A profile that exists only because of its account: its name is the account's, and it goes with it."""
    return profile.portal_id is None and not profile.sample


def _insert_ignore():
    """INSERT … ON CONFLICT DO NOTHING on PostgreSQL and SQLite alike (a concurrent first write wins)."""
    dialect = postgresql if db.engine.dialect.name == "postgresql" else sqlite
    return dialect.insert(Profile).on_conflict_do_nothing()


def profile_ensure(*, user):
    """The account's profile, created (no commit) if it has none yet, with the account's name."""
    profile = profile_of_user(user_id=user.id)
    if profile is not None:
        return profile
    db.session.execute(_insert_ignore(), [{
        "user_id": user.id, "first_name": user.first_name or "", "last_name": user.last_name or "",
        "biography": "", "visible": True, "edited_fields": [], "sample": False,
    }])
    network_changed()
    return profile_of_user(user_id=user.id)


def _name_sync(profile, user):
    if _owned_by_account(profile) and (profile.first_name, profile.last_name) != (user.first_name, user.last_name):
        profile.first_name, profile.last_name = user.first_name or "", user.last_name or ""
        network_changed()


def on_user_signed_in(user, **_extra):
    """Receiver of ``user_signed_in``: an alumnus's profile exists from the first sign-in; names stay current."""
    profile = profile_of_user(user_id=user.id)
    if profile is None and user.role == ALUMNI_ROLE:
        profile_ensure(user=user)
    elif profile is not None:
        _name_sync(profile, user)
    db.session.commit()


def on_user_updated(user, **_extra):
    """Receiver of ``user_updated``: the account's new name shows on its profile (and so on what it wrote)."""
    profile = profile_of_user(user_id=user.id)
    if profile is not None:
        _name_sync(profile, user)
        db.session.commit()


def media_release(*, keys):
    """Delete the stored pictures among ``keys`` that no profile shows any more (no commit)."""
    keys = [key for key in keys if key]
    if keys:
        db.session.execute(delete(Media).where(Media.key.in_(keys),
                                               ~exists().where(Profile.picture_key == Media.key)))


def on_user_deleting(user, **_extra):
    """Receiver of ``user_deleting`` (inside the deleting transaction, which commits it)."""
    profile = profile_of_user(user_id=user.id)
    if profile is None:
        return
    if _owned_by_account(profile):
        picture_key = profile.picture_key
        # Posts, comments (also others' comments on its posts) and histories go through ON DELETE CASCADE.
        db.session.execute(delete(Profile).where(Profile.id == profile.id))
        media_release(keys=[picture_key])
    else:
        db.session.execute(delete(Post).where(Post.author_id == profile.id))
        db.session.execute(delete(Comment).where(Comment.author_id == profile.id))
        db.session.execute(delete(EmploymentHistory).where(EmploymentHistory.profile_id == profile.id,
                                                           EmploymentHistory.source == "self"))
        # user_id itself is set to NULL by the foreign key when the account's row goes.
    network_changed()
    log.info("account %s deleted: its network profile %s %s", user.id, profile.id,
             "deleted" if _owned_by_account(profile) else "unlinked and kept")


def profile_link(*, email, profile_id, alumni_only=False):
    """Attach the account ``email`` to the imported profile ``profile_id``. Returns (profile, moved counts).

    Refused (ValidationFailed/Conflict/NotFound/Forbidden, nothing written): an unknown account or profile, a
    profile that is not imported, one linked to another account, an account already linked to another imported
    profile; with ``alumni_only`` (a faculty administrator in the console — only operators and admins may), an
    account whose role is not ``alumni``: it would then write as that alumnus."""
    user = db.session.scalar(select(User).where(User.email == email.strip().lower()))
    if user is None:
        raise NotFound(f"no account with e-mail {email.strip().lower()!r}")
    if alumni_only and user.role != "alumni":
        raise Forbidden("only an admin may link an account whose role is not alumni to an alumnus's profile")
    profile = db.session.get(Profile, profile_id)
    if profile is None:
        raise NotFound(f"no network profile {profile_id}")
    if profile.portal_id is None:
        raise ValidationFailed(f"profile {profile_id} was not imported from the alumni portal; only imported "
                               "profiles can be linked")
    if profile.user_id == user.id:
        return profile, {"posts": 0, "comments": 0, "jobs": 0}
    if profile.user_id is not None:
        raise Conflict(f"profile {profile_id} is already linked to another account")
    own = profile_of_user(user_id=user.id)
    moved = {"posts": 0, "comments": 0, "jobs": 0}
    if own is not None:
        if not _owned_by_account(own):
            raise Conflict(f"{user.email} is already linked to imported profile {own.id}")
        moved = _profile_merge(source=own, target=profile)
    profile.user_id = user.id
    network_changed()
    db.session.commit()
    log.info("account %s linked to imported profile %s (moved %s)", user.id, profile.id, moved)
    return profile, moved


def _profile_merge(*, source, target):
    """Move what ``source`` (the account's own profile) wrote to ``target`` and delete ``source`` (no commit)."""
    moved = {}
    for name, model, column in (("posts", Post, Post.author_id), ("comments", Comment, Comment.author_id)):
        moved[name] = db.session.execute(
            update(model).where(column == source.id).values(author_id=target.id),
            execution_options={"synchronize_session": False}).rowcount
    moved["jobs"] = db.session.execute(
        update(EmploymentHistory).where(EmploymentHistory.profile_id == source.id,
                                        EmploymentHistory.source == "self")
        .values(profile_id=target.id), execution_options={"synchronize_session": False}).rowcount
    # What the person set on their own profile wins over the portal's values, and a re-import keeps it.
    edited = list(target.edited_fields or [])
    for field in source.edited_fields or []:
        attribute = "picture_key" if field == "picture" else field
        setattr(target, attribute, getattr(source, attribute))
        if field not in edited:
            edited.append(field)
    target.edited_fields = edited
    # An officer's hiding of either profile holds for the merged one (the person cannot undo it by linking).
    target.hidden_by_staff = bool(target.hidden_by_staff or source.hidden_by_staff)
    old_picture = source.picture_key
    db.session.execute(delete(Profile).where(Profile.id == source.id))
    db.session.flush()  # the account's user_id is free before the imported profile takes it
    media_release(keys=[old_picture])
    return moved
