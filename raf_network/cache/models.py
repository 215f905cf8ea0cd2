"""The cache's one table: the current generation of each family of cached responses (see ``generations``)."""
from datetime import datetime

from sqlalchemy import BigInteger, DateTime, String, func
from sqlalchemy.orm import Mapped, mapped_column

from raf_network.extensions import db


class CacheGeneration(db.Model):
    __tablename__ = "cache_generation"

    family: Mapped[str] = mapped_column(String(32), primary_key=True)
    generation: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=func.now(), onupdate=func.now())
