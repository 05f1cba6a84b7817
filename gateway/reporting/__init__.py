"""Reports on deflected calls: call events folded into one fact row per call that reached a queue, the
funnel, gross and net deflection, refusal reasons, timings, savings and offer experiments, sliced by
queue, flow version, channel, locale, day and hour. The console, the CLI, the API and the exports all
read the same queries."""
