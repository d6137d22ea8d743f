"""Launcher protocol and its implementations."""

from .base import LaunchFailed, Launcher

__all__ = ["LaunchFailed", "Launcher"]
