"""Dramatiq actors: thresholds, SLA clocks, escalations, notifications, derived figures.

Actors take ids, never objects, and are idempotent: delivery is at least once.
"""
