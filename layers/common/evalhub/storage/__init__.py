"""Store protocol and its implementations."""

from .base import Page, Rollup, Store

__all__ = ["Page", "Rollup", "Store"]
