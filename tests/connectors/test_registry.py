"""The registry: entry points of the group carnet.connectors, and explicit registrations."""

from importlib.metadata import EntryPoint

import pytest

from connectors import GROUP, Capability, ConnectorLoadError, Registry
from connectors.france_travail import FranceTravailConnector, FranceTravailSettings


def test_the_france_travail_connector_is_declared_by_its_entry_point():
    registry = Registry.discover()
    assert "france_travail" in registry.slugs()
    assert registry.load("france_travail") is FranceTravailConnector


def test_a_connector_is_created_with_its_settings_from_its_own_prefix(monkeypatch):
    monkeypatch.setenv("CARNET_FT_CLIENT_ID", "PAR_carnetdemo_7f3a")
    monkeypatch.setenv("CARNET_FT_CLIENT_SECRET", "demo-secret-not-real")
    monkeypatch.setenv("CARNET_FT_GENERATION", "v1")
    connector = Registry.discover().create("france_travail")
    assert isinstance(connector.settings, FranceTravailSettings)
    assert connector.settings.generation == "v1"
    assert connector.capabilities() == (Capability.PULL,)
    # The secret never shows in the settings' representation.
    assert "demo-secret-not-real" not in repr(connector.settings)


def test_an_entry_point_declared_twice_is_refused():
    point = EntryPoint(
        name="x", value="connectors.france_travail:FranceTravailConnector", group=GROUP
    )
    with pytest.raises(ConnectorLoadError, match="deux fois"):
        Registry([point, point])


def test_an_entry_point_whose_slug_differs_is_refused():
    point = EntryPoint(
        name="autre", value="connectors.france_travail:FranceTravailConnector", group=GROUP
    )
    with pytest.raises(ConnectorLoadError, match="slug"):
        Registry([point]).load("autre")


def test_registering_an_installed_slug_again_is_refused():
    with pytest.raises(ConnectorLoadError, match="déjà"):
        Registry.discover().register(FranceTravailConnector)
