"""Database search: SQLite FTS5 (trigram) or PostgreSQL pg_trgm, typo tolerant, RU/UZ aware.

Both index the normalized Latin text of :mod:`.text`, so Cyrillic and Latin spellings meet.
Candidates come from the trigram index; SQLite re-scores them with the same trigram
similarity PostgreSQL uses, so both backends agree on what a typo is.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection

from toolbox_core.catalog.search import exact_code, exact_matches
from toolbox_core.catalog.search.ddl import FTS_TABLE
from toolbox_core.catalog.search.text import match_score, normalize

MIN_SCORE = 0.5
CANDIDATES = 100
#: pg_trgm word similarity for candidates (looser than MIN_SCORE; re-scored after).
CANDIDATE_SIMILARITY = 0.4
PG_CANDIDATES = 100


class DatabaseSearch:
    """Ranked product ids for a query, from the search entries of published products."""

    name = "database"

    def search(self, session: Connection, query: str, limit: int = 200) -> list[str]:
        q = normalize(query)
        if not q:
            return []
        if session.dialect.name == "sqlite":
            return self._sqlite(session, q, limit)
        return self._postgres(session, q, limit)[1]

    def search_with_codes(self, session: Connection, query: str, limit: int = 200) -> list[str]:
        """PostgreSQL: exact SKU / barcode matches first, then :meth:`search`'s ranking; the
        code lookup rides in the word-expansion statement (one round trip fewer)."""
        q = normalize(query)
        if not q:
            return exact_matches(session, query)
        code = exact_code(query)
        exact, ranked = self._postgres(session, q, limit, code)
        return list(dict.fromkeys([*exact, *ranked]))

    def _sqlite(self, session: Connection, q: str, limit: int) -> list[str]:
        grams = sorted({w[i : i + 3] for w in q.split() for i in range(len(w) - 2)})
        if not grams:
            return []
        match = " OR ".join(f'"{g}"' for g in grams)
        rows = session.execute(
            text(
                f"SELECT e.product_id, e.text FROM {FTS_TABLE} f "
                "JOIN catalog_search_entries e ON e.rowid = f.rowid "
                f"WHERE {FTS_TABLE} MATCH :match AND e.published ORDER BY f.rank LIMIT :n"
            ),
            {"match": match, "n": CANDIDATES},
        ).all()
        return _rescore(q, rows, limit)

    def _postgres(self, session: Connection, q: str, limit: int, code: str | None = None) -> tuple[list[str], list[str]]:
        """Expand each query word to known words (trigram similarity or prefix), then full text;
        returns the exact matches of ``code`` (see :func:`.exact_matches`) and the ranking.

        Two statements, no transaction-local settings (so the read can run in autocommit):
        the expansion of every word at once (with the code lookup), then the candidates. ``%``
        (default threshold 0.3) lets the GIN trigram index find words; the explicit similarity
        keeps the stricter candidate threshold.
        """
        words = list(dict.fromkeys(q.split()))
        known: dict[int, list[str]] = {}
        params = {"words": words, "t": CANDIDATE_SIMILARITY, "code": code, "upper": code and code.upper()}
        for position, word in session.execute(_EXPAND, params).all():
            known.setdefault(position, []).append(word)
        exact = list(dict.fromkeys(known.pop(0, [])))  # position 0: the code's products
        if len(known) < len(words):
            return exact, []
        # Normalized words are [0-9a-z]+: safe to join into a tsquery.
        tsq = " & ".join("(" + " | ".join(known[i]) + ")" for i in sorted(known))
        typed = " & ".join(f"{w}:*" for w in words)
        params = {"tsq": tsq, "typed": typed, "n": PG_CANDIDATES, "window": CANDIDATE_WINDOW}
        rows = _candidates(session.execute(_FAST_CANDIDATES, params).all(), PG_CANDIDATES)
        return exact, _rescore(q, rows, limit)


#: Up to 12 known words per query word (by similarity), with the word's 1-based position;
#: at position 0, the products whose variant SKU (as typed or upper-cased) or barcode is
#: exactly ``:code`` (unique / indexed lookups; none when ``:code`` is NULL).
_EXPAND = text(
    "SELECT 0 AS i, product_id AS word FROM product_variants WHERE sku IN (:code, :upper) "
    "UNION SELECT 0, product_id FROM product_variants WHERE barcode = :code UNION ALL "
    "SELECT w.i, k.word FROM unnest(CAST(:words AS text[])) WITH ORDINALITY AS w(q, i) "
    "CROSS JOIN LATERAL (SELECT word FROM ("
    "SELECT word FROM catalog_search_words WHERE word % w.q AND similarity(word, w.q) >= :t "
    "UNION SELECT word FROM catalog_search_words "
    "WHERE word LIKE replace(replace(w.q, '%', ''), '_', '') || '%') AS known "
    "ORDER BY similarity(word, w.q) DESC, word LIMIT 12) AS k"
)
#: Bounded and ordered candidates: products holding every word as typed (or as a prefix)
#: first, then those found only through typo expansions, newest first within each (ids sort
#: by creation time, so the same query gives the same page). Each branch is one GIN index
#: lookup with a top-N sort of its matches; the second runs only when the first has fewer
#: than ``n`` (the Append stops at the outer LIMIT), so a correctly spelled query costs one.
#: ``ORDER BY (product_id || '')``: ordering by the bare key lets the planner walk the primary
#: key backwards and filter every row (15 ms over 10,000 products when a branch matches few
#: rows, its estimate for prefix queries being far off); the expression keeps the GIN path.
_CANDIDATES = text(
    "(SELECT product_id, text FROM catalog_search_entries "
    "WHERE published AND search_tsv @@ to_tsquery('simple', :typed) ORDER BY (product_id || '') DESC LIMIT :n) "
    "UNION ALL (SELECT product_id, text FROM catalog_search_entries "
    "WHERE published AND search_tsv @@ to_tsquery('simple', :tsq) "
    "AND NOT search_tsv @@ to_tsquery('simple', :typed) ORDER BY (product_id || '') DESC LIMIT :n) LIMIT :n"
)


#: The queries parsed once (InitPlans): ``to_tsquery`` in a filter runs again for every row.
_TYPED = "search_tsv @@ (SELECT typed FROM q)"
_TYPO = "search_tsv @@ (SELECT tsq FROM q) AND NOT search_tsv @@ (SELECT typed FROM q)"
#: The ``:window`` newest published entries, walking the primary key backwards: a word most
#: products hold (one in ten) finds its ``n`` newest matches within a few hundred rows, where
#: the GIN path fetches and sorts every match (0.5 ms of PostgreSQL CPU for 800 of 10,000).
_RECENT = ("(SELECT product_id, text, search_tsv FROM catalog_search_entries WHERE published "
           "ORDER BY product_id DESC LIMIT :window) AS recent")


def _gin_branch(condition: str, gate: str) -> str:
    return (f"SELECT product_id, text FROM catalog_search_entries WHERE published AND {condition} "
            f"AND {gate} ORDER BY (product_id || '') DESC LIMIT :n")


#: The same candidates, each branch first looked for among the newest ``:window`` entries
#: (``tw``, ``yw``) and through the GIN index (``tb``, ``yb``) only when the window holds too
#: few; the gates are one-time filters, so a skipped part costs nothing. Parts: 1 typed in
#: the window (enough: the whole answer), else 2 every typed match (≤ n), then the typo-only
#: matches still needed, from 3 the window (when it holds enough) or 4 the index.
_FAST_CANDIDATES = text(
    "WITH q AS (SELECT to_tsquery('simple', :typed) AS typed, to_tsquery('simple', :tsq) AS tsq), "
    f"tw AS MATERIALIZED (SELECT product_id, text FROM {_RECENT} WHERE {_TYPED} ORDER BY product_id DESC LIMIT :n), "
    "short AS (SELECT count(*) < :n AS yes FROM tw), "
    f"tb AS MATERIALIZED ({_gin_branch(_TYPED, '(SELECT yes FROM short)')}), "
    "need AS (SELECT CASE WHEN (SELECT yes FROM short) THEN :n - count(*) ELSE 0 END AS k FROM tb), "
    f"yw AS MATERIALIZED (SELECT product_id, text FROM {_RECENT} WHERE (SELECT k FROM need) > 0 AND {_TYPO} "
    "ORDER BY product_id DESC LIMIT :n), "
    f"yb AS MATERIALIZED ({_gin_branch(_TYPO, '(SELECT count(*) FROM yw) < (SELECT k FROM need)')}) "
    "SELECT 1 AS part, product_id, text FROM tw UNION ALL SELECT 2, product_id, text FROM tb "
    "UNION ALL SELECT 3, product_id, text FROM yw UNION ALL SELECT 4, product_id, text FROM yb"
)
#: How many of the newest entries :data:`_FAST_CANDIDATES` looks through before the index.
CANDIDATE_WINDOW = 2000


def _candidates(rows: list[Any], n: int) -> list[tuple[str, str]]:
    """The rows :data:`_CANDIDATES` would return, from the parts of :data:`_FAST_CANDIDATES`."""
    parts: dict[int, list[tuple[str, str]]] = {1: [], 2: [], 3: [], 4: []}
    for part, pid, text_ in rows:
        parts[part].append((pid, text_))
    if len(parts[1]) >= n:
        return parts[1][:n]
    need = n - len(parts[2])
    typo = parts[3] if len(parts[3]) >= need else parts[4]
    return parts[2] + typo[:max(need, 0)]


def _rescore(q: str, rows: list[tuple[str, str]] | list, limit: int) -> list[str]:
    """Keep candidates where every query word finds a close word; best first."""
    words = q.split()
    scored = [(match_score(words, t.split()), pid) for pid, t in rows]
    scored = [(score, pid) for score, pid in scored if score >= MIN_SCORE]
    scored.sort(key=lambda item: -item[0])
    return [pid for _, pid in scored[:limit]]
