"""Durable outbox, transport seam and the publisher that moves records to the collector."""
