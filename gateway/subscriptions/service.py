"""The rules of subscriptions: a target the gateway may call, filters within the caller's
reach, a secret shown once and rotated with an overlap, kept sealed (:mod:`gateway.sealing`)."""

from __future__ import annotations

import ipaddress
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import SplitResult, urlsplit

import httpx

from gateway import sealing
from gateway.auth.principal import Principal
from gateway.errors import ProblemError
from gateway.habilitation.categories import CATEGORIES, FREE_TEXT
from gateway.habilitation.matrix import ActorRights
from gateway.sealing import Keyring
from gateway.storage import Session
from gateway.storage import subscriptions as repository
from gateway.storage.tables import Subscription
from gateway.subscriptions import addresses, signing
from referential.models import SECTIONS

#: The events a subscription may ask for: a notebook created, a notebook changed, and the
#: heartbeat that lets a subscriber tell silence from a broken pipe.
EVENT_TYPES = (
    "carnet.cree",
    "carnet.modifie",
    "carnet.rattachement_demande",
    "carnet.rattachement_decide",
    "battement",
)
#: How long the previous secret stays valid once a new one is issued.
ROTATION_OVERLAP = timedelta(hours=24)
LOOPBACK_NAMES = frozenset({"localhost"})
#: ``connecteur:<slug>``: a target delivered through a ``deliver`` connector.
CONNECTOR_SLUG = re.compile(r"[a-z][a-z0-9_]{0,63}")


class InvalidSubscription(ProblemError):
    status = 422
    code = "abonnement_invalide"
    title = "Abonnement invalide : voir les erreurs par pointeur."


def _error(pointer: str, code: str, message: str) -> dict[str, str]:
    return {"pointer": pointer, "code": code, "message": message}


def _loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _internal(host: str) -> bool:
    """An address of a private, link-local (cloud metadata), loopback or reserved network:
    the gateway must not be made to call into the networks it runs in."""
    if host in LOOPBACK_NAMES:
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False  # a name: resolved and checked by the worker at each delivery
    return not addresses.allowed(address, allow_loopback=False)


def _callable(url: str) -> bool:
    """The URL is one the worker can call: parsed by the HTTP client (IDNA host, numeric
    port) and a port within 1–65535."""
    try:
        target = httpx.URL(url)
        target.raw_host.decode("ascii")
        port = urlsplit(url).port
    except (httpx.InvalidURL, ValueError, UnicodeError):
        return False
    return port is None or 1 <= port <= 65535


def check(
    changes: dict[str, Any], principal: Principal, *, allow_loopback_http: bool
) -> list[dict[str, str]]:
    """What is wrong with the fields of a subscription being created or changed."""
    errors = []
    url = changes.get("url")
    if url is not None:
        try:
            parts: SplitResult | None = urlsplit(url)
        except ValueError:  # e.g. an unclosed ``[`` around an IPv6 address
            parts = None
        host = (parts.hostname or "") if parts is not None else ""
        if parts is None:
            errors.append(_error("/url", "url_invalide", "URL illisible."))
        elif parts.scheme == "connecteur":
            # Delivered by the worker through a ``deliver`` connector (the département IS).
            if not CONNECTOR_SLUG.fullmatch(parts.path):
                errors.append(_error("/url", "url_invalide", "Connecteur de destination invalide."))
        elif parts.username or parts.password:
            errors.append(
                _error("/url", "url_invalide", "L'URL ne doit pas porter d'identifiants.")
            )
        elif not host:
            errors.append(_error("/url", "url_invalide", "URL sans hôte."))
        elif not _callable(url):
            errors.append(
                _error(
                    "/url",
                    "url_invalide",
                    "URL inutilisable : hôte ou port invalide (port de 1 à 65535).",
                )
            )
        elif parts.scheme in ("http", "https") and _loopback(host) and allow_loopback_http:
            pass  # a receiver on this machine, outside production (tests, a developer's)
        elif parts.scheme != "https":
            errors.append(
                _error("/url", "url_non_https", "L'URL de destination doit être en https.")
            )
        elif _internal(host):
            errors.append(
                _error(
                    "/url",
                    "url_reseau_interne",
                    "L'URL de destination doit être une adresse publique.",
                )
            )
    for name, allowed in (
        ("territoires", principal.territoires),
        ("sections", SECTIONS),
        ("categories", CATEGORIES),
        ("types", EVENT_TYPES),
    ):
        for index, value in enumerate(changes.get(name) or ()):
            if value not in allowed:
                errors.append(
                    _error(
                        f"/{name}/{index}",
                        "valeur_non_autorisee",
                        f"Valeur non autorisée. Valeurs possibles : {', '.join(allowed)}.",
                    )
                )
    return errors


def check_inclusion(fields: dict[str, Any], actor: ActorRights) -> list[dict[str, str]]:
    """What is wrong with embedding the changed sections, for a subscription whose target,
    ``inclure_sections`` and ``finalite`` would be ``fields`` (``actor``: the caller's rights,
    within its token's scopes)."""
    if not fields.get("inclure_sections"):
        return []
    errors = []
    if str(fields.get("url") or "").startswith("connecteur:"):
        errors.append(
            _error(
                "/inclure_sections",
                "inclusion_non_prise_en_charge",
                "Un connecteur de livraison reçoit la forme qu'il documente, sans les volets.",
            )
        )
    if not exportable(actor):
        errors.append(
            _error(
                "/inclure_sections",
                "export_non_autorise",
                "Votre habilitation n'autorise l'export d'aucune catégorie de données.",
            )
        )
    purpose = fields.get("finalite")
    if purpose is None:
        errors.append(
            _error(
                "/finalite",
                "finalite_requise",
                "Finalités possibles : " + ", ".join(actor.finalites) + ".",
            )
        )
    elif purpose not in actor.finalites:
        errors.append(
            _error(
                "/finalite",
                "finalite_non_autorisee",
                "Finalités possibles : " + ", ".join(actor.finalites) + ".",
            )
        )
    return errors


def exportable(actor: ActorRights) -> frozenset[str]:
    """The categories an actor may read and export into its own system (free text: the free
    text it is served, see :func:`gateway.habilitation.categories.project`)."""
    readable = actor.readable | {FREE_TEXT}
    return frozenset(c for c in readable if actor.may("export", c))


def create(
    principal: Principal, fields: dict[str, Any], now: datetime, keyring: Keyring
) -> tuple[Subscription, str]:
    """A new subscription, and its signing secret in clear (shown once, stored sealed)."""
    subscription_id = str(uuid.uuid4())
    secret = signing.new_secret()
    subscription = Subscription(
        id=subscription_id,
        organisation_id=principal.organisation_id,
        client_id=principal.client_id,
        url=fields["url"],
        territoires=_unique(fields.get("territoires") or ()),
        sections=_unique(fields.get("sections") or ()),
        categories=_unique(fields.get("categories") or ()),
        types=_unique(fields.get("types") or ("carnet.cree", "carnet.modifie")),
        inclure_sections=bool(fields.get("inclure_sections")),
        finalite=fields.get("finalite"),
        secret=keyring.seal(secret, seal_context(subscription_id)),
        actif=True,
        cree_le=now,
        modifie_le=now,
    )
    return subscription, secret


def update(subscription: Subscription, changes: dict[str, Any], now: datetime) -> None:
    for name in ("territoires", "sections", "categories", "types"):
        if name in changes:
            setattr(subscription, name, _unique(changes[name] or ()))
    if "url" in changes:
        subscription.url = changes["url"]
    if "inclure_sections" in changes:
        subscription.inclure_sections = bool(changes["inclure_sections"])
    if "finalite" in changes:
        subscription.finalite = changes["finalite"]
    if "actif" in changes:
        subscription.actif = bool(changes["actif"])
        # Enabled again by its owner: the reason it was disabled no longer holds.
        subscription.motif_desactivation = None if subscription.actif else "desactive"
    subscription.modifie_le = now


def rotate(subscription: Subscription, now: datetime, keyring: Keyring) -> str:
    """Issue a new secret (returned in clear, stored sealed); the current one stays valid for
    :data:`ROTATION_OVERLAP`."""
    secret = signing.new_secret()
    subscription.secret_precedent = subscription.secret
    subscription.precedent_expire_le = now + ROTATION_OVERLAP
    subscription.secret = keyring.seal(secret, seal_context(subscription.id))
    subscription.modifie_le = now
    return secret


def valid_secrets(subscription: Subscription, now: datetime, keyring: Keyring) -> list[str]:
    """The secrets a delivery is signed with now, in clear: the current one, and the previous
    one during a rotation (:class:`gateway.sealing.SealError` when the keys cannot open them)."""
    sealed = [subscription.secret]
    expires = subscription.precedent_expire_le
    if subscription.secret_precedent and expires is not None and expires > now:
        sealed.append(subscription.secret_precedent)
    return [keyring.open(value, seal_context(subscription.id)) for value in sealed]


def reseal(subscription: Subscription, keyring: Keyring) -> dict[str, str]:
    """The secrets sealed again under the sealing key (after a key rotation, or a secret left
    in clear by an older gateway), by column; empty when none needs it. The subscription is
    left as read: :func:`gateway.storage.subscriptions.replace_secrets` writes them, unless
    its secrets changed meanwhile."""
    resealed = {}
    context = seal_context(subscription.id)
    for name in ("secret", "secret_precedent"):
        value: str | None = getattr(subscription, name)
        if value is None or keyring.current(value):
            continue
        clear = keyring.open(value, context) if sealing.sealed(value) else value
        resealed[name] = keyring.seal(clear, context)
    return resealed


@dataclass(slots=True)
class Resealed:
    """What :func:`reseal_all` did."""

    #: The subscriptions whose secrets were sealed again.
    resealed: int = 0
    #: Those whose secrets changed during the operation (a rotation), left as they were.
    changed: int = 0
    #: Those whose secrets no key opens: (subscription id, the error's code).
    unreadable: list[tuple[str, str]] = field(default_factory=list)


def reseal_all(session: Session, keyring: Keyring) -> Resealed:
    """Seal again, under the sealing key of ``keyring``, the secrets of every subscription that
    needs it (:func:`reseal`)."""
    done = Resealed()
    for subscription in repository.every(session):
        try:
            sealed = reseal(subscription, keyring)
        except sealing.SealError as error:
            done.unreadable.append((subscription.id, error.code))
            continue
        if not sealed:
            continue
        # Written only over the secrets read: a rotation committed meanwhile stands.
        if repository.replace_secrets(session, subscription, sealed):
            done.resealed += 1
        else:
            done.changed += 1
    return done


def seal_context(subscription_id: str) -> str:
    """What a sealed secret is bound to: its subscription."""
    return f"abonnements:{subscription_id}"


def wire(subscription: Subscription, now: datetime | None = None) -> dict[str, Any]:
    """A subscription as the API gives it: never its secrets."""
    now = now or datetime.now(UTC)
    expires = subscription.precedent_expire_le
    rotating = bool(subscription.secret_precedent) and expires is not None and expires > now
    return {
        "id": subscription.id,
        "url": subscription.url,
        "territoires": subscription.territoires,
        "sections": subscription.sections,
        "categories": subscription.categories,
        "types": subscription.types,
        "actif": subscription.actif,
        "motif_desactivation": subscription.motif_desactivation,
        "inclure_sections": subscription.inclure_sections,
        "finalite": subscription.finalite,
        "secrets_valides": 2 if rotating else 1,
        "precedent_expire_le": expires if rotating else None,
        "cree_le": subscription.cree_le,
        "modifie_le": subscription.modifie_le,
    }


def _unique(values: Sequence[str]) -> list[str]:
    return sorted(set(values))
