"""Service level management: business calendars, agreements and the service catalogue."""
