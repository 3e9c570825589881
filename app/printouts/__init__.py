"""Printed documents as PDF (WeasyPrint, through `reports/`): each route gathers plain data,
in Chinese whatever the UI language, and answers with the PDF inline, so the browser shows it
and prints it."""
