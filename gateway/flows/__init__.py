"""IVR flows: the model of a flow file, its loader and validator, and the engine that turns
(flow, step, call state) into TwiML. Pure Python: no Flask, no Redis, no database."""

from gateway.events import Event
from gateway.flows.engine import (
    QUEUE_RESULTS,
    EngineError,
    enqueue_result,
    handle_menu_input,
    rule_matches,
    run_step,
    transfer_result,
)
from gateway.flows.loader import (
    CheckedFlow,
    FlowError,
    FlowSet,
    Problem,
    check_flow_text,
    check_path,
    format_problem,
    load_flow,
    load_flows,
    parse_flow,
    validate_path,
)
from gateway.flows.model import Flow, json_schema
from gateway.flows.schedule import is_open
from gateway.flows.state import CallState, Context, Outcome, QueueStats, Urls
from gateway.flows.twiml import fallback_enqueue, hold_in_queue
from gateway.flows.wait import handle_offer_input, offer_due, wait_loop

__all__ = [
    "QUEUE_RESULTS",
    "CallState",
    "CheckedFlow",
    "Context",
    "EngineError",
    "Event",
    "Flow",
    "FlowError",
    "FlowSet",
    "Outcome",
    "Problem",
    "QueueStats",
    "Urls",
    "check_flow_text",
    "check_path",
    "enqueue_result",
    "fallback_enqueue",
    "format_problem",
    "handle_menu_input",
    "handle_offer_input",
    "hold_in_queue",
    "is_open",
    "json_schema",
    "load_flow",
    "load_flows",
    "offer_due",
    "parse_flow",
    "rule_matches",
    "run_step",
    "transfer_result",
    "validate_path",
    "wait_loop",
]
