"""Errors the engine raises; plain Python so the engine stays free of Django."""


class EngineError(Exception):
    """Base class for every engine error."""


class ExpressionError(EngineError):
    """An expression could not be parsed or evaluated; names the expression and step."""

    def __init__(self, message: str, *, expression: str = "", step: str | None = None, path: str | None = None):
        self.expression = expression
        self.step = step
        self.path = path
        where = f"step '{step}': " if step else ""
        super().__init__(f"{where}{message}")


class StepError(EngineError):
    """A step failed; `retryable` tells the retry policy whether another attempt may help."""

    def __init__(self, message: str, *, retryable: bool = False, retry_after: float | None = None, detail=None):
        self.retryable = retryable
        self.retry_after = retry_after
        self.detail = detail or {}
        super().__init__(message)


class DefinitionError(EngineError):
    """A workflow definition is invalid; carries every problem found."""

    def __init__(self, problems: list):
        self.problems = problems
        super().__init__("; ".join(str(p) for p in problems))
