"""Knowledge Management: articles (FAQs and process documents), their review and publishing,
the revisions every publish keeps, who may read what, and the ranked search.

Importing the package registers its guards and read rules.
"""

from domain.knowledge import articles, search  # noqa: F401 - registers guards and read rules
