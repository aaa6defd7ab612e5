"""The one progress display: a rich bar in a terminal, a callback in a notebook or server, or nothing.

Long work takes ``progress: bool | ProgressCallback``. ``True`` draws a rich bar (on stderr),
a callable is called with ``(done, total)`` after each step, and ``False`` shows nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

ProgressCallback = Callable[[float, float], None]  # (done, total)
Update = Callable[..., None]  # update(done, info="")


@contextmanager
def progress_bar(progress: bool | ProgressCallback, description: str, total: float) -> Iterator[Update]:
    """Yield ``update(done, info="")``; ``info`` is a short status shown beside the bar."""
    if callable(progress):
        yield lambda done, info="": progress(done, total)
        return
    columns = (TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
               TextColumn("{task.fields[info]}"), TimeRemainingColumn())
    with Progress(*columns, disable=not progress, console=Console(stderr=True)) as bar:
        task = bar.add_task(description, total=total, info="")
        yield lambda done, info="": bar.update(task, completed=done, info=info)
