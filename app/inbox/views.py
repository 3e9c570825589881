"""Routes of the inbox blueprint."""
