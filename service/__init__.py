"""The front doors of casedigest: HTTP API, web page, CLI and their settings."""
