"""The deflection tests' fixtures (a Twilio-backed app, a caller), for the reports' tests."""

from tests.deflection.conftest import caller, proxy, twilio_app, twilio_config

__all__ = ["caller", "proxy", "twilio_app", "twilio_config"]
