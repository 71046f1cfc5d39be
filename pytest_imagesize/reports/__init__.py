"""Report writers (HTML) and their data helpers."""
