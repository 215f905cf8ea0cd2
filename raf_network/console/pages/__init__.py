"""The console's pages, one module each (its forms and its views); importing them registers their routes."""
from raf_network.console.pages import (  # noqa: F401
    audit_log,
    broadcast,
    dashboard,
    deliveries,
    exams,
    network,
    network_companies,
    network_import,
    posts,
    tasks,
    timetable,
    users,
)
