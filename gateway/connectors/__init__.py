"""The gateway's side of the connectors: loading the enabled ones, their health, pulls."""
