"""The voice-to-message deflection gateway.

A call enters in `web/voice.py` and runs in `calls/service.py` on the flow engine (`flows/`); the offer
is decided in `deflection/offer.py`; the SMS leaves from `deflection/outbox.py`; the chat is matched in
`handoff/matching.py`. `app.py` wires them together; `README.md` ("Architecture") draws the layers.
"""
