"""homescope gateway agent: samples the home network and publishes reports over MQTT.

Runs on OpenWrt-class gateways with the standard library, paho-mqtt and msgpack only.
"""

__version__ = "0.1.0"

# before the agent's imports pull them in: stand-ins for ipaddress and datetime.py (~0.3 MiB, 32-bit)
from agent.publisher.deferred import start_light

start_light()
