"""The HTTP API (FastAPI). Health endpoints now; inbound and operations with authentication
come with the API issue."""
