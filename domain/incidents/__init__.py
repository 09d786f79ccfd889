"""Incident Management and the Service Desk: opening, prioritising, routing and working incidents,
their SLA clocks and escalations, interactions and requests."""
