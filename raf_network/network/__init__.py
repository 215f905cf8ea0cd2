"""The ``network`` blueprint: the alumni network (feed, directory, companies, histories, profiles, pictures)."""
from raf_network.network.routes import blp


@blp.record_once
def _account_receivers_connect(_state):
    """Profiles follow their accounts (see ``network.accounts``): the users blueprint only sends the signals.
    Connecting is idempotent, so several apps in one process (tests) connect each receiver once."""
    from raf_network.network import accounts
    from raf_network.users.signals import user_deleting, user_signed_in, user_updated

    user_signed_in.connect(accounts.on_user_signed_in)
    user_updated.connect(accounts.on_user_updated)
    user_deleting.connect(accounts.on_user_deleting)


__all__ = ["blp"]
