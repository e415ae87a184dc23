"""Search: "which customers are asking about X?", ranked, with their own words as evidence.

Owns the hybrid query over the vector store (`service`) and the evidence policy (`evidence`:
which sentences may be indexed and quoted, and which questions are refused). May import `text`,
`facts`, `intents` and the core."""
