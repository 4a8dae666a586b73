"""The benchmarks' tables: columns as wide as their widest cell."""


def print_table(header, rows):
    """Print ``header`` and ``rows`` (tuples of cells), each column left-aligned to its widest cell."""
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths)).rstrip())
