"""The JSON schema each agent action's output must satisfy (providers are asked for exactly this)."""

USAGE = {"type": "object"}


def schema_for(request: dict) -> dict:
    """The output schema for one request; classify and score are constrained to the step's labels."""
    action = request["action"]
    if action == "custom":
        return request.get("schema") or {"type": "object"}
    return _obj(BUILDERS[action](request), REQUIRED[action])


def _obj(properties: dict, required: list | None = None) -> dict:
    return {
        "type": "object",
        "required": required or [k for k in properties if k != "usage"],
        "properties": {**properties, "usage": USAGE},
    }


BUILDERS = {
    "classify": lambda r: {
        "label": {"enum": list(r.get("labels") or [])},
        "confidence": {"type": "number", "minimum": 0, "maximum": 1},
        "reason": {"type": "string"},
    },
    "score": lambda r: {
        "label": {"enum": list((r.get("thresholds") or {}).keys()) + [r.get("default", "cold")]},
        "score": {"type": "number"},
        "reasons": {"type": "array", "items": {"type": "string"}},
    },
    "extract": lambda r: {
        "fields": {"type": "object", "properties": {k: {} for k in r.get("fields") or {}}},
        "missing": {"type": "array", "items": {"type": "string"}},
    },
    "draft_reply": lambda r: {"subject": {"type": "string"}, "text": {"type": "string", "minLength": 1}},
    "summarize": lambda r: {"summary": {"type": "string", "minLength": 1}},
    "decide": lambda r: {"decision": {"enum": ["yes", "no"]}, "reason": {"type": "string"}},
}

REQUIRED = {
    "classify": ["label"],
    "score": ["label", "score"],
    "extract": ["fields"],
    "draft_reply": ["text"],
    "summarize": ["summary"],
    "decide": ["decision"],
}
