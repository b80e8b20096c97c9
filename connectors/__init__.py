"""Connectors: one package per partner system, registered by the entry point group
``carnet.connectors``, and the small interface they implement.

Import from here: the rest of the package is private.
"""

from connectors._interface import (
    BATCH,
    Agent,
    Capability,
    ChangeEvent,
    CircuitOpen,
    CircuitState,
    Connector,
    ConnectorError,
    Deliver,
    Ingest,
    IngestRecord,
    NonConformingBody,
    Notice,
    Pull,
    PullOutcome,
    PullRequest,
    PullResult,
    UpstreamConfiguration,
    UpstreamMalformed,
    UpstreamRefused,
    UpstreamRejected,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from connectors._registry import GROUP, ConnectorLoadError, Registry
from connectors._resilience import CircuitBreaker, RetryPolicy, Throttle, retry_after_seconds

__all__ = [
    "BATCH",
    "GROUP",
    "Agent",
    "Capability",
    "ChangeEvent",
    "CircuitBreaker",
    "CircuitOpen",
    "CircuitState",
    "Connector",
    "ConnectorError",
    "ConnectorLoadError",
    "Deliver",
    "Ingest",
    "IngestRecord",
    "NonConformingBody",
    "Notice",
    "Pull",
    "PullOutcome",
    "PullRequest",
    "PullResult",
    "Registry",
    "RetryPolicy",
    "Throttle",
    "UpstreamConfiguration",
    "UpstreamMalformed",
    "UpstreamRefused",
    "UpstreamRejected",
    "UpstreamTimeout",
    "UpstreamUnavailable",
    "retry_after_seconds",
]
