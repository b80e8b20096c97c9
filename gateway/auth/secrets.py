"""Client secrets: generated with 256 bits of entropy, stored as a SHA-256 digest.

A slow password hash protects low-entropy human passwords against guessing; these secrets are
random 256-bit values, so a plain digest cannot be inverted by search and keeps the token
endpoint fast. The digest is compared in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

PREFIX = "sha256$"


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def new_client_id() -> str:
    return "cli_" + secrets.token_hex(12)


def hash_secret(secret: str) -> str:
    return PREFIX + hashlib.sha256(secret.encode()).hexdigest()


def verify_secret(secret: str, stored: str) -> bool:
    return hmac.compare_digest(hash_secret(secret), stored)
