"""Search text normalization: one Latin form for Russian, Cyrillic Uzbek and Latin Uzbek.

Uzbek is written in both Cyrillic (``Дрель-шуруповёрт``, ``ўлчов``) and Latin (``o‘lchov``);
Russian is Cyrillic. Indexing and querying both go through :func:`normalize`, which
transliterates Cyrillic to Latin and folds the Latin spellings (``o'``/``o‘``/``oʻ`` → ``o``,
``sh``/``ch`` kept; ``ё`` and its Latin ``yo`` → ``e``), so ``дрель``, ``drel`` and ``ДРЕЛЬ``
meet, and ``шуруповёрт``, ``шуруповерт`` and ``shurupovyort`` all become ``shurupovert``.
:func:`to_cyrillic` goes the other way, for engines that want both forms.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from functools import lru_cache

_CYR_TO_LAT = {
    "а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "е": "e", "ё": "e", "ж": "j", "з": "z",
    "и": "i", "й": "y", "к": "k", "л": "l", "м": "m", "н": "n", "о": "o", "п": "p", "р": "r",
    "с": "s", "т": "t", "у": "u", "ф": "f", "х": "x", "ц": "ts", "ч": "ch", "ш": "sh",
    "щ": "sh", "ъ": "", "ы": "i", "ь": "", "э": "e", "ю": "yu", "я": "ya",
    # Uzbek Cyrillic letters
    "ў": "o", "қ": "q", "ғ": "g", "ҳ": "h",
}  # fmt: skip

_LAT_TO_CYR = [
    ("sh", "ш"), ("ch", "ч"), ("yo", "ё"), ("yu", "ю"), ("ya", "я"), ("ts", "ц"),
    ("a", "а"), ("b", "б"), ("d", "д"), ("e", "е"), ("f", "ф"), ("g", "г"), ("h", "ҳ"),
    ("i", "и"), ("j", "ж"), ("k", "к"), ("l", "л"), ("m", "м"), ("n", "н"), ("o", "о"),
    ("p", "п"), ("q", "қ"), ("r", "р"), ("s", "с"), ("t", "т"), ("u", "у"), ("v", "в"),
    ("x", "х"), ("y", "й"), ("z", "з"),
]  # fmt: skip

#: Apostrophe-like marks used in Latin Uzbek (o‘, g‘, tutuq belgisi ʼ).
_APOSTROPHES = "'‘’ʻʼ`´"
_WORD = re.compile(r"[0-9a-z]+")
#: The Latin spelling of ``ё`` after a consonant (``ë`` folds to ``e`` with the accents): people
#: write "отвертка" for "отвёртка" and "otvertka" for "otvyortka", so index and query fold it to
#: ``e`` like ``ё`` itself. Word-initial ``yo`` stays (Uzbek "yo‘l", "yoz"); the fold is the same
#: on both sides, so a rare Uzbek "dunyo" → "dune" still meets itself.
_YO = re.compile(r"(?<=[bcdfghjklmnpqrstvwxz])yo")


def normalize(text: str) -> str:
    """Lower-case Latin form of ``text``: Cyrillic transliterated, Uzbek marks dropped."""
    text = unicodedata.normalize("NFC", text.lower())
    for mark in _APOSTROPHES:
        text = text.replace(mark, "")
    out = "".join(_CYR_TO_LAT.get(ch, ch) for ch in text)
    # Remaining accents (é, ö) fold to their base letters.
    out = unicodedata.normalize("NFKD", out).encode("ascii", "ignore").decode()
    return " ".join(_YO.sub("e", word) for word in _WORD.findall(out))


def words(text: str) -> list[str]:
    """Normalized words of ``text``."""
    return normalize(text).split()


def to_cyrillic(latin: str) -> str:
    """Approximate Cyrillic spelling of a normalized Latin text (for display-side engines)."""
    out, i = [], 0
    while i < len(latin):
        for lat, cyr in _LAT_TO_CYR:
            if latin.startswith(lat, i):
                out.append(cyr)
                i += len(lat)
                break
        else:
            out.append(latin[i])
            i += 1
    return "".join(out)


@lru_cache(maxsize=65536)
def trigrams(word: str) -> frozenset[str]:
    """Trigrams of one word padded like pg_trgm (``"  w"``, ``"wo"``...)."""
    padded = f"  {word} "
    return frozenset(padded[i : i + 3] for i in range(len(padded) - 2))


def similarity(a: str, b: str) -> float:
    """Trigram similarity of two words (0..1), as pg_trgm computes it."""
    ta, tb = trigrams(a), trigrams(b)
    if not ta or not tb:
        return 0.0
    return len(ta & tb) / len(ta | tb)


@lru_cache(maxsize=1 << 16)
def word_score(q: str, w: str) -> float:
    """How close document word ``w`` is to query word ``q``: 1 for the word or a prefix of
    it (3+ letters), else their trigram similarity. Cached: a search re-scores ~100 candidates
    that share most of their words, so each pair is computed once, not per candidate."""
    if w == q or (len(q) >= 3 and w.startswith(q)):
        return 1.0
    tq, tw = trigrams(q), trigrams(w)
    common = len(tq & tw)
    return common / (len(tq) + len(tw) - common) if common else 0.0


def match_score(query_words: list[str], doc_words: Iterable[str]) -> float:
    """How well every query word finds a close word (or prefix) in the document (0..1)."""
    if not query_words:
        return 0.0
    doc_words = list(doc_words)
    total = 0.0
    for q in query_words:
        best = 0.0
        for w in doc_words:
            score = word_score(q, w)
            if score > best:
                best = score
                if best == 1.0:
                    break
        total += best
    return total / len(query_words)
