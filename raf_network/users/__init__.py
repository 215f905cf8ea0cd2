"""The ``users`` blueprint."""
from raf_network.users.routes import blp


@blp.record_once
def _verified_sessions_keep(state):
    """Each process keeps the sign-in sessions it verified (see ``raf_network.users.auth``)."""
    from raf_network.users.auth import VerifiedSessions

    state.app.extensions["verified_sessions"] = VerifiedSessions(
        recheck_seconds=state.app.config["SESSION_RECHECK_SECONDS"])


__all__ = ["blp"]
