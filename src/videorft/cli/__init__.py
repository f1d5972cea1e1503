"""Command-line interface: `videorft <command> [<subcommand>] ...`."""
