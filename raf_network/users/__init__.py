"""The ``users`` blueprint."""
from raf_network.users.routes import blp

__all__ = ["blp"]
