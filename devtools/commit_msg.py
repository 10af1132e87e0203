"""The commit message style (CONTRIBUTING.md), as a commit-msg hook: a subject of at most 72 characters,
then a blank line and a body that says why."""

from __future__ import annotations

import sys
from pathlib import Path

MAX_SUBJECT = 72


def problems(message: str) -> list[str]:
    """What is wrong with ``message`` (git's comment lines ignored); empty when it is fine."""
    lines = [line for line in message.splitlines() if not line.startswith("#")]
    while lines and not lines[-1].strip():
        lines.pop()
    if not lines or not lines[0].strip():
        return ["the subject is empty"]
    found = []
    if len(lines[0]) > MAX_SUBJECT:
        found.append(f"the subject has {len(lines[0])} characters; at most {MAX_SUBJECT}")
    if len(lines) < 3 or lines[1].strip():
        found.append("the subject needs a blank line, then a body that says why")
    return found


def main(argv: list[str]) -> int:
    """Check the message file git passes to the hook."""
    found = problems(Path(argv[1]).read_text())
    for problem in found:
        sys.stderr.write(f"commit message: {problem}\n")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
