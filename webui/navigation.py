"""The menu, grouped by task, and each person's home page: both read from the permission table.

A link appears only for a role whose permission opens its page, and a group only when it has
such a link, so no one is offered a page that answers 403. The home page (the brand link, `/`
and where signing in lands) is the first page of `HOME_ORDER` the role may open.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app, request, url_for
from flask_babel import LazyString, lazy_gettext

from appliance.accounts.auth import principal_of
from appliance.security.permissions import Action, allowed
from appliance.store.people import User
from webui.security import view_action


@dataclass(frozen=True)
class MenuLink:
    """One page in the menu; `action` when the page needs more than its route's guard."""

    endpoint: str
    label: LazyString
    action: Action | None = None


@dataclass(frozen=True)
class MenuGroup:
    """A task and its pages, shown as one disclosure in the menu."""

    key: str
    label: LazyString
    links: tuple[MenuLink, ...]


@dataclass(frozen=True)
class ShownLink:
    """A menu link as one person sees it."""

    url: str
    label: str
    current: bool


@dataclass(frozen=True)
class ShownGroup:
    """A menu group as one person sees it: only the links they may open."""

    key: str
    label: str
    links: tuple[ShownLink, ...]

    @property
    def current(self) -> bool:
        """Whether the page being shown is one of this group's."""
        return any(link.current for link in self.links)


MENU: tuple[MenuGroup, ...] = (
    MenuGroup(
        "hiring",
        lazy_gettext("Hiring"),
        (
            # `/` is open to everyone signed in (it sends those without a dashboard home).
            MenuLink("dashboard.index", lazy_gettext("Dashboard"), Action.VIEW_DASHBOARD),
            MenuLink("requisitions.index", lazy_gettext("Jobs")),
            MenuLink("candidates.index", lazy_gettext("Candidates")),
            MenuLink("analysis.index", lazy_gettext("Analysis")),
            MenuLink("analytics.index", lazy_gettext("Hiring analytics")),
            MenuLink("analytics.outcomes", lazy_gettext("Outcomes after hire")),
        ),
    ),
    MenuGroup(
        "interviews",
        lazy_gettext("Interviews"),
        (
            MenuLink("candidates.tech_index", lazy_gettext("Technical rounds")),
            MenuLink("live_assist.index", lazy_gettext("Live assist")),
        ),
    ),
    MenuGroup(
        "scheduling",
        lazy_gettext("Scheduling"),
        (
            MenuLink("scheduling.index", lazy_gettext("Scheduling requests")),
            MenuLink("scheduling.availability", lazy_gettext("My availability")),
            MenuLink("scheduling.outbox", lazy_gettext("Outbox")),
        ),
    ),
    MenuGroup(
        "compliance",
        lazy_gettext("Compliance"),
        (
            MenuLink("privacy.index", lazy_gettext("Privacy")),
            MenuLink("compliance.notice_list", lazy_gettext("Notices")),
            MenuLink("compliance.bias_page", lazy_gettext("Bias audit")),
            MenuLink("exports.index", lazy_gettext("Exports")),
        ),
    ),
    MenuGroup(
        "administration",
        lazy_gettext("Administration"),
        (
            MenuLink("admin.users", lazy_gettext("Users")),
            MenuLink("admin.settings", lazy_gettext("Settings")),
            MenuLink("imports.index", lazy_gettext("Data import")),
            MenuLink("system.status_page", lazy_gettext("System")),
            MenuLink("updates.index", lazy_gettext("Updates")),
        ),
    ),
)

# The signed-in person's own account page (their name, beside the menu).
ACCOUNT_LINK = MenuLink("account.account", lazy_gettext("Your account"))

# Where a person lands: the first of these pages their role may open.
HOME_ORDER: tuple[MenuLink, ...] = (
    MenuLink("dashboard.index", lazy_gettext("Dashboard"), Action.VIEW_DASHBOARD),
    MenuLink("exports.index", lazy_gettext("Exports")),
    MenuLink("compliance.bias_page", lazy_gettext("Bias audit")),
    MenuLink("candidates.index", lazy_gettext("Candidates")),
    MenuLink("requisitions.index", lazy_gettext("Jobs")),
    ACCOUNT_LINK,
)


def _needed(link: MenuLink) -> Action | None:
    if link.endpoint not in current_app.view_functions:
        return None
    return link.action or view_action(current_app.view_functions[link.endpoint])


def may_open(user: User | None, link: MenuLink) -> bool:
    """Whether this person's role opens the link's page (never before a new password)."""
    if user is None or user.must_change_password:
        return False
    action = _needed(link)
    return action is not None and allowed(principal_of(user), action) is not None


def home_link(user: User | None) -> MenuLink:
    """The page this person lands on: sign-in, the new-password form, or their role's home."""
    if user is None:
        return MenuLink("account.login", lazy_gettext("Log in"))
    if user.must_change_password:
        return MenuLink("account.new_password", lazy_gettext("Change password"))
    for link in HOME_ORDER:
        if may_open(user, link):
            return link
    return HOME_ORDER[-1]


def home_url(user: User | None) -> str:
    """The URL of this person's home page."""
    return url_for(home_link(user).endpoint)


def menu_for(user: User | None) -> list[ShownGroup]:
    """The menu groups this person sees, each with only the links their role opens."""
    shown: list[ShownGroup] = []
    for group in MENU:
        links = tuple(
            ShownLink(url_for(link.endpoint), str(link.label), request.endpoint == link.endpoint)
            for link in group.links
            if may_open(user, link)
        )
        if links:
            shown.append(ShownGroup(group.key, str(group.label), links))
    return shown
