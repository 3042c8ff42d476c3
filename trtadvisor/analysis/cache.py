"""Results of the pure graph analyses, computed once per audit and read by both the plan and the advice.

The cache belongs to the analysis stage, not to the IR, and lives exactly as long as the audit that opens it
(``with analysis_scope(): ...`` in ``api.audit``). Outside a scope every call computes afresh, so a caller
that runs one analysis on its own holds nothing afterwards.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, TypeVar

from trtadvisor.ir.graph import Graph
from trtadvisor.knowledge.rulebook import RuleBook, default_rulebook

T = TypeVar("T")

# (id(graph), key) -> (graph, result); the graph is kept so a reused id is never mistaken for it.
_SCOPE: ContextVar[dict[tuple[int, str], tuple[Graph, Any]] | None] = ContextVar("analysis_scope", default=None)
# The rule book of the audit that opened the scope: analyses shared by plan and advice read their rule data
# from it, so a book passed to api.audit reaches them as it reaches the passes.
_BOOK: ContextVar[RuleBook | None] = ContextVar("analysis_book", default=None)


@contextmanager
def analysis_scope(book: RuleBook | None = None) -> Iterator[None]:
    """Share analysis results between the stages run inside, computed with ``book`` (the default rule book
    when None); dropped when the scope ends."""
    token, book_token = _SCOPE.set({}), _BOOK.set(book)
    try:
        yield
    finally:
        _BOOK.reset(book_token)
        _SCOPE.reset(token)


def scope_rulebook() -> RuleBook:
    """The rule book of the current analysis scope, or the default one outside a scope."""
    return _BOOK.get() or default_rulebook()


def memoized(graph: Graph, key: str, compute: Callable[[], T]) -> T:
    """``compute()``, the analysis ``key`` of ``graph``: once per scope."""
    results = _SCOPE.get()
    if results is None:
        return compute()
    entry = results.get((id(graph), key))
    if entry is None or entry[0] is not graph:
        entry = results[(id(graph), key)] = (graph, compute())
    return entry[1]  # type: ignore[no-any-return]


def forget(graph: Graph) -> None:
    """Drop every analysis of ``graph`` from the current scope: its shapes changed (static-shape completion),
    so what was derived from the old ones is computed again when next asked for."""
    results = _SCOPE.get()
    if results:
        for key in [key for key, (owner, _) in results.items() if owner is graph]:
            del results[key]
