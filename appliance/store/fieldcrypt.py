"""Field-level encryption of a candidate's personal data inside the main database.

The main database is encrypted as a whole (SQLCipher), but its key also opens every backup of
it. Text that identifies or describes a candidate is therefore sealed a second time, field by
field, with the candidate's own data key from the vault (AES-256-GCM). The vault is never in a
backup, so shredding the key makes every copy of those fields unreadable: the live file, its
WAL, and every backup taken before the erasure.

A sealed value is text: `fc1:` followed by base64(nonce ‖ ciphertext ‖ tag). The associated
data binds the format version, the table, the column and the row's identity, so a value copied
into another row or column does not open. Which columns are sealed, and how their rows find
their candidate, is listed once in `appliance.store.sealed.SEALED_COLUMNS`.
"""

from __future__ import annotations

import binascii
import json
import secrets
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from appliance.platform.errors import ApplianceError

VERSION = "fc1"
PREFIX = f"{VERSION}:"
NONCE_BYTES = 12
KEY_BYTES = 32
# What a field of an erased candidate reads as: their key is gone, the text with it.
ERASED = "[erased]"
# What a sealed JSON document (a report's content) of an erased candidate reads as.
ERASED_CONTENT: dict[str, Any] = {"erased": True}


# A candidate's raw key, or the cipher prepared from it once for many fields (preparing one
# costs more than opening a short field with it).
FieldKey = bytes | AESGCM


def cipher(key: FieldKey) -> AESGCM:
    """The AES-256-GCM cipher of a field key."""
    if isinstance(key, AESGCM):
        return key
    if len(key) != KEY_BYTES:
        raise ValueError("a field key is 32 bytes")
    return AESGCM(key)


class SealedFieldError(ApplianceError):
    """A sealed field does not open: altered, moved to another row or column, or a wrong key."""

    exit_code = 35


def associated_data(table: str, column: str, row: int | str) -> bytes:
    """What a sealed value is bound to: format version, table, column and row identity."""
    return "\x1f".join((VERSION, table, column, str(row))).encode("utf-8")


def is_sealed(value: object) -> bool:
    """Whether a stored value is a sealed field (as opposed to legacy text or a tombstone)."""
    return isinstance(value, str) and value.startswith(PREFIX)


def seal(key: FieldKey, value: str, *, table: str, column: str, row: int | str) -> str:
    """Encrypt one field's text for one row of one column."""
    nonce = secrets.token_bytes(NONCE_BYTES)
    sealed = cipher(key).encrypt(nonce, value.encode("utf-8"), associated_data(table, column, row))
    return PREFIX + binascii.b2a_base64(nonce + sealed, newline=False).decode("ascii")


def open_sealed(key: FieldKey, token: str, *, table: str, column: str, row: int | str) -> str:
    """Decrypt a sealed field; SealedFieldError if it is damaged, misplaced or the key is wrong."""
    if not is_sealed(token):
        raise SealedFieldError(f"{table}.{column} of row {row} is not a sealed field")
    try:
        raw = binascii.a2b_base64(token[len(PREFIX) :])
        plain = cipher(key).decrypt(
            raw[:NONCE_BYTES], raw[NONCE_BYTES:], associated_data(table, column, row)
        )
    except (InvalidTag, ValueError, binascii.Error):
        raise SealedFieldError(
            f"{table}.{column} of row {row} does not open (altered, moved or the wrong key)"
        ) from None
    return plain.decode("utf-8")


def seal_text(
    key: FieldKey, value: str | None, *, table: str, column: str, row: int | str
) -> str | None:
    """`seal` for a nullable column: None stays NULL."""
    return None if value is None else seal(key, value, table=table, column=column, row=row)


def open_text(
    key: FieldKey | None, value: str | None, *, table: str, column: str, row: int | str
) -> str | None:
    """A stored field as text: opened if sealed, ERASED when the key is gone.

    Unsealed text is returned as it is: tombstone markers, and rows written before the
    field encryption that `seal_existing_rows` has not reached yet.
    """
    if value is None or not is_sealed(value):
        return value
    if key is None:
        return ERASED
    return open_sealed(key, value, table=table, column=column, row=row)


def json_sealing(text: str) -> str | None:
    """Which sealing a sealed JSON column's text is (its nonce, base64: every seal draws a new
    random one), without opening it; None for text that is not sealed."""
    prefix = '"' + PREFIX
    if not text.startswith(prefix):
        return None
    nonce = text[len(prefix) : len(prefix) + 4 * NONCE_BYTES // 3]
    return nonce if len(nonce) == 4 * NONCE_BYTES // 3 else None


def _dumps(value: Any) -> str:
    # The same compact, stable JSON as appliance.store.base.dumps (not imported: the store
    # package imports this module).
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def seal_json(key: FieldKey, value: Any, *, table: str, column: str, row: int | str) -> str:
    """JSON column text holding `value` sealed: a JSON string, so json_valid() still holds."""
    return _dumps(seal(key, _dumps(value), table=table, column=column, row=row))


def open_json(key: FieldKey | None, text: str, *, table: str, column: str, row: int | str) -> Any:
    """A JSON column's value: opened if sealed, ERASED_CONTENT when the key is gone."""
    value = json.loads(text)
    if not is_sealed(value):
        return value
    if key is None:
        return dict(ERASED_CONTENT)
    return json.loads(open_sealed(key, value, table=table, column=column, row=row))
