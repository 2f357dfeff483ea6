"""The built-in offline provider: deterministic rules and templates, no key, no network. Honest about it:
it matches keywords, adds up criteria points, pulls fields with patterns and fills templates."""

from __future__ import annotations

import re

import re2

from executions.engine.errors import StepError

PATTERNS = {
    "email": r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+",
    "phone": r"\+?\d[\d ()-]{6,}\d",
    "number": r"-?\d+(?:[.,]\d+)?",
    "url": r"https?://[^\s<>\"]+",
    "amount": r"(?:[$€£]\s?)?\d+(?:[.,]\d{1,2})?",
}
USAGE = {"provider": "offline", "input_tokens": 0, "output_tokens": 0, "cost_usd": 0.0}


def _text(request: dict) -> str:
    data = request.get("input") or {}
    return str(data.get("text") if isinstance(data, dict) and "text" in data else data)


def _compiled(field: str, pattern: str):
    """A field's pattern under RE2, which matches in linear time: no pattern can make a step spin."""
    options = re2.Options()
    options.case_sensitive, options.log_errors = False, False
    try:
        return re2.compile(pattern, options)
    except re2.error as exc:
        reason = exc.args[0].decode(errors="replace") if exc.args and isinstance(exc.args[0], bytes) else str(exc)
        raise StepError(
            f"the pattern for field '{field}' is not supported ({reason}); patterns use RE2 syntax: "
            "no look-around or back-references"
        ) from None


class OfflineProvider:
    """Rules instead of a model; the same structured outputs as the LLM providers."""

    can_retry = False

    def perform(self, agent, request: dict, *, schema: dict, timeout: float, previous_error: str | None = None) -> dict:
        handler = getattr(self, f"_{request['action']}", None)
        if handler is None:
            raise StepError(f"the offline provider cannot do '{request['action']}'; give agent '{agent.name}' a model")
        return {**handler(request), "usage": USAGE}

    def _classify(self, request):
        text, labels = _text(request).lower(), list(request["labels"])
        rules = request.get("rules") or {}
        hits = {label: [k for k in rules.get(label, []) if k.lower() in text] for label in labels}
        best = max(labels, key=lambda label: (len(hits[label]), -labels.index(label)))
        if not hits[best]:
            default = request.get("default") or labels[0]
            return {"label": default, "confidence": 0.5, "reason": "no rule matched; default label"}
        total = sum(len(h) for h in hits.values())
        return {
            "label": best,
            "confidence": round(len(hits[best]) / total, 2),
            "reason": f"matched {', '.join(hits[best])}",
        }

    def _score(self, request):
        met = [c for c in request.get("criteria") or [] if c.get("met")]
        score = sum(float(c.get("points", 0)) for c in met)
        thresholds = sorted((request.get("thresholds") or {}).items(), key=lambda kv: -kv[1])
        label = next((name for name, floor in thresholds if score >= floor), request.get("default", "cold"))
        return {"label": label, "score": score, "reasons": [c.get("reason") or c["if"] for c in met]}

    def _extract(self, request):
        text, found, missing = _text(request), {}, []
        for name, pattern in (request.get("fields") or {}).items():
            match = _compiled(name, PATTERNS.get(pattern, pattern)).search(text)
            if match:
                found[name] = match.group(1) if match.groups() else match.group(0)
            else:
                missing.append(name)
        return {"fields": found, "missing": missing}

    def _draft_reply(self, request):
        if not request.get("template"):
            raise StepError("the offline provider drafts replies from a template: add config.template")
        return {"subject": request.get("subject") or "", "text": request["template"]}

    def _summarize(self, request):
        sentences = re.split(r"(?<=[.!?])\s+", _text(request).strip())  # linear: no nested repetition
        return {"summary": " ".join(sentences[: int(request.get("sentences") or 2)])}

    def _decide(self, request):
        if "rule_says_yes" not in request:
            raise StepError("the offline provider decides by a rule: add config.yes_if")
        yes = request["rule_says_yes"]
        return {"decision": "yes" if yes else "no", "reason": "rule matched" if yes else "rule did not match"}
