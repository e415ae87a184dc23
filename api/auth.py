"""Bearer-key authentication with scopes, and a short-lived cache of verified keys."""

import hashlib
import threading
import time

from engine.apikeys import KeyIdentity, verify_key
from engine.db import Database

# A revoked key keeps working at most this long in a running server.
CACHE_SECONDS = 10.0


class KeyVerifier:
    """Verifies presented keys against the store, remembering answers for a few seconds."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._cache: dict[str, tuple[float, KeyIdentity | None]] = {}
        self._lock = threading.Lock()

    def verify(self, presented: str) -> KeyIdentity | None:
        """The key's identity, or None when the key is unknown, wrong or revoked."""
        digest = hashlib.sha256(presented.encode()).hexdigest()
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(digest)
        if hit is not None and now - hit[0] < CACHE_SECONDS:
            return hit[1]
        with self._db.read() as session:
            identity = verify_key(session, presented=presented)
        with self._lock:
            if len(self._cache) > 10_000:  # bound memory under a flood of random keys
                self._cache.clear()
            self._cache[digest] = (now, identity)
        return identity

    def forget(self) -> None:
        """Drop every cached answer (after a key is revoked)."""
        with self._lock:
            self._cache.clear()
