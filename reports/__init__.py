"""Printable PDF forms and statements (WeasyPrint) and CSV/XLSX exports. Reads only."""
