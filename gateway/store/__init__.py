"""Persistence: the database (source of truth) and Redis (what may expire or be rebuilt)."""
