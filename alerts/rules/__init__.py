"""Alert rules: pure functions from query results to findings, one module per family."""
