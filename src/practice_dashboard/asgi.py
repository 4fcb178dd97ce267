"""The ASGI entry point for uvicorn or any other server: settings from the environment."""

from practice_dashboard import warmup

# Before the app's modules load; the warm-up resumes it once the worker has answered.
warmup.pause_collector()

from practice_dashboard.app import create_app  # noqa: E402  (after the pause, on purpose)

app = create_app()
# Here, not in create_app: the tests build many apps and need no warm-up.
warmup.warm_up_in_background(app)
