"""The ITSM service: settings, the HTTP app, and the `itsm` command."""
