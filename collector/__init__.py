"""Export the ``customers`` table to an append-only CSV and a full snapshot CSV, on a schedule."""
