"""The chat page: Reflex states, components and pages drawn in ChatKit's layout.

`wording` and `view_models` hold the page's pure logic (what a tool call says in words, how a
stored message is shown); `states/` adapt the agent service and the task service to Reflex;
`components/` are small functions that draw one thing each; `pages/` put them together.
"""
