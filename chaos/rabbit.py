"""The RabbitMQ management HTTP API, as the chaos run uses it: a virtual host of its own
(created with full permissions, deleted afterwards), the connections of each worker (to close
them by force, as a network failure or an operator would) and a peek at ``leadgen.dead``."""

import base64
import json
import socket
import urllib.error
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass
from typing import Any

from chaos.config import RabbitEndpoint


class ServiceUnavailable(Exception):
    """Raised when RabbitMQ, its management API or SecantusDB cannot be used."""


@dataclass(frozen=True)
class DeadLetter:
    """One message of ``leadgen.dead``: its id, routing key and the reason leadgen gave."""

    message_id: str | None
    routing_key: str
    reason: str


class Management:
    """A client of the management API of one broker, bound to one virtual host."""

    def __init__(self, endpoint: RabbitEndpoint, vhost: str | None = None) -> None:
        self.endpoint = endpoint
        self.vhost = vhost or f"leadgen-chaos-{uuid.uuid4().hex[:12]}"

    def call(self, method: str, path: str, body: object | None = None) -> Any:
        """Call the API and return its decoded JSON answer (or None)."""
        data = None if body is None else json.dumps(body).encode()
        url = f"{self.endpoint.management_url}/api{path}"
        request = urllib.request.Request(url, data=data, method=method)
        auth = f"{self.endpoint.user}:{self.endpoint.password}".encode()
        request.add_header("Authorization", "Basic " + base64.b64encode(auth).decode())
        request.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(request, timeout=10) as response:
            payload = response.read()
        return json.loads(payload) if payload else None

    @property
    def _quoted(self) -> str:
        return urllib.parse.quote(self.vhost, safe="")

    def create_vhost(self) -> str:
        """Create the virtual host and grant the user everything on it; its AMQP URL."""
        if not _port_open(self.endpoint.host, self.endpoint.port):
            raise ServiceUnavailable(f"RabbitMQ is not answering on {self.endpoint.host}")
        try:
            self.call("PUT", f"/vhosts/{self._quoted}")
            self.call(
                "PUT",
                f"/permissions/{self._quoted}/{self.endpoint.user}",
                {"configure": ".*", "write": ".*", "read": ".*"},
            )
        except (urllib.error.URLError, OSError) as exc:
            raise ServiceUnavailable(f"RabbitMQ management API not reachable: {exc}") from None
        return self.endpoint.amqp_url(self._quoted)

    def delete_vhost(self) -> None:
        """Delete the virtual host with every queue and connection in it."""
        self.call("DELETE", f"/vhosts/{self._quoted}")

    def connections_of(self, pid: int) -> list[str]:
        """Names of the connections a ``leadgen worker`` with process id ``pid`` holds."""
        suffix = f":{pid}"
        found = self.call("GET", f"/vhosts/{self._quoted}/connections") or []
        return [
            conn["name"]
            for conn in found
            if str(conn.get("client_properties", {}).get("connection_name", "")).endswith(suffix)
        ]

    def close_connection(self, name: str) -> bool:
        """Force-close one connection; False when it was already gone."""
        path = f"/connections/{urllib.parse.quote(name, safe='')}"
        try:
            self.call("DELETE", path)
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                return False
            raise
        return True

    def dead_letters(self, limit: int = 10_000) -> list[DeadLetter]:
        """What ``leadgen.dead`` holds, read without taking it off the queue."""
        body = {"count": limit, "ackmode": "ack_requeue_true", "encoding": "auto"}
        found = self.call("POST", f"/queues/{self._quoted}/leadgen.dead/get", body) or []
        return [_dead_letter(message) for message in found]


def _dead_letter(message: dict[str, Any]) -> DeadLetter:
    properties = message.get("properties", {})
    headers = properties.get("headers", {}) or {}
    return DeadLetter(
        message_id=properties.get("message_id"),
        routing_key=str(message.get("routing_key", "")),
        reason=str(headers.get("x-leadgen-error", "")),
    )


def _port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return True
    except OSError:
        return False
