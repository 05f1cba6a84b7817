"""What contact-centre admins change without a developer: flow versions (and, later, texts), published
and rolled back through one service API that the CLI (and the admin console) call."""
