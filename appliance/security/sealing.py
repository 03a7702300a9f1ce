"""Sealing the appliance's keys at rest: an envelope that only the configured sealer can open.

The passphrase sealer derives a key-encryption key with scrypt and encrypts with AES-256-GCM;
the envelope's header is authenticated too, so its cost parameters cannot be lowered unseen.
A TPM sealer implements the same `KeySealer` interface and registers under its own kind.
"""

from __future__ import annotations

import base64
import json
import os
from abc import ABC, abstractmethod
from typing import Any, ClassVar

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from appliance.platform.errors import PassphraseError

ENVELOPE_FORMAT = "interview-appliance/sealed-key"
ENVELOPE_VERSION = 1
MIN_PASSPHRASE_CHARS = 12


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text.encode("ascii"), validate=True)


def _aad(header: dict[str, Any]) -> bytes:
    return json.dumps(header, sort_keys=True, separators=(",", ":")).encode()


class KeySealer(ABC):
    """Seals a secret into a JSON envelope and opens it again."""

    kind: ClassVar[str]

    @abstractmethod
    def seal(self, secret: bytes) -> dict[str, Any]:
        """Return a JSON-serialisable envelope that holds `secret` encrypted."""

    @abstractmethod
    def unseal(self, envelope: dict[str, Any]) -> bytes:
        """Return the secret of an envelope made by this kind of sealer."""


class PassphraseSealer(KeySealer):
    """scrypt(passphrase) → AES-256-GCM key-encryption key."""

    kind = "passphrase"

    def __init__(self, passphrase: str, *, log2_n: int = 17) -> None:
        if not passphrase:
            raise PassphraseError("the passphrase is empty")
        self._passphrase = passphrase.encode("utf-8")
        self.log2_n = log2_n

    def _kek(self, salt: bytes, log2_n: int, r: int, p: int) -> bytes:
        return Scrypt(salt=salt, length=32, n=1 << log2_n, r=r, p=p).derive(self._passphrase)

    def seal(self, secret: bytes) -> dict[str, Any]:
        """Encrypt `secret` under a key derived from the passphrase."""
        salt, nonce = os.urandom(16), os.urandom(12)
        header: dict[str, Any] = {
            "format": ENVELOPE_FORMAT,
            "version": ENVELOPE_VERSION,
            "sealer": self.kind,
            "kdf": {"name": "scrypt", "log2_n": self.log2_n, "r": 8, "p": 1, "salt": _b64(salt)},
            "cipher": "AES-256-GCM",
            "nonce": _b64(nonce),
        }
        kek = self._kek(salt, self.log2_n, 8, 1)
        ciphertext = AESGCM(kek).encrypt(nonce, secret, _aad(header))
        return {**header, "ciphertext": _b64(ciphertext)}

    def unseal(self, envelope: dict[str, Any]) -> bytes:
        """Decrypt an envelope; a wrong passphrase or an altered envelope fail alike."""
        header = {key: value for key, value in envelope.items() if key != "ciphertext"}
        try:
            kdf = header["kdf"]
            if kdf["name"] != "scrypt" or int(kdf["log2_n"]) < 14:
                raise PassphraseError("the sealed key uses an unsupported or too weak KDF")
            kek = self._kek(_unb64(kdf["salt"]), int(kdf["log2_n"]), int(kdf["r"]), int(kdf["p"]))
            return AESGCM(kek).decrypt(
                _unb64(header["nonce"]), _unb64(envelope["ciphertext"]), _aad(header)
            )
        except InvalidTag:
            raise PassphraseError(
                "the passphrase does not unseal the appliance key (wrong passphrase, "
                "or the sealed key file was altered)"
            ) from None
        except (KeyError, TypeError, ValueError) as exc:
            raise PassphraseError(f"the sealed key file is malformed ({exc})") from None


SEALER_KINDS: dict[str, type[KeySealer]] = {PassphraseSealer.kind: PassphraseSealer}


def envelope_kind(envelope: dict[str, Any]) -> str:
    """The sealer kind named by an envelope, after checking its format."""
    if envelope.get("format") != ENVELOPE_FORMAT or envelope.get("version") != ENVELOPE_VERSION:
        raise PassphraseError("the sealed key file is not an appliance key envelope (version 1)")
    kind = envelope.get("sealer")
    if kind not in SEALER_KINDS:
        raise PassphraseError(f"the sealed key needs the `{kind}` sealer, which is not available")
    return str(kind)
