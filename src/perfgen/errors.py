"""The small family of errors and warnings perfgen reports.

Every problem with user input is a :class:`Problem`: where it is (file, line, key path or
column), what is wrong and how to fix it. Stages collect problems and raise one
:class:`PerfgenError` holding all of them, so a user sees every problem of a run at once.
The command line turns that into messages and a non-zero exit (see ``cli.py``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from difflib import get_close_matches


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the input, located as precisely as the input allows."""

    file: str
    line: int | None
    where: str  # key path (``services[3].department``) or column (``column 'value'``)
    message: str
    code: str = ""  # stable warning code; empty for errors
    hint: str = ""

    def __lt__(self, other: Problem) -> bool:
        return self._sort_key() < other._sort_key()

    def _sort_key(self) -> tuple:
        # By file, then line; problems of the whole file (line None, such as "12 more rows ...
        # not listed") after its numbered lines. Plain field order would compare None with int.
        return (self.file, self.line is None, self.line or 0, self.where, self.message, self.code, self.hint)

    def __str__(self) -> str:
        location = self.file if self.line is None else f"{self.file}:{self.line}"
        text = f"{location}: {self.where}: {self.message}" if self.where else f"{location}: {self.message}"
        if self.code:
            text = f"{text} [{self.code}]"
        if self.hint:
            text = f"{text}\n  Hint: {self.hint}"
        return text


class PerfgenError(Exception):
    """Input perfgen cannot build from. Holds every problem found in the run."""

    kind = "input"

    def __init__(self, problems: Iterable[Problem] | str):
        if isinstance(problems, str):
            problems = [Problem(file="", line=None, where="", message=problems)]
        self.problems = sorted(set(problems))
        super().__init__("\n".join(str(p) for p in self.problems))


class ConfigError(PerfgenError):
    kind = "config"


class DataError(PerfgenError):
    kind = "data"


class StrictModeError(PerfgenError):
    kind = "data (--strict turns warnings into errors)"


@dataclass
class Warnings:
    """Coded warnings of one build, de-duplicated and counted by code."""

    items: list[Problem] = field(default_factory=list)

    def add(self, problem: Problem) -> None:
        if not problem.code:
            raise ValueError("a warning needs a stable code")
        self.items.append(problem)

    def sorted(self) -> list[Problem]:
        return sorted(set(self.items))

    def by_code(self) -> dict[str, int]:
        return dict(sorted(Counter(p.code for p in set(self.items)).items()))

    def __len__(self) -> int:
        return len(set(self.items))


def did_you_mean(value: str, choices: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` when a close choice exists, else an empty string."""
    match = get_close_matches(value, list(choices), n=1, cutoff=0.6)
    return f" (did you mean '{match[0]}'?)" if match else ""
