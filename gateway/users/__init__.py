"""The admin console's users: who may do what, sign-in with throttling. Free of Flask: the
console's views (`gateway.web.admin`) and the `deflect users` commands call the same `Users`."""
