"""``leadgen worker`` processes: each incarnation writes its stdout and stderr to files of its
own, serves its health endpoints on a free port, and can be SIGKILLed and restarted at once.
The pool keeps two of them running and tells a kill it ordered from a worker that died on its
own (a crash the run must report)."""

import random
import signal
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from chaos.processes import beside_python, free_port, stop_process
from chaos.rabbit import ServiceUnavailable


@dataclass
class WorkerProcess:
    """One named worker slot; ``start`` begins a new incarnation of it."""

    name: str
    env: dict[str, str]
    logdir: Path
    grace: float
    incarnation: int = 0
    process: subprocess.Popen[bytes] | None = None
    http_port: int = 0
    log_files: list[Path] = field(default_factory=list)

    @property
    def pid(self) -> int:
        """The process id of the current incarnation (0 before the first start)."""
        return self.process.pid if self.process is not None else 0

    def start(self) -> None:
        """Start a new incarnation, its output captured to ``NAME.N.stdout``/``.stderr``."""
        executable = beside_python("leadgen")
        if executable is None:
            raise ServiceUnavailable("the leadgen command is not installed")
        self.incarnation += 1
        self.http_port = free_port()
        stem = f"{self.name}.{self.incarnation}"
        out, err = self.logdir / f"{stem}.stdout", self.logdir / f"{stem}.stderr"
        self.log_files += [out, err]
        env = {**self.env, "LEADGEN_HTTP_PORT": str(self.http_port)}
        argv = [executable, "worker", "--grace", str(self.grace)]
        with open(out, "wb") as stdout, open(err, "wb") as stderr:
            self.process = subprocess.Popen(argv, env=env, stdout=stdout, stderr=stderr)

    def alive(self) -> bool:
        """True while the current incarnation runs."""
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL the current incarnation and reap it."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()

    def ready(self) -> bool:
        """True when ``/readyz`` answers 200 (broker connected, consumers on, store pings)."""
        url = f"http://127.0.0.1:{self.http_port}/readyz"
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return int(response.status) == 200
        except (urllib.error.URLError, OSError):
            return False

    def started(self) -> bool:
        """True when the current incarnation logged ``worker_started`` (its actors consume)."""
        out = self.log_files[-2] if self.log_files else None
        return out is not None and out.exists() and b'"worker_started"' in out.read_bytes()

    def exit_note(self) -> str:
        """``NAME.N exited with CODE`` for a report."""
        code = self.process.returncode if self.process is not None else None
        return f"{self.name}.{self.incarnation} exited with {code}"

    def stop(self) -> int | None:
        """SIGTERM and wait for the graceful shutdown; the exit code (None if never started)."""
        if self.process is None:
            return None
        return stop_process(self.process, timeout=self.grace + 15)


class WorkerPool:
    """The two workers of a run."""

    def __init__(self, env: dict[str, str], logdir: Path, grace: float, size: int = 2) -> None:
        self.workers = [WorkerProcess(f"worker-{i}", env, logdir, grace) for i in range(size)]
        self.crashes: list[str] = []
        # Incarnations that exited before their actors started (e.g. the store was frozen).
        self.start_failures: list[str] = []
        self.stopped = False

    def start(self, timeout: float = 60.0) -> None:
        """Start every worker and wait until each is ready."""
        for worker in self.workers:
            worker.start()
        deadline = time.monotonic() + timeout
        for worker in self.workers:
            while not worker.ready():
                if not worker.alive() or time.monotonic() > deadline:
                    raise ServiceUnavailable(f"{worker.name} did not become ready")
                time.sleep(0.2)

    def kill_random(self, rng: random.Random) -> WorkerProcess:
        """SIGKILL one worker and start it again at once; the worker killed.

        A worker whose actors run is preferred: killing one still starting tests little."""
        running = [worker for worker in self.workers if worker.alive() and worker.started()]
        worker = rng.choice(running or self.workers)
        worker.kill()
        worker.start()
        return worker

    def revive_crashed(self) -> None:
        """Restart a worker that exited without being told to, and remember the crash."""
        if self.stopped:
            return
        for worker in self.workers:
            if worker.process is not None and not worker.alive():
                self._note_exit(worker)
                worker.start()

    def stop(self) -> list[str]:
        """Stop every worker gracefully, once; the workers that did not exit 0."""
        if self.stopped:
            return []
        self.stopped = True
        self._note_down()
        unclean = []
        for worker in self.workers:
            code = worker.stop()
            if code not in (0, None):
                unclean.append(worker.exit_note())
        return unclean

    def _note_down(self) -> None:
        """Record as a crash every worker already down that nobody told to stop."""
        for worker in self.workers:
            if worker.process is not None and worker.process.poll() is not None:
                self._note_exit(worker)

    def _note_exit(self, worker: WorkerProcess) -> None:
        """File an exit nobody ordered as a crash, or as a failure to start."""
        exits = self.crashes if worker.started() else self.start_failures
        exits.append(worker.exit_note())

    def log_files(self) -> list[Path]:
        """Every stdout and stderr file of every incarnation."""
        return [path for worker in self.workers for path in worker.log_files]
