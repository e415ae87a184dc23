"""Adapters from chat and commerce platforms' payloads to our schemas."""
