"""Measure: whether the customer's own words earn more than a generic email or none.

Owns attribution of orders to emails (`attribution`), holdouts and A/B arms (`experiments`),
the statistics (`stats`) and the flow report (`report`). May import every room above it (`text`
to `email`) and the core."""
