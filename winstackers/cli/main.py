"""``winstackers``: the demo and the emulator's tools.

Subcommands:

- ``winstackers demo [--host URL]``: a walk through what the emulated
  Hyper-V host does, with timings and packet checks;
- ``winstackers emulator coverage``: print the emulator coverage page;
- ``winstackers emulator hyperv --listen ADDRESS:PORT [--state FILE]
  [--tls-cert PEM --tls-key PEM] [--user U --password-file F]``: serve an
  emulated Hyper-V host over WS-Management (see
  :mod:`winstackers.cli.emulator_server`).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from winstackers.cim import CimError
from winstackers.cli import emulator_server


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="winstackers", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="walk through a scenario on an emulated host")
    demo.add_argument("--host", default="emulator://demo",
                      help="host URL (default: a new in-process emulated host)")
    demo.add_argument("--keep", action="store_true",
                      help="leave the VMs and vSwitch in place (useful with a state-file URL)")
    emulator = commands.add_parser("emulator", help="the emulated Hyper-V host")
    emulator_commands = emulator.add_subparsers(dest="emulator_command", required=True)
    emulator_commands.add_parser("coverage", help="print what the emulator implements (Markdown)")
    emulator_server.add_parser(emulator_commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    args = _parser().parse_args(argv)
    try:
        if args.command == "demo":
            from winstackers.cli import demo
            return demo.run(args.host, keep=args.keep)
        if args.emulator_command == "hyperv":
            return emulator_server.run(args)
        from winstackers.emulator.hyperv import coverage
        sys.stdout.write(coverage.render())
        return 0
    except CimError as exc:
        print(f"winstackers: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
