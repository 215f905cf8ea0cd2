"""The ``notifications`` blueprint."""
from raf_network.notifications.routes import blp


@blp.record_once
def _worker_hooks_register(state):
    """Workers resume the fan-outs a dead worker left unfinished (see ``raf_network.jobs.worker_hooks_run``)."""
    from raf_network.notifications.services import notifications_recover

    state.app.extensions.setdefault("worker_hooks", []).append(notifications_recover)


__all__ = ["blp"]
