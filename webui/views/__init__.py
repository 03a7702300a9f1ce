"""One blueprint per resource; `blueprints()` is the list create_app registers."""

from __future__ import annotations

from flask import Blueprint

from webui.views import (
    account,
    admin,
    affect,
    analysis,
    analytics,
    api,
    candidates,
    coding,
    competency,
    compliance,
    dashboard,
    exports,
    imports,
    live_assist,
    notifications,
    playback,
    privacy,
    reports,
    requisitions,
    resumes,
    room,
    room_coding,
    scheduling,
    segments,
    system,
    updates,
    uploads,
)


def blueprints() -> list[Blueprint]:
    """Every blueprint of the web UI and the API."""
    return [
        system.bp,
        updates.bp,
        account.bp,
        admin.bp,
        dashboard.bp,
        requisitions.bp,
        competency.bp,
        coding.bp,
        candidates.bp,
        reports.bp,
        playback.bp,
        resumes.bp,
        segments.bp,
        uploads.bp,
        room.bp,
        room_coding.bp,
        live_assist.bp,
        notifications.bp,
        scheduling.bp,
        analysis.bp,
        analytics.bp,
        api.bp,
        compliance.bp,
        privacy.bp,
        imports.bp,
        exports.bp,
        affect.bp,
    ]
