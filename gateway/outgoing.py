"""The bodies that leave the gateway, as published (``openapi/schemas/sortants-1``, served at
``/v1/schemas/sortants-1/<kind>``): the change feed's, the webhook's, and those of every
installed connector (its ``published``)."""

from __future__ import annotations

from connectors import ConnectorLoadError, Registry
from gateway.feed.routes import CHANGEMENT, CHANGEMENTS
from gateway.subscriptions.wire import WEBHOOK
from referential import OutgoingBody


def outgoing_bodies(registry: Registry, *, skip_unloadable: bool = False) -> list[OutgoingBody]:
    """Every outgoing body, by kind. With ``skip_unloadable``, an installed connector that
    cannot load publishes nothing (the server: only an enabled one must load)."""
    bodies = [CHANGEMENT, CHANGEMENTS, WEBHOOK]
    for slug in registry.slugs():
        try:
            bodies += registry.load(slug).published
        except ConnectorLoadError:
            if not skip_unloadable:
                raise
    return sorted(bodies, key=lambda body: body.kind)
