"""Routes of the counter blueprint."""
