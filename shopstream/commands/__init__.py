"""CLI commands. Each module here exposes ``command`` (a click command or group); the CLI
registers every module it finds, so a new command is one new file."""
