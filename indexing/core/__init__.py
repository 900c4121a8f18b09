"""The search core: one SearchService for the API, the page, the CLI and export."""
