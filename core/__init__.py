"""Below every other package: errors, the acting identity and roles, record declarations and the
one registry of relationship types. Imports nothing of this project."""
