"""Test factories: accounts and their access tokens, made through the real services."""
import itertools

from raf_network.extensions import db
from raf_network.users.auth import access_token_issue, session_create
from raf_network.users.models import User

_sequence = itertools.count(1)


def user_create(app, *, role="student", email=None, **fields):
    """A user in the app's database; returns its id."""
    number = next(_sequence)
    with app.app_context():
        user = User(email=email or f"user{number}@example.test", role=role,
                    first_name=fields.pop("first_name", f"First{number}"),
                    last_name=fields.pop("last_name", f"Last{number}"), **fields)
        db.session.add(user)
        db.session.commit()
        return user.id


def token_for(app, user_id):
    """A fresh access token (new sign-in session) for a user."""
    with app.app_context():
        user = db.session.get(User, user_id)
        auth_session = session_create(user=user)
        db.session.flush()
        token, _ = access_token_issue(user=user, auth_session=auth_session)
        db.session.commit()
        return token


def bearer(app, user_id):
    return {"Authorization": f"Bearer {token_for(app, user_id)}"}
