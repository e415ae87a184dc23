"""The faces: the FastAPI app, its routes and auth, and the CLI."""
