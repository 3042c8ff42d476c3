"""Seeded random weights for a structure-only sample, written where its external data file is expected.

The samples keep the exporter's structure and drop the weights (random at export anyway); the fix
tests need values (BatchNorm folding, the onnxruntime comparison), so each test gets a copy of the
sample in a temporary folder with a data file holding random values at the recorded offsets:
matrices N(0, 1/fan_in) so activations keep their scale through deep networks, vectors (biases,
norm weights, BatchNorm statistics) uniform in [0.5, 1.5] so every variance is positive.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import onnx
from onnx import helper


def with_random_weights(sample: Path, folder: Path, seed: int = 0) -> Path:
    model = folder / sample.name
    shutil.copyfile(sample, model)
    proto = onnx.load(str(model), load_external_data=False)
    rng = np.random.default_rng(seed)
    files: dict[str, bytearray] = {}
    from onnx.external_data_helper import _get_all_tensors

    for init in _get_all_tensors(proto):  # initializers and Constant-node tensors (convert_attribute)
        if init.data_location != onnx.TensorProto.EXTERNAL:
            continue
        info = {e.key: e.value for e in init.external_data}
        offset, length = int(info.get("offset", 0)), int(info["length"])
        dims = tuple(init.dims)
        dtype = helper.tensor_dtype_to_np_dtype(init.data_type)
        if np.issubdtype(dtype, np.floating):
            if len(dims) >= 2:
                fan_in = int(np.prod(dims[1:])) or 1
                values = rng.normal(0.0, 1.0 / np.sqrt(fan_in), size=dims)
            else:
                values = rng.uniform(0.5, 1.5, size=dims)
        else:
            values = np.zeros(dims)
        raw = values.astype(dtype).tobytes()
        assert len(raw) == length, (init.name, len(raw), length)
        buf = files.setdefault(info["location"], bytearray())
        if len(buf) < offset + length:
            buf.extend(b"\0" * (offset + length - len(buf)))
        buf[offset:offset + length] = raw
    for location, data in files.items():
        (folder / location).write_bytes(bytes(data))
    return model
