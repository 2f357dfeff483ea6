"""`search_knowledge_base`: find help articles for a question (the guide's "check knowledge base")."""

from . import Action, register


@register
class SearchKnowledgeBase(Action):
    name = "search_knowledge_base"
    example = {"query": "{{trigger.subject}}", "limit": 3, "min_score": 0.3}
    label = "Search the knowledge base"
    input_schema = {
        "type": "object",
        "required": ["query"],
        "properties": {
            "query": {"type": "string", "description": "What to look for, e.g. {{trigger.subject}}."},
            "limit": {"type": "integer", "minimum": 1, "maximum": 20, "default": 3, "description": "Most articles."},
            "min_score": {"type": "number", "minimum": 0, "default": 0, "description": "Leave out weaker matches."},
        },
    }

    def run(self, inputs, ctx):
        from ..knowledge import knowledge_search

        articles = knowledge_search(
            query=inputs["query"], limit=inputs.get("limit", 3), min_score=inputs.get("min_score", 0.0)
        )
        return {"found": bool(articles), "articles": articles, "best": articles[0] if articles else None}
