"""Calls played without a phone: the player that drives the real, signed voice webhooks as Twilio would
(`deflect simulate` and the console's test-call panel), and the sandbox the panel plays them in, so a
test call reaches no real number, ledger, outbox, rate limit or call state.

Its layer sits between the web edge and the services: it drives a built app and runs that app's jobs.
"""
