"""The password policy: long enough, varied enough, and not a commonly used password.

The common passwords are zxcvbn's list (a registry dependency, MIT licence): the 30 000 most
frequent passwords of public breach corpora, as kept by the zxcvbn project. A password is
refused when it is one of them, also with digits or symbols put before or after it
(`password1234`, `Sunshine2026!`), since that is the first thing a guesser tries.
"""

from __future__ import annotations

import functools
import re

from appliance.platform.errors import ApplianceError

MIN_PASSWORD_CHARS = 12
MIN_DISTINCT_CHARS = 5
# Digits, punctuation and spaces around a word: what people add to meet a length rule.
_PADDING = re.compile(r"^[\d\W_]+|[\d\W_]+$")


class PasswordPolicyError(ApplianceError):
    """A new password does not meet the policy; `code` names which rule, for the UI."""

    exit_code = 17

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@functools.cache
def _common_passwords() -> frozenset[str]:
    # Loaded on first use: the module holds several word lists (a few MB) the web UI may not need.
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    return frozenset(FREQUENCY_LISTS["passwords"])


def is_common_password(password: str) -> bool:
    """Whether a password is a common one, alone or padded with digits and symbols."""
    folded = password.casefold()
    common = _common_passwords()
    return folded in common or _PADDING.sub("", folded) in common


def check_password_policy(password: str) -> None:
    """At least 12 characters, not all of a few kinds, and not a common password."""
    if len(password) < MIN_PASSWORD_CHARS:
        raise PasswordPolicyError(
            "too_short", f"a password needs at least {MIN_PASSWORD_CHARS} characters"
        )
    if len(set(password)) < MIN_DISTINCT_CHARS:
        raise PasswordPolicyError("too_uniform", "a password needs more variety than that")
    if is_common_password(password):
        raise PasswordPolicyError(
            "common", "that is a commonly used password: guessers try it first"
        )
