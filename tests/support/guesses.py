"""What a chat hijacker sends: random references, guesses at a live one, one a message or hundreds in one."""

from __future__ import annotations

import random

from gateway.deflection.reference import REFERENCE_ALPHABET, REFERENCE_LENGTH, is_reference


def guessed_references(count: int, seed: int, avoid: str) -> list[str]:
    """`count` well-formed references drawn at random, none of them `avoid` (the live one)."""
    rng = random.Random(seed)
    drawn: list[str] = []
    while len(drawn) < count:
        candidate = "".join(rng.choice(REFERENCE_ALPHABET) for _ in range(REFERENCE_LENGTH))
        if is_reference(candidate) and candidate != avoid:
            drawn.append(candidate)
    return drawn


def many_references(references: list[str]) -> str:
    """One message carrying every reference where the pre-filled text puts one (after its label), and
    then all of them bare."""
    return " ".join(f"номер {r}" for r in references) + "\n" + " ".join(references)
