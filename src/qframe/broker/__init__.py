"""What the nats handler (agent side) and the nats collector (aggregator side) share."""
