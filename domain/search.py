"""Full-text search for any record type: what a user typed, bounded and made safe, and the
index's refusals as a typed error on the search field."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from neo4j import ManagedTransaction
from neo4j.exceptions import ClientError

from core.errors import ValidationFailed
from graphdb.records import fulltext_query, fulltext_words

# Lucene refuses a prefix term over 1,000 characters and a query over 1,024 clauses; these
# bounds keep well inside both and still fit any name or description a person would type.
MAX_SEARCH_CHARACTERS = 1000
MAX_SEARCH_WORD = 200
MAX_SEARCH_WORDS = 32


def full_text_search(text: str, *, field_name: str = "filter.search") -> str:
    """The full-text query for what a user typed, or a typed error saying which bound it broke."""
    if len(text) > MAX_SEARCH_CHARACTERS:
        raise ValidationFailed(
            field_name,
            "too_long",
            f"a search has at most {MAX_SEARCH_CHARACTERS} characters",
            limit=MAX_SEARCH_CHARACTERS,
        )
    words = fulltext_words(text)
    if not words:
        raise ValidationFailed(field_name, "empty", "search needs at least one word")
    if len(words) > MAX_SEARCH_WORDS:
        raise ValidationFailed(
            field_name,
            "too_many_words",
            f"a search has at most {MAX_SEARCH_WORDS} words; it has {len(words)}",
            limit=MAX_SEARCH_WORDS,
        )
    longest = max(words, key=len)
    if len(longest) > MAX_SEARCH_WORD:
        raise ValidationFailed(
            field_name,
            "word_too_long",
            f"a search word has at most {MAX_SEARCH_WORD} characters; "
            f"{longest[:20]}… has {len(longest)}",
            limit=MAX_SEARCH_WORD,
        )
    return fulltext_query(words)


T = TypeVar("T")


def full_text_errors(
    work: Callable[[ManagedTransaction], T], *, field_name: str = "filter.search"
) -> Callable[[ManagedTransaction], T]:
    """The same read, with a failure of the full-text index turned into a typed error on the
    search field: whatever Lucene refuses is the search's fault, not the server's."""

    def guarded(tx: ManagedTransaction) -> T:
        try:
            return work(tx)
        except ClientError as error:
            if error.code != _PROCEDURE_FAILED or "fulltext" not in (error.message or ""):
                raise
            raise ValidationFailed(
                field_name, "search_not_understood", "the full-text index refused this search"
            ) from error

    return guarded


_PROCEDURE_FAILED = "Neo.ClientError.Procedure.ProcedureCallFailed"
