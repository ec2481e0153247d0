"""User-facing errors: problems that name a file, a line and a field, never a traceback."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One thing wrong with one input, located as precisely as we can."""

    file: str
    line: int | None
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.file and self.line else self.file
        parts = [p for p in (where, self.field) if p] or ["negsim"]
        return ": ".join(parts + [self.message])


class UserError(Exception):
    """Raised for anything the user can fix; the CLI prints it and exits with code 2."""

    exit_code = 2

    def __init__(self, problems: list[Problem] | str):
        if isinstance(problems, str):
            problems = [Problem("", None, "", problems)]
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


MAX_REPORTED = 100


class ScenarioError(UserError):
    """A scenario file (or an override of one) failed to load or validate."""

    def __init__(self, problems: list[Problem] | str):
        # A file with thousands of broken items should not print thousands of lines.
        if isinstance(problems, list) and len(problems) > MAX_REPORTED:
            rest = len(problems) - MAX_REPORTED
            last = problems[MAX_REPORTED - 1]
            problems = problems[:MAX_REPORTED] + [Problem(last.file, None, "", f"... and {rest:,} more problems")]
        super().__init__(problems)
