"""BlobStore protocol and its implementations."""

from .base import BlobStore

__all__ = ["BlobStore"]
