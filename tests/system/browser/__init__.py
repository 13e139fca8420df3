"""Browser tests: the real Reflex page (`reflex run --env prod`) driven by headless Chromium.

A package so that its fixtures (the app server, the Playwright browser) are torn down after
the last browser test, before the rest of the suite's asyncio tests run.
"""
