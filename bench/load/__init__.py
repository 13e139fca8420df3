"""The load benchmark, `python -m bench.load` (`make bench-load`): many simulated users chatting
at once with TaskPilot's production start, against a model double with a real model's timing.
Writes bench/LOAD.md; `python -m bench.load --help` lists the flags.

- `config`: what to run (`LoadConfig`); `cli`: the command line.
- `processes`: what it starts and stops: the model double, the workers, a throwaway
  PostgreSQL database, a Redis database of its own.
- `clients`: the HTTP clients a simulated user chats through, and how a turn's event stream
  is judged; `users`: the simulated users and their conversations.
- `monitor`: what runs beside the users (memory, CPU, loop lag, probes, the database's
  counters, the workers' log); `worker_profile`: py-spy samples of the workers.
- `run`: a level, and the whole run; `results`: what a run measured.
- `report` and `findings`: LOAD.md.
"""
