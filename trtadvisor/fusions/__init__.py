"""The fusion passes, in the order TensorRT's builder runs them."""

from __future__ import annotations

from collections.abc import Callable

from trtadvisor.plan import PlanContext
from trtadvisor.rulebook import RuleBook
from trtadvisor.target import Target

Pass = Callable[[PlanContext], None]


def pipeline(target: Target, book: RuleBook) -> list[Pass]:
    from trtadvisor.fusions.attention import fuse_normalizations, tag_attention
    from trtadvisor.fusions.conv import (
        fuse_activation_pairs,
        fuse_conv_epilogues,
        fuse_conv_pool,
        fuse_pad_into_conv,
        note_depthwise_separable,
    )
    from trtadvisor.fusions.eliminate import eliminate
    from trtadvisor.fusions.myelin import fold_flatten_into_gemm, form_myelin_regions
    from trtadvisor.fusions.pointwise import fuse_conv_generic_activation, fuse_pointwise
    from trtadvisor.fusions.qdq import fuse_qdq, fuse_qdq_epilogues
    from trtadvisor.fusions.reduction import fuse_gelu, fuse_reductions, reduce_to_pooling
    from trtadvisor.fusions.scale import erase_identity_scales, fold_scales_into_convs
    from trtadvisor.fusions.shuffle import fuse_shuffle_reduce, fuse_shuffles
    from trtadvisor.fusions.softmax import fuse_softmax

    return [
        eliminate,
        erase_identity_scales,
        fuse_qdq,
        fold_flatten_into_gemm,
        fuse_shuffles,
        fuse_shuffle_reduce,
        fold_scales_into_convs,
        fuse_pad_into_conv,
        fuse_gelu,
        fuse_conv_epilogues,
        fuse_activation_pairs,
        fuse_reductions,
        reduce_to_pooling,
        # Myelin takes what the convolution and pooling fusions left: TensorRT 10 keeps conv + ReLU
        # and pooling as Cask layers beside its Myelin regions (trt10.16.1 exportLayerInfo).
        form_myelin_regions,
        tag_attention,
        fuse_normalizations,
        fuse_softmax,
        fuse_pointwise,
        fuse_conv_generic_activation,
        fuse_conv_pool,
        note_depthwise_separable,
        # Output Q into producers, residual DQ into Conv + Add, quantized pooling: after the epilogues.
        fuse_qdq_epilogues,
    ]
