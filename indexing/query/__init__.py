"""The query language: the engine-neutral query tree, the parser, synonym rewriting, ranking weights."""
