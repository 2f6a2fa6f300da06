"""homescope emulator: fleets of virtual gateways speaking the real protocol."""

__version__ = "0.1.0"
