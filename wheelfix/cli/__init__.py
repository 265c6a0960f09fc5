"""The command line: an adapter that parses options, calls the library, renders and maps errors
to exit codes."""

from wheelfix.cli.app import main

__all__ = ["main"]
