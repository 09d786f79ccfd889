"""Strawberry types, one module per process; `schema.root` composes them."""
