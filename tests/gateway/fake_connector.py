"""A connector for the gateway's tests: it answers what the test scripted, never over HTTP."""

from collections import deque

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from connectors import Connector, PullOutcome, PullRequest, PullResult


class FakeSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CARNET_FAUX_")

    jeton: SecretStr = SecretStr("jeton-de-test")


class FakeConnector(Connector):
    slug = "faux"
    version = "0.0.1"
    description = "Connecteur de test"
    settings_model = FakeSettings
    type_acteur = "france_travail"

    def __init__(self, settings):
        super().__init__(settings)
        self.script: deque[PullResult | Exception] = deque()
        self.requests: list[PullRequest] = []
        self.closed = False

    def answer(self, *results):
        self.script.extend(results)

    async def pull(self, request: PullRequest) -> PullResult:
        self.requests.append(request)
        if request.nir is None and not request.identifiants:
            return PullResult(PullOutcome.INCOMPLETE)
        if not self.script:
            return PullResult(PullOutcome.NOT_FOUND)
        result = self.script.popleft()
        if isinstance(result, Exception):
            raise result
        return result

    async def aclose(self):
        self.closed = True


def dossier(fingerprint, observe_le="2026-06-01T10:00:00Z", situations=(), axes=(), **extra):
    contribution = {"observe_le": observe_le}
    if situations:
        contribution["diagnostic"] = {"situations": list(situations)}
    if axes:
        contribution["axes"] = list(axes)
    return PullResult(
        PullOutcome.DOSSIER, contribution=contribution, fingerprint=fingerprint, **extra
    )
