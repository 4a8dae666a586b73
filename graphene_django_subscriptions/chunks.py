"""Long lists of keys asked of the database a slice at a time: a query per slice, however many there are."""

#: Values per slice: well under the 999 parameters a statement of SQLite before 3.32 may take.
SIZE = 500


def of(values):
    """``values`` (a list) in slices of ``SIZE``, in order."""
    for start in range(0, len(values), SIZE):
        yield values[start : start + SIZE]
