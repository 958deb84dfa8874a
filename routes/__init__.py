"""Routing: rules that pick sinks for each event, the sinks, and the worker that delivers."""
