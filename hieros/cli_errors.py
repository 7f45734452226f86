"""The command-line boundary of every entry point (`python -m hieros.train`, `hieros-bench`): errors in one line.

- bad input (a config, suite, task, file or flag the user gave): `error: <what and what to do>`, exit 2
- the environment (a path that cannot be read or written, a full disk, a missing package): one line, exit 1
- anything else, a bug: `error: unexpected <Type>: <message> (traceback in <file>)`, exit 1
- Ctrl-C outside a run's own handling: `interrupted`, exit 130

With `hieros-bench --debug`, or HIEROS_DEBUG=1 in the environment, tracebacks are shown instead; the runner sets
it for its workers, so each run's runner.log keeps the full traceback of a crash.
"""

from __future__ import annotations

import argparse
import difflib
import os
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterable
from typing import NoReturn

# The exit codes of every command, and between a training process and its runner (bench/).
EXIT_ENVIRONMENT = 1
EXIT_INPUT = 2
EXIT_LOCKED = 75  # EX_TEMPFAIL: the run is busy in another process; try later
EXIT_INTERRUPTED = 130  # stopped by a signal (or --stop_after) with a checkpoint: resumable
DEBUG_ENV = "HIEROS_DEBUG"


class OneLineParser(argparse.ArgumentParser):
    """argparse whose usage errors are one line, `error: <problem> (see `<command> --help`)`, exit 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_INPUT, f"error: {message} (see `{self.prog} --help`)\n")


def int_in(low: int, high: int) -> Callable[[str], int]:
    """An argparse type: an integer in [low, high], else a one-line usage error that says the bounds."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be from {low} to {high}, not {text}")
        return value

    return parse


def closest(word: str, choices: Iterable[str]) -> list[str]:
    """The names of `choices` closest to a mistyped `word` (at most three, closest first; difflib's ratio >= 0.6):
    what every unknown key, preset, task, suite or method is answered with."""
    return difflib.get_close_matches(word, list(choices), n=3, cutoff=0.6)


def suggest(word: str, choices: Iterable[str]) -> str:
    """' (did you mean X or Y?)' for the names of `choices` closest to `word`, or '' where none is close."""
    *first, last = closest(word, choices) or [""]
    if not last:
        return ""
    return f" (did you mean {', '.join(first) + ' or ' if first else ''}{last}?)"


def debugging() -> bool:
    return os.environ.get(DEBUG_ENV, "") not in ("", "0")


def guarded(main: Callable[[], int], user_errors: tuple[type[BaseException], ...], program: str) -> int:
    """`main()`, with every error it raises turned into one line on stderr and an exit code (see the module)."""
    if debugging():
        return main()
    try:
        return main()
    except user_errors as error:
        return _say(f"error: {error}", EXIT_INPUT)
    except KeyboardInterrupt:
        return _say("interrupted", EXIT_INTERRUPTED)
    except ImportError as error:
        return _say(
            f"error: the package {error.name or error} is missing; install the project "
            "(pip install -e .) in the Python that runs this",
            EXIT_ENVIRONMENT,
        )
    except OSError as error:
        where = f"{error.filename}: " if error.filename else ""
        return _say(
            f"error: {where}{error.strerror or error}; check the path, its permissions and the free space",
            EXIT_ENVIRONMENT,
        )
    except Exception as error:
        path = _write_traceback(program, error)
        first = str(error).splitlines()[0] if str(error) else ""
        return _say(
            f"error: unexpected {type(error).__name__}: {first} (traceback in {path}; {DEBUG_ENV}=1 shows it)",
            EXIT_ENVIRONMENT,
        )


def _say(line: str, code: int) -> int:
    print(line, file=sys.stderr)
    return code


def _write_traceback(program: str, error: BaseException) -> str:
    fd, path = tempfile.mkstemp(prefix=f"{program}-{time.strftime('%Y%m%d-%H%M%S')}-", suffix=".txt")
    with os.fdopen(fd, "w") as f:
        f.write(f"{' '.join(sys.argv)}\n\n{''.join(traceback.format_exception(error))}")
    return path
