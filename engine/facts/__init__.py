"""Facts: what a customer states about themselves, through the surveillance gate.

Owns the spaCy pipeline (`nlp`), clause reading (`clauses`), the fact rules (`rules`), the word
lists (`lexicon`), marketing opt-outs (`optouts`), fact spelling (`spelling`), extraction from a
message (`extract`) and `gate`: the whole policy of what may never be kept (not the customer,
negated, hypothetical, sensitive), its reasons and its words. May import `text` and the core."""
