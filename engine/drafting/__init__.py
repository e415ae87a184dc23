"""Drafting: lifecycle emails from a customer's gated context, checked, then queued for review."""
