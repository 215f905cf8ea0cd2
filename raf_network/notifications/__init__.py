"""The ``notifications`` blueprint."""
from raf_network.notifications.routes import blp

__all__ = ["blp"]
