"""One module per page group; each exposes `router` and is picked up by web.router."""
