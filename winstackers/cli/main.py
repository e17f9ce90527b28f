"""``winstackers``: the demo and the emulator's tools.

Subcommands:

- ``winstackers demo [--keep] [--state-dir DIR]``: neutron-server 29 and
  the Hyper-V agent on an emulated Hyper-V host, a scenario walked through
  with timings, ports and packet checks (:mod:`winstackers.cli.demo`);
  ``winstackers demo stop`` stops a demo left running by ``--keep``;
- ``winstackers emulator coverage``: print the emulator coverage page;
- ``winstackers emulator hyperv --listen ADDRESS:PORT [--state FILE]
  [--tls-cert PEM --tls-key PEM] [--user U --password-file F]``: serve an
  emulated Hyper-V host over WS-Management (see
  :mod:`winstackers.cli.emulator_server`);
- ``winstackers host show (--url URL | --config-file FILE...) [--port ID
  [--acls]] [--json]``: a host's vSwitches, VMs and switch ports, read
  through the host library (:mod:`winstackers.cli.host_show`).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from winstackers.cim import CimError
from winstackers.cli import emulator_server, host_show


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="winstackers", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser(
        "demo", help="neutron and the Hyper-V agent on an emulated host, walked through")
    demo.add_argument("action", nargs="?", choices=("run", "stop"), default="run",
                      help="run the demo (default), or stop one left running by --keep")
    demo.add_argument("--keep", action="store_true",
                      help="leave the stack running in the background (stop: demo stop)")
    demo.add_argument("--state-dir", type=Path, default=None,
                      help="where a kept demo keeps its files (default: "
                           "$TMPDIR/winstackers-demo-UID)")
    demo.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    emulator = commands.add_parser("emulator", help="the emulated Hyper-V host")
    emulator_commands = emulator.add_subparsers(dest="emulator_command", required=True)
    emulator_commands.add_parser("coverage", help="print what the emulator implements (Markdown)")
    emulator_server.add_parser(emulator_commands)
    host = commands.add_parser("host", help="look at a Hyper-V host")
    host_commands = host.add_subparsers(dest="host_command", required=True)
    host_show.add_parser(host_commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    args = _parser().parse_args(argv)
    try:
        if args.command == "demo":
            from winstackers.cli import demo
            if args.serve:
                return demo.serve(args.state_dir or demo.default_state_dir())
            if args.action == "stop":
                return demo.stop(args.state_dir)
            return demo.run(keep=args.keep, state_dir=args.state_dir)
        if args.command == "host":
            return host_show.run(args)
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
