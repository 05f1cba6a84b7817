"""Fixtures for the hand-off tests: Prism serving Twilio's Conversations API description."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support import prism
from tests.support.fake_receive import receive  # noqa: F401  (a fixture for the chat webhooks' tests)
from tests.support.receiver import Receiver


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A desk that takes signed hand-off webhooks (tests/support/receiver.py)."""
    running = Receiver()
    yield running
    running.stop()


@pytest.fixture(scope="session")
def conversations_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[prism.PrismServer]:
    """Prism on Twilio's Conversations v1 API (Conversations, Participants, Messages)."""
    server = prism.start(
        "twilio_conversations_v1.json", tmp_path_factory.mktemp("prism"), "/v1/Conversations"
    )
    yield server
    server.stop()
