"""One blueprint per resource; `blueprints()` is the list create_app registers."""

from __future__ import annotations

from flask import Blueprint

from webui.views import (
    account,
    admin,
    analysis,
    api,
    candidates,
    compliance,
    dashboard,
    exports,
    imports,
    privacy,
    reports,
    requisitions,
    room,
    system,
    uploads,
)


def blueprints() -> list[Blueprint]:
    """Every blueprint of the web UI and the API."""
    return [
        system.bp,
        account.bp,
        admin.bp,
        dashboard.bp,
        requisitions.bp,
        candidates.bp,
        reports.bp,
        uploads.bp,
        room.bp,
        analysis.bp,
        api.bp,
        compliance.bp,
        privacy.bp,
        imports.bp,
        exports.bp,
    ]
