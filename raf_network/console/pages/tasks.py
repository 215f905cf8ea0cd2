"""A console task's page (``/console/tasks/<id>``): a long action (an import) running as a job — its state, its
progress, then its outcome or its error. It refreshes itself (``<meta http-equiv="refresh">``, no script) while the
task is queued or running. What the task is and does: ``console.tasks``."""
from flask import render_template

from raf_network.console.auth import staff_required
from raf_network.console.blueprint import blp
from raf_network.console.tasks import ACTIVE_STATES, RUNNERS, task_get

PROGRESS_REFRESH_SECONDS = 2
STATE_TEXTS = {
    "planned": "Čeka potvrdu",
    "queued": "U redu za izvršavanje",
    "running": "U toku",
    "done": "Završeno",
    "failed": "Neuspelo",
    "cancelled": "Otkazano",
}


@blp.get("/tasks/<int:task_id>")
@staff_required
def task_status(task_id):
    """A task's state and progress, refreshing itself until it is done or failed."""
    task = task_get(task_id=task_id)
    runner = RUNNERS.get(task.kind)  # a kind no longer registered: the page still shows what happened
    return render_template("console/task.html", task=task, state_text=STATE_TEXTS.get(task.state, task.state),
                           back=runner.page if runner else "console.dashboard",
                           refresh=PROGRESS_REFRESH_SECONDS if task.state in ACTIVE_STATES else None)
