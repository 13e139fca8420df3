"""TaskPilot's benchmarks: server overhead of a chat turn, history length, MCP call cost.

Run `python -m bench` (or `make bench`); it writes `bench/RESULTS.md`. See `bench.__main__`
for the flags. Everything measured is real (API app, agent service, MCP server, database)
except the language model, which is a zero-latency double (`bench.model.AddTaskModel`).

The load benchmark, `python -m bench.load` (`make bench-load`), writes `bench/LOAD.md`: many
users chatting at once with the production start (2 workers, PostgreSQL, Redis), against a
model double with a real model's timing on loopback (`bench.model_double`).

The turn-cost comparison, `python -m bench.turn_cost --compare REV`, writes `bench/TURN-COST.md`:
SQL statements and CPU per add-task turn of REV and of the work tree (or `--current REV`), each
in its own process on its own checkout, taking turns, so a change can show it costs no more.
"""
