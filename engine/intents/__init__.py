"""Intents: what a customer asks about or wants, by sentence.

Owns the built-in taxonomy (`taxonomy`), its classifier (`classifier`), the model the pipeline
scores with (`model`: classifier plus custom trackers) and the queries and tracker definitions
(`service`). May import `text`, `facts` and the core."""
