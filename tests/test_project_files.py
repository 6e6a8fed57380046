"""Project-wide rules about the files themselves: the project names no package index host. Indexes come from the
machine's pip and apt configuration, or from build arguments that are empty by default."""

import re
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

# An address given as a package index: after an index option, or a URL ending in a "simple" or wheel listing.
INDEX = re.compile(r"(index[-_]url\s*[= ]\s*['\"]?https?://|find[-_]links\s*[= ]\s*['\"]?https?://(?!127\.0\.0\.1)"
                   r"|https?://[^\s'\"]+/(simple|whl)(/|\b))", re.IGNORECASE)
# apt sources written into an image or a script
APT = re.compile(r"^\s*deb(-src)?\s+https?://", re.MULTILINE)


def tracked_files() -> list[Path]:
    out = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True).stdout
    this = Path(__file__).resolve()  # its own examples of what it looks for
    return [REPO / line for line in out.splitlines()
            if line and not line.startswith("tests/data/") and (REPO / line).resolve() != this]


def test_no_package_index_host_is_named():
    found = []
    for path in tracked_files():
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        for pattern in (INDEX, APT):
            for match in pattern.finditer(text):
                line = text.count("\n", 0, match.start()) + 1
                found.append(f"{path.relative_to(REPO)}:{line}: {match.group(0)}")
    assert not found, "package index addresses in the project:\n" + "\n".join(found)


def test_the_rule_catches_an_index_address():
    assert INDEX.search("pip install --index-url https://example.invalid/simple torch")
    assert INDEX.search("ARG TORCH_INDEX=https://example.invalid/whl/cpu")
    assert APT.search("RUN echo x\ndeb http://example.invalid/debian bookworm main\n")
    assert not INDEX.search('ARG TORCH_INDEX=""')
