"""Routes of the instances blueprint."""
