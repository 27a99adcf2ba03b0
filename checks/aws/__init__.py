"""AWS provider (being written)."""
