"""The ITSM processes as rules: what a record may be, who may touch it, what follows from a change.

Nothing here knows about GraphQL; storage is reached through `graphdb`.
"""
