"""A one-line progress bar on stderr (tqdm is not a dependency)."""

import sys
import time

WIDTH = 30


class Progress:
    """Redraws ``label [#####.....] done/total  elapsed`` in place on a terminal; prints a line
    at every tenth of the way elsewhere, so CI logs stay short."""

    def __init__(self, label: str, total: int, stream=sys.stderr):
        self.label = label
        self.total = max(total, 1)
        self.stream = stream
        self.interactive = stream.isatty()
        self.started = time.perf_counter()
        self.last_tenth = -1

    def update(self, done: int) -> None:
        tenth = done * 10 // self.total
        if not self.interactive and tenth == self.last_tenth:
            return
        self.last_tenth = tenth
        filled = done * WIDTH // self.total
        bar = "#" * filled + "." * (WIDTH - filled)
        elapsed = time.perf_counter() - self.started
        line = f"{self.label} [{bar}] {done:,}/{self.total:,}  {elapsed:.1f} s"
        if self.interactive:
            self.stream.write("\r" + line)
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.interactive:
            self.stream.write("\n")
            self.stream.flush()
