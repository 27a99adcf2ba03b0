"""PostgreSQL provider: collectors and checks (being written)."""
