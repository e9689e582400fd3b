"""The durable delivery queue: states, retry policy, dispositions, breaker, workers."""
