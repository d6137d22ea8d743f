"""Launcher protocol and its implementations."""

from .base import Launcher, LaunchFailed

__all__ = ["LaunchFailed", "Launcher"]
