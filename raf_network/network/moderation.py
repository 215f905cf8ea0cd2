"""The network's people as officers look after them (the console's Mreža): everyone, hidden ones included, found by
name or linked account; and hiding a person from the directory, or showing them again.

Hiding has the effect of the person's own ``PATCH /api/me/profile`` with ``visible: false`` — out of the directory
and the company lists, still shown as the author of what they wrote — but is a flag of its own
(``Profile.hidden_by_staff``): the person cannot undo it, and showing them again does not override their own
choice. A re-import from the portal touches neither. The network's cached responses are retired with the commit —
only when the flag changed.
Linking an account to an imported profile is ``accounts.profile_link`` (``flask network link``).
"""
from sqlalchemy import func, or_, select

from raf_network.errors import NotFound
from raf_network.extensions import db
from raf_network.network.freshness import network_changed
from raf_network.network.models import Profile
from raf_network.network.people import listed_clause, member_clause
from raf_network.users.models import User

VISIBILITIES = ("visible", "hidden")


def people_search(*, text="", visibility=None, page=1, page_size=25):
    """A page of the network's people (``people.member_clause``: imported, sample, alumni accounts), hidden ones
    included, whose name or linked account's e-mail contains ``text`` (case-insensitive); ``visibility``: only
    ``"visible"`` or ``"hidden"`` ones. By last name (in the database's collation: pages need the order in SQL).
    ``([(profile, account e-mail or None)], total)``: two queries."""
    conditions = [member_clause()]
    folded = text.strip().lower()
    if folded:
        name = func.lower(Profile.first_name + " " + Profile.last_name)
        conditions.append(or_(name.contains(folded, autoescape=True), User.email.contains(folded, autoescape=True)))
    if visibility is not None:
        conditions.append(listed_clause() if visibility == "visible" else ~listed_clause())
    joined = select(Profile).outerjoin(User, User.id == Profile.user_id).where(*conditions)
    total = db.session.scalar(select(func.count()).select_from(joined.subquery()))
    rows = db.session.execute(
        joined.add_columns(User.email)
        .order_by(func.lower(Profile.last_name), func.lower(Profile.first_name), Profile.id)
        .limit(page_size).offset((page - 1) * page_size)
    ).all()
    return [tuple(row) for row in rows], total


def profile_hidden_set(*, profile_id, hidden):
    """Hide a person from the directory, or lift an officer's hiding (NotFound for an unknown profile). A person
    who hid themselves stays hidden until they choose otherwise. Returns ``(profile, changed)``. Commits."""
    profile = db.session.get(Profile, profile_id)
    if profile is None:
        raise NotFound(f"no network profile {profile_id}")
    changed = profile.hidden_by_staff != hidden
    if changed:
        profile.hidden_by_staff = hidden
        network_changed()
    db.session.commit()
    return profile, changed
