#!/usr/bin/env python3
"""Make the TensorFlow samples in samples/wild/ with the real tf2onnx (run with the TensorFlow venv).

    python samples/wild/make_tf_samples.py                 # everything
    python samples/wild/make_tf_samples.py --only tf2onnx_resnet50

Keras models with random weights (``weights=None``, ``tf.random.set_seed(0)``) are converted with
``tf2onnx.convert.from_keras`` and saved structure-only (floats >= 1 KiB external, data deleted).
Made with TensorFlow 2.21, Keras 3.15, tf2onnx 1.17.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

import onnx
import tensorflow as tf
import tf2onnx

HERE = Path(__file__).resolve().parent
BUILDERS: dict[str, Callable[[], onnx.ModelProto]] = {}


def builder(name: str) -> Callable[[Callable[[], onnx.ModelProto]], Callable[[], onnx.ModelProto]]:
    def deco(fn: Callable[[], onnx.ModelProto]) -> Callable[[], onnx.ModelProto]:
        BUILDERS[name] = fn
        return fn
    return deco


def convert(model, signature: list, opset: int, keep_einsum: bool = False,
            inputs_as_nchw: list[str] | None = None) -> onnx.ModelProto:
    optimizers = None
    if keep_einsum:  # every default tf2onnx optimizer except the one that rewrites Einsum as MatMul
        optimizers = {k: v for k, v in tf2onnx.optimizer._get_optimizers().items() if k != "einsum_optimizer"}
    proto, _ = tf2onnx.convert.from_keras(model, input_signature=signature, opset=opset, optimizers=optimizers,
                                          inputs_as_nchw=inputs_as_nchw)
    return proto


@builder("tf2onnx_resnet50")
def resnet50() -> onnx.ModelProto:
    """Keras ``ResNet50(weights=None)``, NHWC input [32,224,224,3] named ``input_1``, tf2onnx opset 13.

    The RTX 3090 engines in ../shared/data/trt-artifacts/trex/examples/tensorflow/resnet/ were built
    from this architecture at batch 32 (their first layer reads ``input_1`` [32,224,224,3]).
    """
    tf.random.set_seed(0)
    inp = tf.keras.Input(shape=(224, 224, 3), batch_size=32, name="input_1")
    net = tf.keras.applications.ResNet50(weights=None, input_tensor=inp)
    return convert(net, [tf.TensorSpec((32, 224, 224, 3), tf.float32, name="input_1")], 13)


@builder("tf2onnx_resnet50_nchw")
def resnet50_nchw() -> onnx.ModelProto:
    """The same Keras ResNet-50 converted with ``inputs_as_nchw=["input_1"]`` (the CLI's --inputs-as-nchw):
    the input becomes [32,3,224,224] and tf2onnx leaves no Transpose before the first convolution."""
    tf.random.set_seed(0)
    inp = tf.keras.Input(shape=(224, 224, 3), batch_size=32, name="input_1")
    net = tf.keras.applications.ResNet50(weights=None, input_tensor=inp)
    return convert(net, [tf.TensorSpec((32, 224, 224, 3), tf.float32, name="input_1")], 13,
                   inputs_as_nchw=["input_1"])


@builder("tf2onnx_resnet50v2")
def resnet50v2() -> onnx.ModelProto:
    """Keras ``ResNet50V2(weights=None)`` on an NHWC [1,64,64,3] input named ``input``, tf2onnx opset 17: 16
    pre-activation bottlenecks (3-4-6-3) and the final BatchNorm + ReLU. tf2onnx writes each BatchNorm that is
    not folded into a convolution as a per-channel Mul (the shift, zero in a fresh model, is optimized away)
    followed by the ReLU."""
    tf.random.set_seed(0)
    net = tf.keras.applications.ResNet50V2(weights=None, input_shape=(64, 64, 3))
    return convert(net, [tf.TensorSpec((1, 64, 64, 3), tf.float32, name="input")], 17)


def _transformer_block(keep_einsum: bool) -> onnx.ModelProto:
    """A Keras encoder block: ``MultiHeadAttention(num_heads=4, key_dim=64)`` (Keras computes the
    projections and both attention products with ``tf.einsum``, which tf2onnx writes as ``Einsum``),
    residual + ``LayerNormalization``, Dense(1024,
    tanh-approximate gelu: Keras 3's exact gelu uses Erfc, which tf2onnx 1.17 cannot convert)
    -> Dense(256), residual + LayerNormalization.
    Input [1,128,256], tf2onnx opset 17. tf2onnx 1.17's default optimizers rewrite each ``Einsum``
    as Transpose/Reshape/MatMul; with ``keep_einsum`` that one optimizer is left out (as tf2onnx
    before its Einsum optimizer, and as users who pass their own optimizer list, write it).
    """
    tf.random.set_seed(0)
    x = tf.keras.Input(shape=(128, 256), batch_size=1, name="x")
    attn = tf.keras.layers.MultiHeadAttention(num_heads=4, key_dim=64, name="mha")(x, x)
    h = tf.keras.layers.LayerNormalization(epsilon=1e-6, name="ln1")(x + attn)
    f = tf.keras.layers.Dense(1024, activation=lambda t: tf.keras.activations.gelu(t, approximate=True), name="ffn1")(h)
    f = tf.keras.layers.Dense(256, name="ffn2")(f)
    y = tf.keras.layers.LayerNormalization(epsilon=1e-6, name="ln2")(h + f)
    model = tf.keras.Model(x, y, name="encoder_block")
    return convert(model, [tf.TensorSpec((1, 128, 256), tf.float32, name="x")], 17, keep_einsum)


@builder("tf2onnx_transformer_block")
def transformer_block() -> onnx.ModelProto:
    return _transformer_block(keep_einsum=False)


@builder("tf2onnx_transformer_block_einsum")
def transformer_block_einsum() -> onnx.ModelProto:
    return _transformer_block(keep_einsum=True)


@builder("tf2onnx_bilstm_text")
def bilstm_text() -> onnx.ModelProto:
    """A Keras text classifier: Embedding(1000, 64) on [1,32] INT32 token ids, Bidirectional(LSTM(64,
    return_sequences=True)), Bidirectional(LSTM(32)), Dense(5, softmax); tf2onnx opset 17. Keras 3's
    LSTM converts to four ``Loop`` nodes (one per direction and layer), each handed its kernel, recurrent
    kernel and bias as loop-carried state that the body returns unchanged."""
    tf.random.set_seed(0)
    inp = tf.keras.Input(shape=(32,), batch_size=1, dtype="int32", name="tokens")
    x = tf.keras.layers.Embedding(1000, 64)(inp)
    x = tf.keras.layers.Bidirectional(tf.keras.layers.LSTM(64, return_sequences=True))(x)
    x = tf.keras.layers.Bidirectional(tf.keras.layers.LSTM(32))(x)
    out = tf.keras.layers.Dense(5, activation="softmax")(x)
    return convert(tf.keras.Model(inp, out), [tf.TensorSpec((1, 32), tf.int32, name="tokens")], 17)


def save_structure_only(model: onnx.ModelProto, name: str) -> Path:
    path = HERE / f"{name}.onnx"
    data = f"{name}.onnx.data"
    onnx.save_model(model, str(path), save_as_external_data=True, all_tensors_to_one_file=True,
                    location=data, size_threshold=1024, convert_attribute=True)
    (HERE / data).unlink(missing_ok=True)
    return path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--only", nargs="*", default=None)
    a = ap.parse_args(argv)
    for name in a.only or list(BUILDERS):
        path = save_structure_only(BUILDERS[name](), name)
        print(f"{path.name}  {os.path.getsize(path) / 1024:.0f} KiB", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
