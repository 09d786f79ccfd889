"""The API's schema as SDL: `python -m schema.sdl > schema.graphql` after changing the API.

The printed schema is kept in the repository, so that a change to the API shows in the diff of
the commit that makes it.
"""

from __future__ import annotations

from schema.root import build_schema


def printed_schema() -> str:
    # The limits do not show in the SDL; any values will do.
    return build_schema(max_depth=12, max_aliases=30, max_tokens=20000).as_str() + "\n"


if __name__ == "__main__":
    print(printed_schema(), end="")
