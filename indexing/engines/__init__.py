"""Search engines behind one protocol (`base.Engine`): embedded (default) and Elasticsearch."""
