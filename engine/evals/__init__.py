"""Evals: the engine measured against labelled sets.

Owns the fact leak-and-recall check (`facts`), intent accuracy (`intents`) and search quality
(`search`). The last room: it may import every other room and the core, and none imports it."""
