"""Deflection: eligibility for an offer, the consent ledger, chats and their references, and the
send-once outbox. Domain code only: no Flask, and storage is passed in."""
