"""The README's Python example: the first ```python block of its
"## Python" section, exactly as written. Imported by test_live.py (which
runs it against a live server); run as a script it prints the block (the
check script gives it to mypy --strict).

Usage: python readme_example.py [README.md]"""

import pathlib
import sys

README = pathlib.Path(__file__).resolve().parents[2] / "README.md"


def readme_python_block(readme: pathlib.Path = README) -> str:
    """The block's text; fails if the section or the block is missing."""
    text = readme.read_text()
    start = text.index("\n## Python\n")
    following = text.find("\n## ", start + 1)
    section = text[start : following if following != -1 else len(text)]
    opening = section.index("\n```python\n") + len("\n```python\n")
    closing = section.index("\n```\n", opening)
    return section[opening:closing] + "\n"


if __name__ == "__main__":
    sys.stdout.write(readme_python_block(pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else README))
