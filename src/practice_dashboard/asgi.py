"""The ASGI entry point for uvicorn or any other server: settings from the environment."""

from practice_dashboard.app import create_app
from practice_dashboard.warmup import warm_up_in_background

app = create_app()
# Here, not in create_app: the tests build many apps and need no warm-up.
warm_up_in_background(app)
