"""The domain: SQL models and session, processing, facts, context, drafting, search."""
