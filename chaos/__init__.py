"""Process-level chaos testing of leadgen: real ``leadgen worker`` processes on a RabbitMQ
virtual host and a SecantusDB server of their own, fed jobs and credit grants the way another
service would, while workers are killed, their broker connections closed and the store frozen;
afterwards the store is read directly to check that every job settled and every credit was
counted once. ``python -m chaos`` runs it; ``run_chaos`` is the same run for the tests."""

from chaos.config import ChaosConfig
from chaos.figures import Figures
from chaos.runner import run_chaos

__all__ = ["ChaosConfig", "Figures", "run_chaos"]
