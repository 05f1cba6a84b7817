"""Twilio's webhooks: thin Flask handlers, each signature-checked, calling one domain function."""
