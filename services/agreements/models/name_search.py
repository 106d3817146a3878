"""Finding a person by name as counsellors type it: full name in either order, without
accents or case ("helene" finds "Hélène"), tolerant to a small typo ("Ahmed" finds "Ahmad").

Each client keeps ``search_name``: given and family name, lower-cased and without accents,
computed in Python on every ORM write (the same on PostgreSQL and SQLite). A query matches
when every word of it is in that key, as a substring or (three letters and more) as a word
similar enough by trigrams: PostgreSQL's pg_trgm ``<%`` (word similarity, answered by the
trigram index of migration 0008), and on the embedded SQLite default the same measure as a
Python function registered on each connection (:func:`register_sqlite_functions`).
"""

from __future__ import annotations

import unicodedata
from typing import Any

from sqlalchemy import ColumnElement, Engine, event, func, literal
from sqlalchemy.orm import InstrumentedAttribute

#: pg_trgm's ``word_similarity`` a query word must reach (its default, 0.6, misses one wrong
#: letter in a five-letter name: "ahmed" and "ahmad" share three of six trigrams).
WORD_SIMILARITY = 0.5
#: Words shorter than this match as substrings only (two letters have too few trigrams).
FUZZY_MIN_LENGTH = 3
SQLITE_FUNCTION = "integra_word_similarity"


def search_key(*parts: str | None) -> str:
    """Lower-cased, accents removed (NFKD without combining marks; ß → ss), one space."""
    text = " ".join(p for p in parts if p)
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(plain.split())


def query_words(query: str) -> list[str]:
    return search_key(query).split()[:6]


def _trigrams(word: str) -> set[str]:
    padded = f"  {word} "
    return {padded[i : i + 3] for i in range(len(padded) - 2)}


def _words(text: str) -> list[str]:
    """pg_trgm's words: runs of letters and digits."""
    return "".join(ch if ch.isalnum() else " " for ch in text).split()


def word_similarity(word: str, text: str) -> float:
    """Close to pg_trgm's ``word_similarity``: the share of the word's trigrams found in the
    best-matching run of consecutive words of ``text`` ("al-katib" in "al-khatib")."""
    query = _words(word)
    wanted = set().union(*(_trigrams(w) for w in query))
    if not wanted:
        return 0.0
    words = [_trigrams(w) for w in _words(text)]
    best = 0.0
    for start in range(len(words)):
        run: set[str] = set()
        for end in range(start, min(len(words), start + len(query) + 1)):
            run |= words[end]
            best = max(best, len(wanted & run) / len(wanted))
    return best


def word_similar(
    dialect: str, word: str, column: ColumnElement[str] | InstrumentedAttribute[str]
) -> ColumnElement[bool]:
    """``word`` is similar to a word of ``column`` (see the module docstring)."""
    if dialect == "postgresql":
        return literal(word).bool_op("<%")(column)
    return func.coalesce(getattr(func, SQLITE_FUNCTION)(word, column), 0) >= WORD_SIMILARITY


def similarity_rank(
    dialect: str, words: list[str], column: ColumnElement[str] | InstrumentedAttribute[str]
) -> ColumnElement[float]:
    """How well the words match a name (sum of word similarities): the closest first."""
    name = "word_similarity" if dialect == "postgresql" else SQLITE_FUNCTION
    total: ColumnElement[float] = literal(0.0)
    for word in words:
        total = total + func.coalesce(getattr(func, name)(word, column), 0.0)
    return total


def pg_threshold() -> Any:
    """Run once in the transaction before a search on PostgreSQL (``SET LOCAL``)."""
    return func.set_config("pg_trgm.word_similarity_threshold", str(WORD_SIMILARITY), True)


def _register(dbapi_connection: Any, _record: object) -> None:
    dbapi_connection.create_function(SQLITE_FUNCTION, 2, word_similarity, deterministic=True)


def register_sqlite_functions(engine: Engine) -> None:
    """The SQLite equivalent of pg_trgm's ``<%`` on every connection the engine opens."""
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _register)
