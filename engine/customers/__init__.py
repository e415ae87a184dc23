"""Customers: one person's gated context and their rights.

Owns the context a drafter may see (`context`), lifecycle sequences and who is due
(`lifecycle`), consent and unsubscribes (`consent`), merging two profiles of one person
(`merge`) and erasure (`erasure`). May import `text`, `facts`, `intents`, `search` and the
core."""
