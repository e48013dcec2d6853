"""Progress lines for generation: counts, acceptance rate and ETA."""
import sys
import time
from typing import Optional, TextIO


def format_hms(seconds: float) -> str:
    """``H:MM:SS`` of a duration in seconds."""
    s = int(round(max(seconds, 0.)))
    return f'{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}'


class GenerationProgress:
    """Counts of a generation run, printed as plain lines (log friendly).

    A line is printed for the first item, then at most every ``interval``
    seconds, and for the last item::

        [generate 0/2] 12/50 (24.0%): 9 new, 2 resumed, 1 skipped;
        accepted 9/15 tries (60.0%); 1.20 s/entry; elapsed 0:00:14;
        ETA 0:00:45

    The rate and the ETA count only items produced in this run (resumed
    ones cost nothing). The acceptance rate is new entries over the tries
    spent on new entries and on skipped items.

    Args:
        total (int): Items of this process.
        prefix (str): Start of each line, e.g. ``'[generate 0/2]'``.
        interval (float): Seconds between lines. Defaults to 10.
        stream (file, optional): Where lines go (default ``sys.stdout``).
    """

    def __init__(self,
                 total: int,
                 prefix: str = '[generate]',
                 interval: float = 10.,
                 stream: Optional[TextIO] = None) -> None:
        self.total = int(total)
        self.prefix = prefix
        self.interval = float(interval)
        self.stream = stream
        self.start = time.time()
        self.last_print = None
        self.new = self.resumed = self.skipped = 0
        self.tries = 0
        self.work_seconds = 0.

    @property
    def done(self) -> int:
        """Items handled so far (new + resumed + skipped)."""
        return self.new + self.resumed + self.skipped

    @property
    def acceptance_rate(self) -> Optional[float]:
        """New entries / tries spent in this run (None before any try)."""
        return self.new / self.tries if self.tries else None

    def update(self,
               status: str,
               tries: int = 0,
               seconds: float = 0.) -> None:
        """Count one item.

        Args:
            status (str): ``'new'``, ``'resumed'`` or ``'skipped'``.
            tries (int): Tries it took (new or skipped in this run).
            seconds (float): Time spent producing it.
        """
        if status not in ('new', 'resumed', 'skipped'):
            raise ValueError(f'unknown progress status {status!r}')
        setattr(self, status, getattr(self, status) + 1)
        self.tries += int(tries)
        self.work_seconds += float(seconds)
        now = time.time()
        if (self.last_print is None or self.done >= self.total
                or now - self.last_print >= self.interval):
            self.last_print = now
            print(self.line(now), file=self.stream or sys.stdout, flush=True)

    def line(self, now: Optional[float] = None) -> str:
        """The current progress line."""
        now = time.time() if now is None else now
        elapsed = now - self.start
        produced = self.new + self.skipped
        produced_left = self.total - self.done
        per_item = self.work_seconds / produced if produced else 0.
        rate = self.acceptance_rate
        acc = (f'accepted {self.new}/{self.tries} tries '
               f'({100 * rate:.1f}%)' if rate is not None else
               'no tries yet')
        per_entry = (f'{self.work_seconds / self.new:.2f} s/entry'
                     if self.new else '- s/entry')
        return (f'{self.prefix} {self.done}/{self.total} '
                f'({100 * self.done / max(self.total, 1):.1f}%): '
                f'{self.new} new, {self.resumed} resumed, {self.skipped} '
                f'skipped; {acc}; {per_entry}; elapsed {format_hms(elapsed)}'
                f'; ETA {format_hms(per_item * produced_left)}')
