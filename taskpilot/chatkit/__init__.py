"""ChatKit, both ways: the self-hosted ChatKit server on TaskPilot's agent service and database
(`server`, `store`, `items`, `stream`), and sessions for a hosted Agent Builder workflow
(`sessions`). The page that shows OpenAI's ChatKit component is in `taskpilot.web`."""
