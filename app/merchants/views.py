"""Routes of the merchants blueprint."""
