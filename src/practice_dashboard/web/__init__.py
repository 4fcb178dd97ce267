"""The server-rendered dashboard (Jinja2 + Plotly) for people in a browser."""
