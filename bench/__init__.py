"""TaskPilot's benchmarks: server overhead of a chat turn, history length, MCP call cost.

Run `python -m bench` (or `make bench`); it writes `bench/RESULTS.md`. See `bench.__main__`
for the flags. Everything measured is real (API app, agent service, MCP server, database)
except the language model, which is a zero-latency double (`bench.model.AddTaskModel`).
"""
