"""The one progress display: a rich bar in a terminal, a callback in a notebook or server, or nothing.

Long work takes ``progress: bool | ProgressCallback``. ``True`` draws a rich bar (on stderr),
a callable is called with ``(done, total)`` after each step, and ``False`` shows nothing.
When stderr is not a terminal (a log file of a background run), ``True`` writes a plain line
at most every ``LOG_EVERY`` seconds instead of a bar, so the log shows how far the work got.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

ProgressCallback = Callable[[float, float], None]  # (done, total)
Update = Callable[..., None]  # update(done, info="")
LOG_EVERY = 60.0  # seconds between lines in a log file


def _log_lines(description: str, total: float) -> Update:
    last, logged = -LOG_EVERY, None

    def update(done: float, info: str = "") -> None:
        nonlocal last, logged
        now = time.monotonic()
        if (now - last >= LOG_EVERY or done >= total) and (done, info) != logged:
            last, logged = now, (done, info)
            print(f"{time.strftime('%H:%M:%S')} {description}: {done:.0f} / {total:.0f} {info}".rstrip(),
                  file=sys.stderr, flush=True)

    return update


@contextmanager
def progress_bar(progress: bool | ProgressCallback, description: str, total: float) -> Iterator[Update]:
    """Yield ``update(done, info="")``; ``info`` is a short status shown beside the bar."""
    if callable(progress):
        yield lambda done, info="": progress(done, total)
        return
    console = Console(stderr=True)
    if progress and not console.is_terminal:
        yield _log_lines(description, total)
        return
    columns = (TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
               TextColumn("{task.fields[info]}"), TimeRemainingColumn())
    with Progress(*columns, disable=not progress, console=console) as bar:
        task = bar.add_task(description, total=total, info="")
        yield lambda done, info="": bar.update(task, completed=done, info=info)
