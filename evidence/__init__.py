"""Evidence ledger (being written)."""
