"""Child processes the chaos run owns: the SecantusDB server (which it can freeze with SIGSTOP
and thaw with SIGCONT) and a free-port helper. Everything here starts, signals and stops only
the processes it started itself, by their process id."""

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from chaos.rabbit import ServiceUnavailable


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def port_open(port: int, timeout: float = 0.2) -> bool:
    """True when something accepts TCP connections on 127.0.0.1:``port``."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout):
            return True
    except OSError:
        return False


def stop_process(process: subprocess.Popen[bytes], timeout: float) -> int:
    """SIGTERM, then SIGKILL after ``timeout`` seconds; the exit code."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        return process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        return process.wait()


def beside_python(name: str) -> str | None:
    """The executable ``name`` next to this interpreter (the virtualenv), else on PATH."""
    beside = Path(sys.executable).parent / name
    return str(beside) if beside.exists() else shutil.which(name)


class StoreServer:
    """A SecantusDB server on a free port, its data and log under ``directory``."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.frozen = False

    @property
    def url(self) -> str:
        """The MongoDB URL of the server."""
        return f"mongodb://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> str:
        """Start the server and wait until it accepts connections; its URL."""
        executable = beside_python("secantusd-py")
        if executable is None:
            raise ServiceUnavailable("secantusd-py is not installed (pip install secantusdb)")
        data = self.directory / "data"
        data.mkdir(parents=True, exist_ok=True)
        argv = [executable, "--host", "127.0.0.1", "--port", str(self.port)]
        argv += ["--storage-path", str(data), "--cache-size", "256MB"]
        argv += ["--oplog-max-entries", "10000", "--log-level", "WARNING"]
        with open(self.directory / "secantusd.log", "wb") as log:
            self.process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while not port_open(self.port):
            if self.process.poll() is not None or time.monotonic() > deadline:
                tail = (self.directory / "secantusd.log").read_text(errors="replace")[-2000:]
                self.stop()
                raise ServiceUnavailable(f"SecantusDB did not start: {tail}")
            time.sleep(0.1)
        return self.url

    def freeze(self) -> None:
        """Stop the server in its tracks (SIGSTOP): connections stay open, nothing answers."""
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGSTOP)
            self.frozen = True

    def thaw(self) -> None:
        """Let a frozen server run again (SIGCONT)."""
        if self.process is not None and self.frozen:
            os.kill(self.process.pid, signal.SIGCONT)
            self.frozen = False

    def stop(self) -> None:
        """Thaw and stop the server."""
        if self.process is not None:
            self.thaw()
            stop_process(self.process, timeout=10)
