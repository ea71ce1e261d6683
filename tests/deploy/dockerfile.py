"""The Dockerfile and .dockerignore read as data, without a container engine: instructions
in order (continuation lines joined, comments dropped), grouped by stage, and the build
context a COPY sees (the allow-list of .dockerignore, matched as Docker matches it)."""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from tests.deploy.support import ROOT

__all__ = [
    "DOCKERFILE",
    "DOCKERIGNORE",
    "Stage",
    "context_files",
    "instructions",
    "replay_copies",
    "stages",
]

DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"

Instruction = tuple[str, str]


def instructions(text: str | None = None) -> list[Instruction]:
    """(INSTRUCTION, arguments) in order, continuation lines joined, comments dropped."""
    source = DOCKERFILE.read_text(encoding="utf-8") if text is None else text
    found: list[Instruction] = []
    pending = ""
    for raw in source.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        keyword, _, arguments = (pending + line).partition(" ")
        found.append((keyword.upper(), " ".join(arguments.split())))
        pending = ""
    assert not pending, "the Dockerfile ends inside a continued line"
    return found


@dataclass
class Stage:
    """One ``FROM`` and what follows it up to the next."""

    base: str
    name: str | None
    steps: list[Instruction] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        return [arguments for name, arguments in self.steps if name == keyword]


def stages(text: str | None = None) -> list[Stage]:
    """The Dockerfile's stages in order."""
    found: list[Stage] = []
    for keyword, arguments in instructions(text):
        if keyword == "FROM":
            words = arguments.split()
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else None
            found.append(Stage(words[0], name))
        else:
            assert found, f"{keyword} before FROM"
            found[-1].steps.append((keyword, arguments))
    return found


def _pattern(pattern: str) -> re.Pattern[str]:
    """A .dockerignore pattern as a regex over a slash-separated relative path."""
    out = ""
    index = 0
    while index < len(pattern):
        if pattern.startswith("**/", index):
            out += "(?:.*/)?"
            index += 3
        elif pattern.startswith("**", index):
            out += ".*"
            index += 2
        elif pattern[index] == "*":
            out += "[^/]*"
            index += 1
        elif pattern[index] == "?":
            out += "[^/]"
            index += 1
        else:
            out += re.escape(pattern[index])
            index += 1
    return re.compile(out + r"\Z")


def _rules(root: Path) -> list[tuple[bool, re.Pattern[str]]]:
    rules = []
    for line in (root / ".dockerignore").read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        include = line.startswith("!")
        cleaned = str(PurePosixPath(line.removeprefix("!").strip("/")))
        rules.append((include, _pattern(cleaned)))
    return rules


def _ignored(relative: PurePosixPath, rules: list[tuple[bool, re.Pattern[str]]]) -> bool:
    """Docker's rule: the last pattern that matches the path or one of its parents wins."""
    candidates = [str(relative), *(str(parent) for parent in relative.parents if parent.parts)]
    ignored = False
    for include, pattern in rules:
        if any(pattern.match(candidate) for candidate in candidates):
            ignored = not include
    return ignored


def context_files(root: Path = ROOT) -> list[PurePosixPath]:
    """Every file of the build context at ``root`` (relative paths), .dockerignore applied."""
    rules = _rules(root)
    files = []
    for path in sorted(root.rglob("*")):
        relative = PurePosixPath(path.relative_to(root).as_posix())
        if relative.parts[0] in (".git", ".venv") or not path.is_file():
            continue
        if not _ignored(relative, rules):
            files.append(relative)
    return files


def replay_copies(
    stage: Stage, root: Path, target: Path, *, until: str = "RUN", other_stages: bool = False
) -> list[str]:
    """Carry out ``stage``'s WORKDIR and COPY steps (from the context at ``root``) into
    ``target`` standing for ``/``, in order, up to the first ``until`` step; returns the
    working directory then (a container path) and the steps done as text. ``COPY --from``
    (another stage's files) is skipped when ``other_stages``, else refused."""
    context = context_files(root)
    workdir = PurePosixPath("/")
    done = []
    for keyword, arguments in stage.steps:
        if keyword == until:
            break
        if keyword == "WORKDIR":
            workdir = workdir / arguments
        elif keyword == "COPY":
            words = arguments.split()
            if words[0].startswith("--from"):
                assert other_stages, "COPY --from in a build stage"
                continue
            *sources, destination = words
            into = workdir / destination
            for source in sources:
                _copy(PurePosixPath(source.rstrip("/")), context, root, target, into)
        else:
            continue
        done.append(f"{keyword} {arguments}")
    return [str(workdir), *done]


def _copy(
    source: PurePosixPath,
    context: list[PurePosixPath],
    root: Path,
    target: Path,
    into: PurePosixPath,
) -> None:
    """COPY ``source`` to ``into``: a file into a directory (``./`` ends with /) or a
    directory's contents into ``into``; a source the context lacks fails as in Docker."""
    files = [f for f in context if f == source or source in f.parents]
    assert files, f"COPY {source}: not in the build context"
    for file in files:
        relative = PurePosixPath(file.name) if file == source else file.relative_to(source)
        destination = target / (into / relative).relative_to("/")
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(root / file, destination)
