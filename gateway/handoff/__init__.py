"""Where the chat is matched and handed off: inbound messages find their call (matching), and the chat
with the call's story goes to the agents' platform (adapters: Conversations, webhook, context card)."""
