"""JobQueue protocol and its implementations."""

from .base import Delivery, JobMessage, JobQueue

__all__ = ["Delivery", "JobMessage", "JobQueue"]
