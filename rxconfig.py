"""Reflex configuration. Values come from TaskPilot's settings (the environment or .env)."""

import reflex as rx

from taskpilot.core.config import get_settings
from taskpilot.core.db import sync_url

_settings = get_settings()

config = rx.Config(
    app_name="taskpilot",
    db_url=sync_url(_settings.database_url),
    cors_allowed_origins=_settings.allowed_origins,
    telemetry_enabled=False,
    show_built_with_reflex=False,
    # Radix Themes explicitly (implicit enablement is deprecated in 0.10); no sitemap.xml.
    plugins=[rx.plugins.RadixThemesPlugin()],
    disable_plugins=[rx.plugins.SitemapPlugin],
)
