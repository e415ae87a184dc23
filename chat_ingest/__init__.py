"""Getting conversations and orders in: schemas, adapters, idempotent writes."""
