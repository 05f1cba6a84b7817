"""Where the offer is decided: may this caller be offered an SMS link, and may this number be texted?

Pure rules over facts the caller of these functions gathers (`Guards` does it against the database and
Redis). Every refusal has a short reason that is recorded as an event, so reports can say why.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, replace

from gateway.deflection.line_types import FAILED, PENDING
from gateway.phone import PhoneNumber

# Types a text must never go to, whatever the configuration says: the classic SMS pumping targets.
NEVER_TEXTED = frozenset({"premium_rate", "shared_cost", "toll_free", "uan", "voicemail", "pager"})


@dataclass(frozen=True)
class Policy:
    """The rules in force for one flow (from settings and the flow's home regions)."""

    allowed_regions: frozenset[str]
    number_types: frozenset[str]
    require_attestation: str  # off | a | ab
    max_chat_backlog: int  # 0: no limit

    @classmethod
    def build(
        cls,
        home_regions: Collection[str],
        cap: Collection[str],
        number_types: Collection[str],
        require_attestation: str,
        max_chat_backlog: int,
    ) -> Policy:
        regions = set(home_regions) or set(cap)
        if cap:
            regions &= set(cap)
        return cls(
            frozenset(regions), frozenset(number_types) - NEVER_TEXTED, require_attestation, max_chat_backlog
        )


@dataclass(frozen=True)
class MessagingFacts:
    """Whether anyone can be texted right now."""

    paused: bool  # the manual switch
    chat_open: bool  # business hours of the chat team
    chat_backlog: int
    budget_left: int


def number_refusal(number: PhoneNumber | None, policy: Policy) -> str | None:
    """Why this number may not be texted (None: it may)."""
    if number is None:
        return "no_number"
    if number.number_type in NEVER_TEXTED:
        return f"number_type_{number.number_type}"
    if number.number_type not in policy.number_types:
        return "not_mobile"
    if number.region not in policy.allowed_regions:
        return "region_not_allowed"
    return None


def line_type_refusal(number: PhoneNumber, line_type: str, policy: Policy) -> str | None:
    """Why this number may not be texted, given its looked-up line type (or that there is none yet:
    the offer waits for it; a failed lookup means no offer)."""
    if line_type == PENDING:
        return "line_type_pending"
    if line_type == FAILED:
        return "line_type_unknown"
    return number_refusal(replace(number, number_type=line_type), policy)


def messaging_refusal(facts: MessagingFacts, policy: Policy) -> str | None:
    """Why nobody may be offered a text now (None: offers may be made)."""
    if facts.paused:
        return "messaging_paused"
    if not facts.chat_open:
        return "chat_closed"
    if policy.max_chat_backlog and facts.chat_backlog >= policy.max_chat_backlog:
        return "chat_backlog"
    if facts.budget_left <= 0:
        return "daily_budget_spent"
    return None


def attestation_refusal(stir_verstat: str | None, policy: Policy) -> str | None:
    """A spoofed caller ID would make us text a stranger: with attestation required, only A (or A/B)."""
    if policy.require_attestation == "off" or not stir_verstat:
        return None
    return None if _attested(stir_verstat, policy) else "caller_id_not_attested"


def keyed_number_attestation_refusal(stir_verstat: str | None, policy: Policy) -> str | None:
    """Keying in another number is the SMS pumping path (any number, from any phone): with attestation
    required, it is open only to a call whose StirVerstat is present and passes; none proves nothing."""
    if policy.require_attestation == "off":
        return None
    return None if stir_verstat and _attested(stir_verstat, policy) else "keyed_number_not_attested"


def _attested(stir_verstat: str, policy: Policy) -> bool:
    accepted = {"A"} if policy.require_attestation == "a" else {"A", "B"}
    return _attestation_level(stir_verstat) in accepted


def _attestation_level(stir_verstat: str) -> str | None:
    # e.g. TN-Validation-Passed-A, TN-Validation-Failed-B, No-TN-Validation
    if "Passed" not in stir_verstat:
        return None
    return stir_verstat.rsplit("-", 1)[-1]


def caller_refusal(
    number: PhoneNumber | None, policy: Policy, *, opted_out: bool, texted_recently: bool
) -> str | None:
    """Why the caller's own number may not be texted. A caller who opted out or was texted recently
    is not offered a keyed-in number instead: they said no, or already have a link."""
    if opted_out:
        return "opted_out"
    if texted_recently:
        return "texted_recently"
    return number_refusal(number, policy)


KEYED_NUMBER_REASONS = frozenset({"no_number", "not_mobile", "region_not_allowed", "number_type_toll_free"})
"""Refusals of the caller ID after which the caller may key in a mobile number instead."""
