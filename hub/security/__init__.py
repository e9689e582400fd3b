"""Authentication, authorisation and request signatures."""
