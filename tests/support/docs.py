"""The documentation's pages, and the literal blocks a user would paste from them."""

import textwrap

from .servers import ROOT

PAGES = [ROOT / "README.rst", *sorted((ROOT / "docs").glob("*.rst"))]


def snippet(intro):
    """The literal block that follows the one line of the documentation ending with ``intro``, dedented."""
    ((lines, start),) = [
        (lines, index)
        for lines in (page.read_text().splitlines() for page in PAGES)
        for index, line in enumerate(lines)
        if line.rstrip().endswith(intro)
    ]
    block = []
    for line in lines[start + 1 :]:
        if line.strip() and not line.startswith("    "):
            break
        block.append(line)
    return textwrap.dedent("\n".join(block)).strip("\n") + "\n"
