"""Thin resolvers: turn GraphQL input into domain calls and domain results into GraphQL types."""
