"""The demo practice: accounts and clients on realistic courses.

`load_demo` is the entry point. The modules, read in order: accounts, state (a client's targets),
courses, roster, draws (seeded random helpers), client_sim, care (one client's records),
simulate (drawing each client until it reads as its course's story), load.
"""

from practice_dashboard.services.demo.accounts import (
    ACCOUNTS,
    DEFAULT_DEMO_PASSWORD,
    DEMO_DOMAIN,
    PASSWORD_ENV,
    demo_password,
)
from practice_dashboard.services.demo.load import load_demo
from practice_dashboard.services.demo.roster import client_courses

__all__ = [
    "ACCOUNTS",
    "DEFAULT_DEMO_PASSWORD",
    "DEMO_DOMAIN",
    "PASSWORD_ENV",
    "client_courses",
    "demo_password",
    "load_demo",
]
