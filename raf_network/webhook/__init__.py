"""The ``webhook`` blueprint."""
from raf_network.webhook.routes import blp

__all__ = ["blp"]
