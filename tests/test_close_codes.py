"""The close-code table of docs/reference.rst lists every close code the package sends, under its one name (in process)."""

import re
from pathlib import Path

from graphene_django_subscriptions import close_codes

REFERENCE = Path(__file__).resolve().parent.parent / "docs" / "reference.rst"


def reference_table():
    """``{code: name}`` from the rows of the reference's "Close codes" table."""
    section = REFERENCE.read_text().split("\nClose codes\n-----------\n", 1)[1].split("\n---", 1)[0]
    return {int(code): name for code, name in re.findall(r"^(\d{4})  ([A-Z_]+) ", section, re.M)}


def test_the_reference_table_lists_every_close_code_by_its_name():
    assert reference_table() == close_codes.named()


def test_each_code_has_one_name():
    names = [name for name in vars(close_codes.CloseCode) if name.isupper()]
    assert len(set(close_codes.named())) == len(names)
