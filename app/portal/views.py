"""Routes of the portal blueprint."""
