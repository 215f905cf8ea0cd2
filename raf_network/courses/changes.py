"""The one seam for "the catalogue changed": every way the catalogue changes — webhook deliveries and their replays,
``flask import-schedule``, ``flask import-exams``, ``flask seed``, the officers' console — writes through
``catalogue_change_apply``.

In the transaction of the change it writes the plan, records the change set (``CatalogueChange``) and moves the
affected cache families to new generations (so every process serves the change on its next read:
``raf_network.cache``). Once the caller commits, it sends the ``catalogue_changed`` signal with the record's id; the
notifications blueprint connects to it and queues the notification of the students the change affects. Nothing
here knows who listens; a rolled-back change sends nothing and retires nothing.
"""
from blinker import Namespace
from sqlalchemy import event

from raf_network.cache import cache_families_invalidate
from raf_network.courses.catalogue import catalogue_write
from raf_network.courses.models import CatalogueChange
from raf_network.errors import Conflict
from raf_network.extensions import db

# Which cached responses each family of catalogue data feeds (see raf_network.cache).
CACHE_FAMILY = {"courses": "courses", "schedule": "schedule", "exam_periods": "exams", "exams": "exams"}

signals = Namespace()
# Sent after the commit of a catalogue change: sender = the app, change_id = the CatalogueChange's id.
catalogue_changed = signals.signal("catalogue-changed")




def catalogue_change_apply(*, plan, source, expected_fingerprint=None):
    """Write ``plan`` (a ``catalogue.CataloguePlan``) in the current transaction, record it and arrange its
    announcement for when the caller commits; returns its ChangeSet (``change_id`` set when something changed).

    An empty plan writes, records and announces nothing: an identical re-delivery or re-import is a no-op.
    ``expected_fingerprint`` (a dry run's ``ChangeSet.fingerprint``, for a confirmed upload): the plan must do
    exactly what that dry run showed, else Conflict and nothing is written — the catalogue changed in between."""
    if expected_fingerprint is not None and plan.changes.fingerprint != expected_fingerprint:
        raise Conflict("the catalogue changed since this file was checked, so it would now do something else than "
                       "what was shown; nothing was written. Check the file again.")
    changes = catalogue_write(plan)
    if not changes.empty:
        record = CatalogueChange(source=source[:128], changes=changes.to_json())
        db.session.add(record)
        db.session.flush()
        changes.change_id = record.id
        cache_families_invalidate({CACHE_FAMILY[family] for family in changes.families()})
        _signal_after_commit(record.id)
    return changes


def _signal_after_commit(change_id):
    session = db.session()

    @event.listens_for(session, "after_commit", once=True)
    def _committed(_session):
        event.remove(session, "after_rollback", _rolled_back)
        catalogue_changed.send(change_id=change_id)

    @event.listens_for(session, "after_rollback", once=True)
    def _rolled_back(_session):
        if event.contains(session, "after_commit", _committed):
            event.remove(session, "after_commit", _committed)
