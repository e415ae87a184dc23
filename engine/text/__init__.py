"""Text: a customer's message made safe to keep and cut into sentences.

Owns PII redaction (`redact`) and sentence splitting (`sentences`). The first room of the flow:
it imports nothing of the engine but the core modules."""
