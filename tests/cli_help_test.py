"""Every user-facing command answers --help: the scripts of bench/, scripts/, examples/ and .ci/,
the e2e helpers a user may call (tests/e2e/udp_order.py, ws_garbage.py), the benchmark
binaries given on the command line, and the `nextmini` binary with each of its subcommands
(found in its own --help).

  /usr/bin/python3 tests/cli_help_test.py REPO NEXTMINI [BENCH_BINARY...]

For each command: `--help` (and `-h`) exits 0 with a line starting "usage:" (any case) on
stdout; an unknown option exits 2 with one line on stderr that names the option and points at
--help. Run as root, the scripts are run as the user nobody, so a script that checks for root
before it answers --help fails here. Needs no namespaces and starts nothing: no command gets
further than its argument parsing. Prints one line per command; exit status 1 when one fails.
Registered in CTest as `cli_help` (label unit).
"""

import os
import re
import subprocess
import sys
from pathlib import Path

UNKNOWN = "--no-such-option"
# Scripts that hand every argument they do not know to another tool (scripts/test.sh: ctest's
# options), so an unknown option is that tool's to refuse: only their --help is checked.
PASS_THROUGH = {"scripts/test.sh"}
NOBODY = 65534


def scripts(repo):
    """The user-facing scripts, relative to `repo`: executable files with a #! line."""
    found = []
    for pattern in ("bench/*", "scripts/*", "examples/*", ".ci/*"):
        for path in sorted(repo.glob(pattern)):
            if path.is_file() and os.access(path, os.X_OK) and path.read_bytes()[:2] == b"#!":
                found.append(path.relative_to(repo).as_posix())
    found += ["tests/e2e/udp_order.py", "tests/e2e/ws_garbage.py"]
    return found


def as_nobody():
    if os.geteuid() == 0:
        os.setgroups([])
        os.setgid(NOBODY)
        os.setuid(NOBODY)


def run(argv, repo, drop_root):
    return subprocess.run(argv, cwd=repo, capture_output=True, text=True, timeout=60,
                          stdin=subprocess.DEVNULL, preexec_fn=as_nobody if drop_root else None)


def check(name, argv, repo, drop_root, check_unknown=True):
    """Returns the problems of one command (empty: fine)."""
    problems = []
    for flag in ("--help", "-h"):
        result = run(argv + [flag], repo, drop_root)
        if result.returncode != 0:
            problems.append(f"{flag}: exit status {result.returncode}: {result.stderr.strip()}")
        elif not re.search(r"^usage:", result.stdout, re.IGNORECASE | re.MULTILINE):
            problems.append(f"{flag}: no 'usage:' line on stdout")
    if check_unknown:
        result = run(argv + [UNKNOWN], repo, drop_root)
        lines = result.stderr.strip().splitlines()
        if result.returncode != 2:
            problems.append(f"{UNKNOWN}: exit status {result.returncode}, not 2")
        if len(lines) != 1 or UNKNOWN not in lines[0] or "--help" not in lines[0]:
            problems.append(f"{UNKNOWN}: stderr is not one line naming it and --help: "
                            f"{result.stderr.strip()!r}")
    print(f"{'ok' if not problems else 'FAIL':4} {name}")
    for problem in problems:
        print(f"       {problem}")
    return problems


def subcommands(binary, path):
    """The subcommands `nextmini PATH... --help` lists, recursively, as argument lists."""
    text = subprocess.run([binary, *path, "--help"], capture_output=True, text=True,
                          timeout=30).stdout
    found = []
    section = text.split("\nSubcommands:\n", 1)
    if len(section) == 2:
        for line in section[1].splitlines():
            match = re.match(r"^  (\S+)\s", line)
            if match is None:
                if line and not line.startswith(" "):
                    break
                continue
            found.append(path + [match.group(1)])
            found += subcommands(binary, path + [match.group(1)])
    return found


def main():
    if len(sys.argv) < 3:
        sys.exit("usage: cli_help_test.py REPO NEXTMINI [BENCH_BINARY...]")
    repo, binary, benches = Path(sys.argv[1]).resolve(), sys.argv[2], sys.argv[3:]
    failures = 0
    for script in scripts(repo):
        failures += bool(check(script, [str(repo / script)], repo, drop_root=True,
                               check_unknown=script not in PASS_THROUGH))
    for bench in benches:
        failures += bool(check(Path(bench).name, [bench], repo, drop_root=False))
    commands = [[]] + subcommands(binary, [])
    if len(commands) < 5:
        print(f"FAIL nextmini --help lists {len(commands) - 1} subcommands")
        failures += 1
    for path in commands:
        failures += bool(check(" ".join(["nextmini", *path]), [binary, *path], repo,
                               drop_root=False))
    print(f"{failures} of {len(scripts(repo)) + len(benches) + len(commands)} commands failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
