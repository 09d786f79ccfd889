"""Service Level Management: parties, the catalogue, agreements, their terms and calendars."""
