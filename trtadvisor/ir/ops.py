"""How TensorRT's ONNX parser turns each ONNX op into a layer class, the vocabulary the rules speak.

The classes follow TensorRT's own layer types (IConvolutionLayer, IActivationLayer, IElementWiseLayer,
IUnaryLayer, IShuffleLayer, IReduceLayer, ...), since the fusion lists of the reference text are
written in those terms (``tensorrt-best-practices.txt``, "Types of Fusions").
"""

from __future__ import annotations

# ONNX op -> the TensorRT layer class its parser creates.
LAYER_CLASS: dict[str, str] = {
    "Conv": "convolution",
    "ConvTranspose": "deconvolution",
    "Relu": "activation", "LeakyRelu": "activation", "PRelu": "activation", "Sigmoid": "activation",
    "Tanh": "activation", "Elu": "activation", "Selu": "activation", "Softplus": "activation",
    "Softsign": "activation", "HardSigmoid": "activation", "HardSwish": "activation",
    "ThresholdedRelu": "activation", "Clip": "activation", "Gelu": "activation", "Mish": "activation",
    "Celu": "activation",
    "Add": "elementwise", "Sub": "elementwise", "Mul": "elementwise", "Div": "elementwise",
    "Pow": "elementwise", "Max": "elementwise", "Min": "elementwise", "Sum": "elementwise",
    "Mean": "elementwise", "Equal": "elementwise", "Greater": "elementwise", "Less": "elementwise",
    "GreaterOrEqual": "elementwise", "LessOrEqual": "elementwise", "And": "elementwise",
    "Or": "elementwise", "Xor": "elementwise", "Mod": "elementwise", "BitShift": "elementwise",
    "Where": "select",
    "Exp": "unary", "Log": "unary", "Sqrt": "unary", "Reciprocal": "unary", "Abs": "unary",
    "Neg": "unary", "Sin": "unary", "Cos": "unary", "Tan": "unary", "Asin": "unary", "Acos": "unary",
    "Atan": "unary", "Sinh": "unary", "Cosh": "unary", "Asinh": "unary", "Acosh": "unary",
    "Atanh": "unary", "Ceil": "unary", "Floor": "unary", "Erf": "unary", "Not": "unary",
    "Sign": "unary", "Round": "unary", "IsNaN": "unary", "IsInf": "unary",
    "BatchNormalization": "scale",
    "Transpose": "shuffle", "Reshape": "shuffle", "Flatten": "shuffle", "Squeeze": "shuffle",
    "Unsqueeze": "shuffle",
    "ReduceSum": "reduce", "ReduceMean": "reduce", "ReduceMax": "reduce", "ReduceMin": "reduce",
    "ReduceProd": "reduce", "ReduceL1": "reduce", "ReduceL2": "reduce", "ReduceLogSum": "reduce",
    "ReduceLogSumExp": "reduce", "ReduceSumSquare": "reduce",
    "Softmax": "softmax", "LogSoftmax": "softmax",
    "MaxPool": "pooling", "AveragePool": "pooling", "GlobalAveragePool": "pooling",
    "GlobalMaxPool": "pooling", "LpPool": "pooling",
    "Gemm": "gemm", "MatMul": "gemm",
    "Pad": "padding",
    "Slice": "slice", "Split": "slice",
    "Resize": "resize", "Upsample": "resize",
    "Concat": "concat",
    "Gather": "gather", "GatherElements": "gather", "GatherND": "gather", "ScatterND": "gather",
    "ScatterElements": "gather",
    "QuantizeLinear": "qdq", "DequantizeLinear": "qdq",
    "LayerNormalization": "normalization", "InstanceNormalization": "normalization",
    "GroupNormalization": "normalization", "RMSNormalization": "normalization",
    "LRN": "normalization",
    "TopK": "topk", "ArgMax": "topk", "ArgMin": "topk",
    "Cast": "cast", "CastLike": "cast",
    "Identity": "identity", "Dropout": "identity",
    "Constant": "constant", "ConstantOfShape": "constant",
    "Shape": "shape", "Size": "shape", "Range": "shape",
    "Expand": "slice", "Tile": "slice",
    "Attention": "attention",
    "If": "control", "Loop": "control", "Scan": "control",
    "NonZero": "datadependent", "NonMaxSuppression": "datadependent", "Unique": "datadependent",
    "Einsum": "gemm",
    "Trilu": "elementwise", "CumSum": "other",
    "GridSample": "resize", "DepthToSpace": "shuffle", "SpaceToDepth": "shuffle",
}

# Report kinds (JSON contract v1) for a layer whose first node has this layer class.
KIND_OF_CLASS: dict[str, str] = {
    "convolution": "convolution", "deconvolution": "deconvolution", "activation": "pointwise",
    "elementwise": "pointwise", "unary": "pointwise", "select": "pointwise", "scale": "pointwise",
    "shuffle": "shuffle", "reduce": "reduction", "softmax": "softmax", "pooling": "pooling",
    "gemm": "gemm", "padding": "slice", "slice": "slice", "resize": "resize", "concat": "other",
    "gather": "other", "qdq": "qdq", "normalization": "normalization", "topk": "other",
    "cast": "pointwise", "identity": "other", "constant": "other", "shape": "other",
    "attention": "attention", "control": "other", "datadependent": "other", "other": "other",
}

# Layer classes TensorRT's pointwise fusion accepts ("Pointwise Fusion" in the reference text):
# Activation, Constant (single value), ElementWise, Pointwise, Scale (uniform), Unary.
POINTWISE_CLASSES = frozenset({"activation", "elementwise", "unary"})
POINTWISE_OPS = frozenset(op for op, cls in LAYER_CLASS.items() if cls in POINTWISE_CLASSES)

# Comparison ops produce booleans; TensorRT fuses them into pointwise kernels as well (they are
# ElementWise operations), and Where is a Select layer that its pointwise code generator takes.
SHUFFLE_OPS = frozenset({"Transpose", "Reshape", "Flatten", "Squeeze", "Unsqueeze"})

# Inputs that carry shapes or axes rather than data: the nodes computing them run on the host.
SHAPE_INPUTS: dict[str, tuple[int, ...]] = {
    "Reshape": (1,), "Expand": (1,), "Tile": (1,), "Slice": (1, 2, 3, 4), "Squeeze": (1,),
    "Unsqueeze": (1,), "ConstantOfShape": (0,), "Resize": (1, 2, 3), "Upsample": (1,), "Range": (0, 1, 2),
    "Pad": (1, 2, 3), "TopK": (1,), "ReduceSum": (1,), "ReduceMean": (1,), "ReduceMax": (1,),
    "ReduceMin": (1,), "ReduceProd": (1,), "ReduceL1": (1,), "ReduceL2": (1,), "ReduceLogSum": (1,),
    "ReduceLogSumExp": (1,), "ReduceSumSquare": (1,), "Split": (1,), "OneHot": (1,),
    "CumSum": (1,),
}


def layer_class(op: str) -> str:
    return LAYER_CLASS.get(op, "other")


def kind_of(op: str) -> str:
    return KIND_OF_CLASS.get(layer_class(op), "other")


def is_pointwise_class(op: str) -> bool:
    return layer_class(op) in POINTWISE_CLASSES
