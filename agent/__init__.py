"""homescope gateway agent: samples the home network and publishes reports over MQTT.

Runs on OpenWrt-class gateways with the standard library, paho-mqtt and msgpack only.
"""

__version__ = "0.1.0"
