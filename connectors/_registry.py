"""The registry of connectors: the entry point group ``carnet.connectors``, and explicit ones.

Every connector, even one of this repository, is declared in ``pyproject.toml``::

    [project.entry-points."carnet.connectors"]
    france_travail = "connectors.france_travail:FranceTravailConnector"

A connector that cannot be loaded (missing, failing import, invalid settings) raises
:class:`ConnectorLoadError` with a message an operator can act on.
"""

from __future__ import annotations

from collections.abc import Iterable
from importlib.metadata import EntryPoint, entry_points

from pydantic import ValidationError

from connectors._interface import Connector

GROUP = "carnet.connectors"


class ConnectorLoadError(RuntimeError):
    """An enabled connector cannot be loaded: the process must not start."""


class Registry:
    """Connector classes by slug: those the entry points declare, and those registered."""

    def __init__(self, points: Iterable[EntryPoint] = ()) -> None:
        self._points: dict[str, EntryPoint] = {}
        for point in points:
            if point.name in self._points:
                raise ConnectorLoadError(
                    f"connecteur « {point.name} » déclaré deux fois dans le groupe {GROUP}"
                )
            self._points[point.name] = point
        self._classes: dict[str, type[Connector]] = {}

    @classmethod
    def discover(cls) -> Registry:
        """The connectors declared by the installed distributions."""
        return cls(entry_points(group=GROUP))

    def register(self, connector: type[Connector]) -> None:
        """Register a connector class without an entry point (tests, embedding)."""
        slug = connector.slug
        if slug in self._classes or slug in self._points:
            raise ConnectorLoadError(f"connecteur « {slug} » déjà enregistré")
        self._classes[slug] = _checked(connector, slug)

    def slugs(self) -> tuple[str, ...]:
        return tuple(sorted({*self._points, *self._classes}))

    def load(self, slug: str) -> type[Connector]:
        if slug in self._classes:
            return self._classes[slug]
        point = self._points.get(slug)
        if point is None:
            known = ", ".join(self.slugs()) or "aucun"
            raise ConnectorLoadError(
                f"connecteur « {slug} » activé mais non installé (groupe {GROUP} ; connus : {known})"
            )
        try:
            loaded = point.load()
        except Exception as error:
            raise ConnectorLoadError(
                f"connecteur « {slug} » : échec du chargement de {point.value} "
                f"({type(error).__name__}: {error})"
            ) from error
        self._classes[slug] = _checked(loaded, slug)
        return self._classes[slug]

    def create(self, slug: str) -> Connector:
        """The connector, with its settings read from the environment."""
        connector = self.load(slug)
        try:
            return connector.from_environment()
        except ValidationError as error:
            prefix = str(connector.settings_model.model_config.get("env_prefix", ""))
            names = ", ".join(
                prefix + ("_".join(str(part) for part in e["loc"])).upper() for e in error.errors()
            )
            raise ConnectorLoadError(
                f"connecteur « {slug} » : configuration invalide ou incomplète ({names})"
            ) from None


def _checked(loaded: object, slug: str) -> type[Connector]:
    if not (isinstance(loaded, type) and issubclass(loaded, Connector)):
        raise ConnectorLoadError(f"connecteur « {slug} » : l'objet déclaré n'est pas un Connector")
    for attribute in ("slug", "version", "description", "settings_model", "type_acteur"):
        if not hasattr(loaded, attribute):
            raise ConnectorLoadError(f"connecteur « {slug} » : attribut « {attribute} » manquant")
    if loaded.slug != slug:
        raise ConnectorLoadError(
            f"connecteur déclaré « {slug} » mais dont le slug est « {loaded.slug} »"
        )
    return loaded
