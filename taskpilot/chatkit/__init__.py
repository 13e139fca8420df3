"""ChatKit, both ways: the self-hosted ChatKit server on TaskPilot's turn engine and database
(`server`, `context`, `store`, `items`, `stream`), and sessions for a hosted Agent Builder workflow
(`sessions`). The page that shows OpenAI's ChatKit component is in `taskpilot.web`."""
