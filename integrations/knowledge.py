"""Knowledge-base search: PostgreSQL full-text ranking, or a simple term-count ranking on SQLite."""

from __future__ import annotations

import re

from django.db import connection
from django.db.models import F, Q

from .models import KnowledgeArticle

WORD = re.compile(r"[a-zA-Z0-9]{3,}")
STOP = frozenset(
    [
        "the",
        "and",
        "for",
        "you",
        "are",
        "with",
        "this",
        "that",
        "have",
        "from",
        "your",
        "not",
        "but",
        "can",
        "how",
        "what",
        "when",
    ]
)


def knowledge_search(*, query: str, limit: int = 3, min_score: float = 0.0) -> list[dict]:
    """Best-matching published articles with a score in [0, 1]; an empty query finds nothing."""
    terms = [t.lower() for t in WORD.findall(query) if t.lower() not in STOP][:20]
    if not terms:
        return []
    rows = _postgres(terms, limit) if connection.vendor == "postgresql" else _fallback(terms, limit)
    return [r for r in rows if r["score"] >= min_score]


def _postgres(terms: list[str], limit: int) -> list[dict]:
    from django.contrib.postgres.search import SearchQuery, SearchRank, SearchVector

    vector = SearchVector("title", weight="A", config="english") + SearchVector("body", weight="B", config="english")
    search = SearchQuery(" | ".join(terms), search_type="raw", config="english")
    ranked = (
        KnowledgeArticle.objects.filter(is_published=True)
        .annotate(rank=SearchRank(vector, search, normalization=32))
        .filter(rank__gt=0)
        .order_by(-F("rank"), "id")[:limit]
    )
    return [_row(article, round(float(article.rank), 4)) for article in ranked]


def _fallback(terms: list[str], limit: int) -> list[dict]:
    """Count the query's terms in title (double weight) and body; one query to fetch the candidates."""
    matches = Q()
    for term in terms:
        matches |= Q(title__icontains=term) | Q(body__icontains=term)
    scored = []
    for article in KnowledgeArticle.objects.filter(matches, is_published=True)[:200]:
        title, body = article.title.lower(), article.body.lower()
        hits = sum(2 * (t in title) + (t in body) for t in terms)
        scored.append((hits / (3 * len(terms)), article))
    scored.sort(key=lambda pair: (-pair[0], pair[1].pk))
    return [_row(article, round(score, 4)) for score, article in scored[:limit]]


def _row(article: KnowledgeArticle, score: float) -> dict:
    return {
        "id": article.pk,
        "title": article.title,
        "url": article.url,
        "score": score,
        "excerpt": article.body[:300],
        "tags": article.tags,
    }
