"""RingWatch's domain core: the graph model, stores, detection and scoring."""

__version__ = "0.1.0"
