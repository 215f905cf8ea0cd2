"""The ``courses`` blueprint: the course catalogue (courses, timetable, examination periods)."""
from raf_network.courses.routes import blp

__all__ = ["blp"]
