"""The enabled connectors, loaded through the registry at start-up.

``CARNET_CONNECTEURS`` names, per connector, the territories where it is enabled and, in each,
the registered client it writes as (an organisation of the connector's actor kind in that
territory): its writes are validated, habilitated, journaled and attributed like any partner's.
A connector that is enabled and cannot load stops start-up with a message naming the problem.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from connectors import Connector, ConnectorLoadError, Registry
from gateway.habilitation.matrix import Matrix
from gateway.organisations.service import DEPARTEMENT


@dataclass(frozen=True, slots=True)
class EnabledConnector:
    connector: Connector
    #: territoire → client_id of the client it writes as there.
    clients: Mapping[str, str]

    @property
    def territoires(self) -> tuple[str, ...]:
        return tuple(sorted(self.clients))


class Connectors:
    def __init__(self, enabled: Mapping[str, EnabledConnector]) -> None:
        self._enabled = dict(enabled)

    @classmethod
    def load(
        cls, configuration: Mapping[str, Mapping[str, str]], registry: Registry, matrix: Matrix
    ) -> Connectors:
        enabled: dict[str, EnabledConnector] = {}
        for slug, clients in sorted(configuration.items()):
            bad = sorted(t for t in clients if not DEPARTEMENT.match(t))
            if bad:
                raise ConnectorLoadError(
                    f"connecteur « {slug} » : territoires invalides {bad} (codes de département)"
                )
            connector = registry.create(slug)
            if connector.type_acteur not in matrix.actors:
                raise ConnectorLoadError(
                    f"connecteur « {slug} » : type d'acteur « {connector.type_acteur} » inconnu "
                    "de la matrice d'habilitation"
                )
            if connector.finalite not in matrix.actor(connector.type_acteur).finalites:
                raise ConnectorLoadError(
                    f"connecteur « {slug} » : finalité « {connector.finalite} » non ouverte au "
                    f"type d'acteur « {connector.type_acteur} »"
                )
            enabled[slug] = EnabledConnector(connector=connector, clients=dict(clients))
        return cls(enabled)

    def get(self, slug: str) -> EnabledConnector | None:
        return self._enabled.get(slug)

    def __iter__(self) -> Iterator[EnabledConnector]:
        return iter(self._enabled.values())

    async def aclose(self) -> None:
        for entry in self._enabled.values():
            await entry.connector.aclose()


def connector_registry() -> Registry:
    """The registry connectors are loaded from by default: the installed entry points (of the
    group ``carnet.connectors``). Looked up here at each call, so the tests can replace it."""
    return Registry.discover()
