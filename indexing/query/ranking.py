"""Ranking weights shared by both engines, so they rank alike.

Word matches carry the score; character matches only rescue recall (a word segmented
differently in the document) at a weight low enough that they never outrank a word match.
"""

from __future__ import annotations

# Weight of a query word found as a word in each field.
# Title and charges are kept low together: both carry the charge names (a CAIL title is made
# of them), so a word that is only part of a charge's name (骗取, 猎捕, 窝藏) is counted twice
# and, at 1.5 + 1.0, outweighed what the facts say. A whole charge name is matched apart
# (`ChargeIs`, `CHARGE_WEIGHT`).
WORD_WEIGHTS: dict[str, float] = {
    "title": 1.0,
    "summary": 1.0,
    "full_text": 0.5,
    "charges": 0.5,
    "keywords": 1.5,
    "legal_basis": 1.0,
    "court": 0.5,
    "case_number": 1.0,
}

# Weight of a query word found only as consecutive characters (sub-word fallback).
CHAR_FALLBACK_WEIGHT = 0.2

# A word that is in more than this share of documents gains nothing from the fallback, and
# a phrase query over very common characters is the slowest thing an engine can be asked.
CHAR_FALLBACK_MAX_DF = 0.2

# A run of characters (a word's fallback, a phrase boost) is matched only when its rarest
# character is in at most this share of documents: over common characters every document
# is a candidate and its positions must be checked, which costs more than it finds.
CHAR_RUN_MAX_DF = 0.2

# Extra score when a run of words typed together also appears together.
PHRASE_BOOST = {"title": 2.0, "summary": 1.0}

# A synonym from the legal dictionary scores below the user's own word.
SYNONYM_WEIGHT = 0.6

# A record carrying the charge a query word names (or a synonym of it names).
CHARGE_WEIGHT = 2.0

# Graceful AND: when requiring every word finds fewer than this many results, the best
# partial matches are offered instead, requiring this share of the words (rounded up), and
# when that too finds fewer, any one of the words (`rewrite.relaxations`).
MIN_STRICT_RESULTS = 10
PARTIAL_MINIMUM_SHARE = 0.5

# Charge feedback (`core/feedback.py`): how much agreeing with the charges the first results
# vote for counts against the text score (scaled to 0..1), and how much a record loses for
# carrying a charge that got less than `FEEDBACK_UNVOTED` of the vote. These are the
# similar-case method's weights, chosen on its own tune split (`bench/similar.py --tune`).
FEEDBACK_CHARGE_WEIGHT = 1.5
FEEDBACK_EXTRA_CHARGE_PENALTY = 0.6
FEEDBACK_UNVOTED = 0.05

# How the head votes in a search's charge feedback (`feedback.head_vote`): every record of the
# head, weighted by (its score / the best score) to this power. Chosen on the tune split:
# 1 / 2 / 3 / 4 / 5 / 6 → nDCG@10 0.932 / 0.943 / 0.950 / 0.945 / 0.940 / 0.931 (the rank-fading
# vote of the similar-case method, which this replaced for searches, gave 0.936).
FEEDBACK_VOTE_SHARPNESS = 3
