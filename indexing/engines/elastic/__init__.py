"""The Elasticsearch engine: `engine.py` (the protocol's implementation, bulk writes, searches), `index.py`
(mappings, documents), `query.py` (query translation), `facets.py`, `errors.py`."""
