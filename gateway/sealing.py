"""Secrets the gateway must read back in clear (the signing secrets of webhook subscriptions:
HMAC needs them), kept at rest sealed with AES-256-GCM under a key of the settings.

A sealed value reads ``a256gcm$<kid>$<base64url(nonce ‖ ciphertext ‖ tag)>``: the key id says
which key opens it, so keys rotate — the first key of ``CARNET_CLES_SECRETS`` seals, every key
listed opens. The context (the row the value belongs to) is authenticated with it: a sealed
value copied to another row does not open.

The keys: ``CARNET_CLES_SECRETS`` (``kid:<32 bytes in base64>``, comma-separated), required in
production; elsewhere, when it is unset, a key file created on first use in the data directory
(``CARNET_CLES_SECRETS_FICHIER``, ``var/cles_secrets``).
"""

from __future__ import annotations

import base64
import binascii
import os
import re
import secrets
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

if TYPE_CHECKING:
    from gateway.settings import Settings

TAG = "a256gcm"
KEY_BYTES = 32
NONCE_BYTES = 12
KID = re.compile(r"[A-Za-z0-9_.-]{1,32}")


class SealError(Exception):
    """A sealed value that cannot be opened: a stable code, no value in the message."""

    code = "secret_indechiffrable"


class UnknownKey(SealError):
    """Sealed under a key the settings no longer (or do not yet) list."""

    code = "cle_secrets_inconnue"


class InvalidKeys(ValueError):
    """``CARNET_CLES_SECRETS`` (or the key file) is not a list of ``kid:base64`` keys."""


class Keyring:
    """The keys: the first seals, every one opens."""

    def __init__(self, keys: list[tuple[str, bytes]]) -> None:
        if not keys:
            raise InvalidKeys("aucune clé")
        self.kid = keys[0][0]
        self._ciphers = {kid: AESGCM(key) for kid, key in keys}

    @classmethod
    def parse(cls, text: str) -> Keyring:
        keys: list[tuple[str, bytes]] = []
        for position, item in enumerate(filter(None, re.split(r"[,\s]+", text.strip())), 1):
            kid, _, encoded = item.partition(":")
            if not KID.fullmatch(kid):
                raise InvalidKeys(f"clé n° {position} : identifiant absent ou invalide")
            try:
                key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), altchars=b"-_")
            except (binascii.Error, ValueError):
                key = b""
            if len(key) != KEY_BYTES:
                raise InvalidKeys(f"clé « {kid} » : {KEY_BYTES} octets en base64 attendus")
            if any(kid == seen for seen, _ in keys):
                raise InvalidKeys(f"clé « {kid} » listée deux fois")
            keys.append((kid, key))
        return cls(keys)

    @classmethod
    def from_file(cls, path: Path) -> Keyring:
        """The keys of the file, created with one new key when it does not exist."""
        if not path.exists():
            _create(path, new_key())
        return cls.parse(path.read_text(encoding="utf-8"))

    def seal(self, clear: str, context: str) -> str:
        nonce = secrets.token_bytes(NONCE_BYTES)
        sealed = self._ciphers[self.kid].encrypt(nonce, clear.encode(), context.encode())
        encoded = base64.urlsafe_b64encode(nonce + sealed).rstrip(b"=").decode()
        return f"{TAG}${self.kid}${encoded}"

    def open(self, stored: str, context: str) -> str:
        tag, kid, encoded = [*stored.split("$"), "", ""][:3]
        if tag != TAG:
            raise SealError("valeur non scellée")
        cipher = self._ciphers.get(kid)
        if cipher is None:
            raise UnknownKey(f"clé « {kid} » absente de CARNET_CLES_SECRETS")
        try:
            raw = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
            clear = cipher.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], context.encode())
        except (binascii.Error, ValueError, InvalidTag):
            raise SealError("valeur scellée altérée ou d'une autre ligne") from None
        return clear.decode()

    def current(self, stored: str) -> bool:
        """Whether ``stored`` is sealed under the sealing key (nothing to seal again)."""
        return stored.startswith(f"{TAG}${self.kid}$")


def keyring(settings: Settings) -> Keyring:
    """The keys the settings name: ``CARNET_CLES_SECRETS``, or outside production the key file."""
    if settings.cles_secrets is not None:
        return Keyring.parse(settings.cles_secrets.get_secret_value())
    if settings.environment == "production":  # refused by the settings already
        raise InvalidKeys("CARNET_CLES_SECRETS est obligatoire en production")
    return Keyring.from_file(Path(settings.cles_secrets_fichier))


def sealed(stored: str) -> bool:
    return stored.startswith(TAG + "$")


def new_key() -> str:
    """A new key as ``CARNET_CLES_SECRETS`` lists it: ``kid:base64``."""
    kid = secrets.token_hex(4)
    return f"{kid}:{base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode()}"


def _create(path: Path, content: str) -> None:
    """Write the key file readable by its owner only; a process creating it at the same time
    wins or loses whole (written aside, then linked into place)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    aside = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    descriptor = os.open(aside, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as file:
            file.write(content + "\n")
        try:
            os.link(aside, path)
        except FileExistsError:
            pass  # another process made it first: its key is the one
    finally:
        aside.unlink(missing_ok=True)
