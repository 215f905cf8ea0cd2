"""What happens to accounts, announced to the blueprints that keep data about people (blinker signals).

The users blueprint imports none of them: it only sends. The sender is the ``User`` concerned.

- ``user_signed_in``: after the sign-in's commit.
- ``user_updated``: after the commit of a change the person made to their account (``PATCH /api/me``).
- ``user_deleting``: inside the deleting transaction, just before the account's row goes; what a receiver
  writes commits (or rolls back) with the deletion.
- ``user_access_changing``: inside the transaction that changes an account's role or disables it (the console ends
  that person's console sessions in it).
"""
from blinker import Namespace

_signals = Namespace()

user_signed_in = _signals.signal("user-signed-in")
user_updated = _signals.signal("user-updated")
user_deleting = _signals.signal("user-deleting")
user_access_changing = _signals.signal("user-access-changing")
