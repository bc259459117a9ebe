"""The HTTP API: FastAPI on uvicorn, a thin skin over the starter API (README: HTTP API)."""
