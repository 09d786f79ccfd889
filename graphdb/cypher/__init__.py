"""Cypher, one module per record type. Parameters only; labels and types come from registries."""
