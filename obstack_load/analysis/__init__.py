"""Reading runs back to answer "is this release slower than the last?": reports, comparisons
and trends, from the results database's interval and aggregate tables (never its raw rows)."""
