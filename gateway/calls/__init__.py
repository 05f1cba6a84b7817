"""Running calls: the voice service behind the webhooks, and the queue figures Twilio reports."""
