"""The one way views reach what the composition root wired for this app: its services and
its queues (set by web/app.py's create_app)."""

from __future__ import annotations

from flask import current_app

from web.bootstrap import Services
from web.signin_limits import SignInLimits
from workers.jobs import Jobs


def services() -> Services:
    found: Services = current_app.extensions["parley"]
    return found


def jobs() -> Jobs:
    found: Jobs = current_app.extensions["parley_jobs"]
    return found


def signin_limits() -> SignInLimits:
    found: SignInLimits = current_app.extensions["parley_signin_limits"]
    return found
