#!/usr/bin/env python3
"""Rebuild the Keras ResNet-50 behind the TREx RTX 3090 engines (TensorFlow + tf2onnx; run with that venv).

    /work/venv-tf/bin/python samples/real_pairs/make_tf_pairs.py

``tf.keras.applications.ResNet50(weights=None)`` (random weights: nothing is downloaded), batch 32 in
NHWC as the engines' input ``input_1`` [32, 224, 224, 3] shows, converted with
``tf2onnx.convert.from_keras`` at opset 13 and saved structure-only (floats >= 1 KiB external, the
``.data`` file deleted). The engines in ../shared/data/trt-artifacts/trex/examples/tensorflow/resnet/
RTX-3090/ were built in 2022 from a Keras 2 export whose node names (``resnet50/conv1_conv/Conv2D``)
differ from Keras 3's (``resnet50_1/conv1_bn_1/batchnorm/mul_1``): they are compared by signature.
"""

from __future__ import annotations

import os
from pathlib import Path

import onnx
import tensorflow as tf
import tf2onnx

HERE = Path(__file__).resolve().parent
OUT = HERE / "keras_resnet50.tf2onnx.opset13.onnx"


def main() -> None:
    tf.random.set_seed(0)
    model = tf.keras.applications.ResNet50(weights=None)
    spec = (tf.TensorSpec((32, 224, 224, 3), tf.float32, name="input_1"),)
    proto, _ = tf2onnx.convert.from_keras(model, input_signature=spec, opset=13)
    data = OUT.name + ".data"
    onnx.save(proto, str(OUT), save_as_external_data=True, all_tensors_to_one_file=True, location=data,
              size_threshold=1024)
    os.remove(HERE / data)  # structure only
    print(f"{OUT.name}: {len(proto.graph.node)} nodes (tensorflow {tf.__version__}, tf2onnx {tf2onnx.__version__})")


if __name__ == "__main__":
    main()
