"""Knowledge-base search ranks the right article first on both databases, and the action wraps it."""

import pytest

from integrations.actions import ActionContext, run_action
from integrations.knowledge import knowledge_search
from integrations.models import KnowledgeArticle

pytestmark = pytest.mark.django_db


@pytest.fixture
def articles():
    return [
        KnowledgeArticle.objects.create(
            title="Reset your password", body="Use the 'Forgot password' link to reset it."
        ),
        KnowledgeArticle.objects.create(title="Refund policy", body="Refunds are issued within 14 days of purchase."),
        KnowledgeArticle.objects.create(title="Export invoices", body="Invoices can be exported as CSV or PDF."),
        KnowledgeArticle.objects.create(title="Old draft about passwords", body="password", is_published=False),
    ]


def test_the_best_matching_article_comes_first(articles):
    found = knowledge_search(query="How do I reset my password?")
    assert found[0]["title"] == "Reset your password" and found[0]["score"] > 0
    assert "Old draft about passwords" not in [a["title"] for a in found]


def test_nothing_is_found_for_unrelated_or_empty_queries(articles):
    assert knowledge_search(query="quantum entanglement") == []
    assert knowledge_search(query="a an?") == []


def test_the_action_says_whether_something_was_found(articles):
    ctx = ActionContext(idempotency_key="k", timeout=5)
    result = run_action("search_knowledge_base", {"query": "refund after purchase"}, ctx)
    assert result["found"] is True and result["best"]["title"] == "Refund policy"
    assert run_action("search_knowledge_base", {"query": "zebra"}, ctx) == {
        "found": False,
        "articles": [],
        "best": None,
    }


def test_the_admin_saves_an_article_url_typed_without_a_scheme_as_https(client, admin_user):
    client.force_login(admin_user)
    response = client.post(
        "/admin/integrations/knowledgearticle/add/",
        {"title": "Refunds", "body": "Within 14 days.", "tags": "[]", "url": "help.example.com/refunds"},
    )
    assert response.status_code == 302, response.content[:2000]
    assert KnowledgeArticle.objects.get(title="Refunds").url == "https://help.example.com/refunds"
