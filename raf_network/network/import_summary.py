"""What a portal import did, in the pieces every reader of its ``ImportReport`` shows — ``flask network
import-portal``'s summary and the console task's outcome: the counts per table and the lines of what could not be
used (unreadable dates, failed fetches, other problems). Each reader puts them in its own words and language."""

# (ImportReport attribute, whether it counts removals): the tables an import writes, in the order they are shown.
COUNTED = (("people", False), ("companies", False), ("degrees", False), ("academic", True), ("employment", True))
ISSUES = ("unreadable_dates", "failed", "problems")


def report_counts(report):
    """``[(table, created, updated, removed or None)]`` — ``removed`` only for the tables an import removes from."""
    rows = []
    for name, removable in COUNTED:
        counts = getattr(report, name)
        rows.append((name, counts.created, counts.updated, counts.removed if removable else None))
    return rows


def report_issues(report):
    """``{"unreadable_dates" | "failed" | "problems": [line, …]}``, one line per item, as the report orders them."""
    return {
        "unreadable_dates": [f"#{portal_id} {name}, {field}: {text!r}"
                             for portal_id, name, field, text in report.unreadable_dates],
        "failed": [f"#{portal_id}: {reason}" for portal_id, reason in report.failed],
        "problems": [f"{'#' + str(portal_id) if portal_id is not None else 'portal'}: {message}"
                     for portal_id, message in report.problems],
    }
