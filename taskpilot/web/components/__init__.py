"""Small components, one per module; each is a plain function returning `rx.Component`.

mypy reads a `@rx.event` handler as `EventNamespace` (the decorator's `__new__` returns
another type), so the few places that bind arguments to a handler carry a
`# type: ignore[operator]`.
"""
