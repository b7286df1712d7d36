"""MQTT messages of `svdgan serve` (paho-mqtt): `<prefix>/<camera>/events` with type new, update or
end, and `<prefix>/availability` (a site's worker: `<prefix>/workers/<name>/availability`): "online"
once connected, "offline" when stopped, and the broker's last will "offline" if the process dies.
Optional username and password, and TLS. The connection is made in the background and retried by
paho, so a broker that is down delays messages, not serve."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from svdgan.errors import UserError

TOPIC_LEVEL = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")  # no wildcards (+ #), no empty level, no control characters


def check_prefix(prefix: str) -> str:
    """A topic prefix of 1-4 plain levels ('svdgan', 'site/cams'); wildcards would make every publish fail."""
    levels = prefix.split("/")
    if not 1 <= len(levels) <= 4 or not all(TOPIC_LEVEL.match(level) for level in levels):
        raise UserError(f"bad serve config: mqtt.topic_prefix {prefix!r} must be 1-4 levels of letters, digits, "
                        "'.', '-' or '_' separated by '/' (no '+', '#' or empty levels)")
    return prefix


@dataclass
class MqttSettings:
    host: str = "127.0.0.1"
    port: int = 1883
    prefix: str = "svdgan"
    username: str | None = None
    password: str | None = None  # from the config's password_file or $SVDGAN_MQTT_PASSWORD
    tls: bool = False
    ca_certs: str | None = None  # TLS: the broker's CA (default: the system's)


class MqttPublisher:
    def __init__(self, settings: MqttSettings, worker: str | None = None):
        """`worker`: a site's worker, with a client id and availability topic of its own
        (`<prefix>/workers/<worker>/availability`), so that the broker's last will names the one that died."""
        try:
            import paho.mqtt.client as mqtt
        except ImportError:
            raise UserError("MQTT needs paho-mqtt: pip install 'svdgan[serve]'") from None
        self.prefix = check_prefix(settings.prefix)
        self.availability = f"{self.prefix}/availability" if worker is None else \
            f"{self.prefix}/workers/{worker}/availability"
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2,
                                  client_id="svdgan-serve" if worker is None else f"svdgan-{worker}")
        if settings.username is not None:
            self.client.username_pw_set(settings.username, settings.password)
        if settings.tls:
            self.client.tls_set(ca_certs=settings.ca_certs)
        self.client.will_set(self.availability, "offline", qos=1, retain=True)
        self.client.on_connect = self._connected
        self.client.reconnect_delay_set(1, 30)
        self.client.connect_async(settings.host, settings.port, keepalive=30)
        self.client.loop_start()

    def _connected(self, client: Any, userdata: Any, flags: Any, reason: Any, properties: Any = None) -> None:
        if not getattr(reason, "is_failure", False):
            client.publish(self.availability, "online", qos=1, retain=True)

    def __call__(self, camera: str, kind: str, payload: dict[str, Any]) -> None:
        info = self.client.publish(f"{self.prefix}/{camera}/events", json.dumps(payload), qos=1)
        if info.rc not in (0, 4):  # 4: not connected yet; paho keeps the QoS 1 message and sends it later
            raise OSError(f"MQTT publish failed (paho error {info.rc})")

    def close(self) -> None:
        self.client.publish(self.availability, "offline", qos=1, retain=True).wait_for_publish(2)
        self.client.loop_stop()
        self.client.disconnect()
