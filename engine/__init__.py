"""The domain, one subpackage per room of the flow, over a few core modules.

Core (imported by every room): `settings`, `errors`, `db`, `models`, `background`, `outbox`
(signed webhook events, emitted by customers and drafting alike), `apikeys`, `status`.
Rooms, in flow order, each importing only rooms before it: `text` → `facts` → `intents` →
`search` → `customers` → `drafting` → `evals`. `pipeline` (processing messages through text,
facts and intents) and `runtime` (building the heavy parts once) compose the rooms; `evals`
may use them."""
