"""Composing and sending messages: templates with their segment cost, deep links, providers.

The composition pieces (`templates`, `segments`, `deeplinks`) are pure: no Flask, database or Redis.
"""

from gateway.messaging.deeplinks import (
    DeepLinkError,
    prefilled_text,
    telegram_link,
    viber_link,
    whatsapp_link,
)
from gateway.messaging.segments import SegmentInfo, count_segments
from gateway.messaging.templates import (
    RenderedMessage,
    TemplateError,
    TemplateReport,
    TemplateSet,
    check_templates,
)

__all__ = [
    "DeepLinkError",
    "RenderedMessage",
    "SegmentInfo",
    "TemplateError",
    "TemplateReport",
    "TemplateSet",
    "check_templates",
    "count_segments",
    "prefilled_text",
    "telegram_link",
    "viber_link",
    "whatsapp_link",
]
