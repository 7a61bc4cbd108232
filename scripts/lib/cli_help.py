"""The command line of the project's Python scripts (bench/fidelity, tests/e2e/ws_garbage.py),
the twin of help.sh: `--help` prints the script's docstring (its usage, options, environment
and exit status) and exits 0; a bad argument is one line on stderr naming it and pointing at
--help, exit status 2 (argparse's own would print the usage block first)."""

import argparse
import sys


class ArgumentParser(argparse.ArgumentParser):
    """argparse with the script's docstring as its help text and one-line usage errors."""

    def __init__(self, prog, doc, **kwargs):
        super().__init__(prog=prog, description=doc, allow_abbrev=False,
                         formatter_class=argparse.RawDescriptionHelpFormatter, **kwargs)

    def parse_args(self, args=None, namespace=None):
        # An unknown option is named first (argparse would complain about a missing positional).
        args = sys.argv[1:] if args is None else list(args)
        known = {option for action in self._actions for option in action.option_strings}
        for arg in args:
            if arg == "--":
                break
            if arg.startswith("-") and len(arg) > 1 and arg.split("=", 1)[0] not in known:
                self.error(f"unknown option {arg}")
        return super().parse_args(args, namespace)

    def error(self, message):
        print(f"{self.prog}: {message} (see {sys.argv[0]} --help)", file=sys.stderr)
        sys.exit(2)
