"""Similar-case search (类案检索): pasted facts in, ranked similar cases and the reasons out.

`keyterms` picks the weighted words of the facts, `charge_vote` predicts their charges from
the nearest cases, `method` builds the engine query and ranks; the search core
(`indexing.core.search.SearchService.similar`) is the one front door to it.
"""
