"""Benchmark catalog: providers, benchmarks, collections and risk categories (JSON data + pydantic)."""

from evalhub.catalog.loader import CATEGORIES, Catalog, load_catalog

__all__ = ["CATEGORIES", "Catalog", "load_catalog"]
