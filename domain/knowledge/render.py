"""An article's Markdown as HTML that is safe to put into a page.

markdown-it-py renders CommonMark with raw HTML turned off (it is shown as text) and refuses
`javascript:`-style links; nh3 (the Ammonia sanitiser) then keeps only an allow-list of tags,
attributes and URL schemes, so that nothing an author typed can run in a reader's browser.
"""

from __future__ import annotations

import nh3
from markdown_it import MarkdownIt

_MARKDOWN = MarkdownIt("commonmark", {"html": False}).enable("table").enable("strikethrough")
_SCHEMES = {"http", "https", "mailto"}


def body_html(markdown: str | None) -> str:
    return nh3.clean(
        _MARKDOWN.render(markdown or ""), url_schemes=_SCHEMES, link_rel="noopener noreferrer"
    )
