"""trtadvisor: predict, explain and confirm the engine TensorRT builds from an ONNX model."""

from __future__ import annotations

__version__ = "0.1.0"
