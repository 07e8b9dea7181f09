"""Typed errors that say what to do next; every layer raises these, so they live outside all of them."""


class NewsRagError(Exception):
    """Base of the errors a user can act on; the CLI prints them as one line."""


class IndexMismatchError(NewsRagError):
    """The index on disk was built with other settings than the ones asked for."""


class IndexNotFoundError(NewsRagError):
    """No index where one was expected."""


class IndexLockedError(NewsRagError):
    """Another writer holds the index."""


class ArticleNotFoundError(NewsRagError):
    """An article id that the index does not hold."""


class UnknownAnswererError(NewsRagError):
    """An answerer name that no installed answerer registered."""


class IndexDamagedError(NewsRagError):
    """No snapshot of the index can be read: a file is missing, cut short or inconsistent with the others."""


class VectorStoreUnavailableError(NewsRagError):
    """The vector store cannot be reached: a server that is down, refuses the token, or a file another process holds."""
