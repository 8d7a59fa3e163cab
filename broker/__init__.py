"""How the server's services reach the MQTT broker: one definition of the
connection settings and of how a paho client is set up with them, shared by
the gateway, the api and the alerts. It imports nothing of the project.

(The topics and payloads are protocol/'s: that package also runs on the nodes
under MicroPython, where neither pydantic nor paho exists.)"""

from broker.client import configure
from broker.settings import MqttSettings

__all__ = ["MqttSettings", "configure"]
