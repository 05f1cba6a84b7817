"""Who made a change: the audit log names an actor as its entry point writes it; four eyes needs the
person behind it."""

from __future__ import annotations

CONSOLE_SUFFIX = " (console)"  # the admin console's actor: "<email> (console)"
CLI_PREFIX = "cli:"  # the CLI's default actor: "cli:<login>"


def identity(actor: str) -> str:
    """The person an audit log actor names, whichever way they came in: the console's
    "anna@example.com (console)" and the CLI's "cli:anna@example.com" (or `--by anna@example.com`)
    are the same person, "anna@example.com". Case does not matter (e-mail addresses).

    The CLI names its user by their login unless `--by` says otherwise, so to be recognised as the
    console user with four eyes on, one gives `--by <console e-mail>`; whoever can run the CLI holds
    the database anyway, four eyes is a rule for the people publishing, not a lock."""
    return actor.strip().removesuffix(CONSOLE_SUFFIX).removeprefix(CLI_PREFIX).strip().casefold()
