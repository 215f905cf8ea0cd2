"""The console's pages, one module each (its forms and its views); importing them registers their routes."""
from raf_network.console.pages import audit_log, broadcast, dashboard, deliveries, posts, tasks, users  # noqa: F401
