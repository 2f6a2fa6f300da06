"""homescope collector: ingests gateway reports over MQTT, stores them and serves operators."""

__version__ = "0.1.0"
