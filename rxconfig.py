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
    plugins=[
        # Radix Themes explicitly (implicit enablement is deprecated in 0.10): neutral greys
        # and a near-black accent, like ChatKit; light/dark follows the toggle.
        rx.plugins.RadixThemesPlugin(
            theme=rx.theme(
                appearance="inherit",
                accent_color="indigo",
                gray_color="slate",
                radius="large",
                scaling="100%",
            )
        ),
    ],
    # No sitemap.xml.
    disable_plugins=[rx.plugins.SitemapPlugin],
)
