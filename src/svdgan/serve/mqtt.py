"""MQTT messages of `svdgan serve`: `<prefix>/<camera>/events` with type new, update or end (paho-mqtt)."""

from __future__ import annotations

import json
from typing import Any

from svdgan.errors import UserError


class MqttPublisher:
    def __init__(self, host: str, port: int, prefix: str = "svdgan", client_id: str = "svdgan-serve"):
        try:
            import paho.mqtt.client as mqtt
        except ImportError:
            raise UserError("MQTT needs paho-mqtt: pip install 'svdgan[serve]'") from None
        self.prefix = prefix
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id)
        try:
            self.client.connect(host, port, keepalive=30)
        except OSError as exc:
            raise UserError(f"cannot reach the MQTT broker at {host}:{port}: {exc}") from None
        self.client.loop_start()

    def __call__(self, camera: str, kind: str, payload: dict[str, Any]) -> None:
        self.client.publish(f"{self.prefix}/{camera}/events", json.dumps(payload), qos=1)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()
