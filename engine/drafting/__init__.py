"""Drafting: a 1:1 email from a customer's context, checked and put in front of a person.

Owns the drafter protocol (`base`), the offline templates (`templates`), Claude (`claude`), the
voice guide (`voice`), the grounding check (`grounding`), campaigns (`service`) and the review
queue (`review`). May import every room above it (`text` to `customers`) and the core."""
