"""The ``notifications`` blueprint: announcements, the inbox, preferences, and the pushes behind them."""
from raf_network.notifications.routes import blp


@blp.record_once
def _hooks_register(state):
    """Listen for catalogue changes (to notify the students they affect), and let workers resume the fan-outs a
    dead worker left unfinished (see ``raf_network.jobs.worker_hooks_run``)."""
    from raf_network.courses.changes import catalogue_changed
    from raf_network.notifications.catalogue_changes import on_catalogue_changed
    from raf_network.notifications.tasks import notifications_recover

    catalogue_changed.connect(on_catalogue_changed)
    state.app.extensions.setdefault("worker_hooks", []).append(notifications_recover)


__all__ = ["blp"]
