"""The console: the marketer's pages under /app, server-rendered (Jinja2, htmx), for a person
signed in with a password; it calls the same engine services as the /v1 routes."""
