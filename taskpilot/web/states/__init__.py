"""The page's Reflex states, one module each.

`AuthState` is the parent of every state that holds a person's data, so logging out resets
them all; `LayoutState` and `ComposerState` hold only what the page looks like and what is
being typed.
"""
