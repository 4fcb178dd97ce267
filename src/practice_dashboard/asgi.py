"""The ASGI entry point for uvicorn or any other server: settings from the environment."""

from practice_dashboard.app import create_app

app = create_app()
