"""hvcheck: find the invariant violations behind silent hypervisor corruption."""

__version__ = "0.1.0"
