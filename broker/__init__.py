"""How the server's services reach the MQTT broker: one definition of the
connection settings and of how a paho client is set up with them, shared by
the gateway, the api and the alerts; and who may log in to the site broker
with which topics (`broker.accounts`, Mosquitto's dynamic-security plugin,
driven through `broker.control`), shared by the bootstrap, the api and the
local stack. Of the project it imports only protocol/'s topic names.

(The topics and payloads are protocol/'s: that package also runs on the nodes
under MicroPython, where neither pydantic nor paho exists.)"""

from broker.client import configure, node_tls
from broker.passwords import PasswordHash
from broker.settings import MqttSettings

__all__ = ["MqttSettings", "PasswordHash", "configure", "node_tls"]
