"""Request-scoped access to the application context."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from evalhub.context import Context


def context(request: Request) -> Context:
    ctx: Context = request.app.state.context
    return ctx


Ctx = Annotated[Context, Depends(context)]
