"""The commands of a README section's shell block, as the tests run them: continuation lines joined, and
each one marked `# needs Docker` or `# needs the internet` set aside (the only ones tests do not run)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from support.processes import REPO_ROOT

README = REPO_ROOT / "README.md"
SKIP_MARKS = ("# needs Docker", "# needs the internet")


@dataclass(frozen=True)
class Command:
    text: str  # the command without its trailing comment
    skipped_because: str  # "" when the tests run it


def section(title: str) -> str:
    """The text of `## title` up to the next `## ` heading."""
    text = README.read_text()
    start = text.index(f"## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else len(text)]


def commands(title: str) -> list[Command]:
    """Every command of the section's first ```sh block, in order."""
    block = re.search(r"```sh\n(.*?)```", section(title), re.DOTALL)
    assert block, f"no ```sh block under ## {title}"
    joined = re.sub(r"\\\n\s*", "", block.group(1))
    found = []
    for line in joined.splitlines():
        if not line.strip():
            continue
        mark = next((m for m in SKIP_MARKS if m in line), "")
        text = line.split("   #")[0].split("  # ")[0].strip() if mark else line.strip()
        found.append(Command(text, mark.removeprefix("# ")))
    return found
