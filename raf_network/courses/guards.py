"""The mass-deletion guard: a complete timetable (a webhook snapshot, an uploaded timetable CSV) that would remove
more than ``WEBHOOK_MAX_DELETE_SHARE`` of the live timetable is refused unless its sender says it is intended
(``force``). One rule for every way a whole timetable arrives."""
from flask import current_app

from raf_network.errors import Conflict


def mass_deletion_limit():
    """The largest share (0–1) of the live timetable a complete timetable may remove without ``force``."""
    return current_app.config["WEBHOOK_MAX_DELETE_SHARE"]


def mass_deletion_exceeded(plan):
    """True when ``plan`` (a ``catalogue.CataloguePlan``) removes more of the live timetable than the limit."""
    return plan.removed_share > mass_deletion_limit()


def mass_deletion_check(plan, *, force, what, remedy):
    """Raise Conflict (409, nothing written) when ``plan`` exceeds the limit and ``force`` is not given.
    ``what`` names the input in the message (``this snapshot``), ``remedy`` says how to send it anyway."""
    if force or not mass_deletion_exceeded(plan):
        return
    removed, limit = len(plan.deletes["schedule"]), mass_deletion_limit()
    raise Conflict(
        f"mass deletion refused: {what} would remove {removed} of the {plan.live_entries_before} live "
        f"timetable entries ({plan.removed_share:.0%}), more than WEBHOOK_MAX_DELETE_SHARE ({limit:.0%}); "
        f"nothing was written. {remedy}")
