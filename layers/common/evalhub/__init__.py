"""Eval Hub core: models, catalog, services and the adapters they run on."""

__version__ = "0.1.0"
