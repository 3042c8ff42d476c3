"""The schema of every rule file: which tables ``rules/NAME.toml`` holds and what keys each table has.

To add a table, add its spec to the file's entry below (see ``knowledge/schema.py`` for the spec language);
to add a rule file, add an entry ``"NAME.toml": Table(...)``. A file without an entry is refused on load.
Finding codes live in ``rule = MapOf(RULE, key=CODE)`` tables; every code must have all ``RULE`` keys.
"""

from __future__ import annotations

from trtadvisor.knowledge.schema import ListOf, MapOf, OneOf, Opt, Spec, Table

SEVERITIES = ("error", "warning", "info")
CODE = r"TRT\d{3}"
VERSION = str  # "10.16": compared with Target.trt_at_least

# A code's examples as ONNX text (onnx.parser; inputs named const_* become initializers), with the target each
# is audited for (trt, sm, precision; default 8.6, SM 86, fp16; strongly_typed = "true" for --strongly-typed):
# tests/core/test_rule_examples.py proves the bad one raises the code and the good one does not.
TARGET = MapOf(str, key="trt|sm|precision|strongly_typed")
EXAMPLES = {"bad_onnx": Opt(str, ""), "bad_target": Opt(TARGET, {}), "good_onnx": Opt(str, ""),
            "good_target": Opt(TARGET, {})}

# [rule.CODE]: everything `trtadvisor rules` and `trtadvisor explain` print about one finding code.
RULE_DOC = {"name": str, "severity": OneOf(*SEVERITIES), "summary": str, "rationale": str, "fix": str, "bad": str,
            "good": str, "source": str}
# priced: the fix removes the finding's layer (or, for a finding over several, every layer but its first
# node's), so the report gives their predicted time.
RULE = Table({**RULE_DOC, **EXAMPLES, "priced": Opt(bool, False)})

# [meta]: where a whole file's facts come from.
META = Table(source=str, also=Opt(ListOf(str), []))

# [rule.CODE] of rules/engine.toml: checks over a built engine's artifacts, with their texts (see that file).
ENGINE_RULE = RULE.extend(id=str, fixture=str, message=str, advice=str, evidence=Opt(str, ""),
                          variants=Opt(MapOf(str), {}))

# conditions.ID = "text": the checks a fusion's matcher applies, each named so a near miss can say which failed.
CONDITION_ID = r"[a-z][a-z0-9_]*"
FUSION = Table(
    code=str, severity=OneOf(*SEVERITIES), name=str, summary=str, conditions=MapOf(str, key=CONDITION_ID), fix=str,
    bad=str,
    good=str, source=str,
    min_sm=Opt(int, None), precisions=Opt(ListOf(str), []), ops=Opt(ListOf(str), []), prefer_input=Opt(int, 0),
    tolerance=Opt(float, 1e-3), max_ops=Opt(int, 32), max_ops_source=Opt(str, ""), **EXAMPLES,
    # fixes.ID = "text": the fix for one condition, where the fusion's own fix speaks to another one.
    fixes=Opt(MapOf(str, key=CONDITION_ID), {}),
    evidence=Opt(OneOf("documented", "inferred"), "documented"),
)

# A check's failing condition in a rule's data: its message and fix, str.format templates of the facts it found.
CONDITION_TEXT = Table(message=str, fix=str)

MHA_COLUMN = Table(
    table=str, precision=str, sm=ListOf(ListOf(int)), head_min=int, head_max=int, head_multiple=int,
    head_sizes=ListOf(int), seq_max=int, fp8_seq_rule=bool, fp8_min_seq=int, qdq_required=bool,
    masks=ListOf(OneOf("none", "scalar", "1d", "2d")), accumulation_bmm1=str, accumulation_bmm2=str, source=str,
)

# rules/gpu_perf.toml: datasheet figures per GPU (TFLOPS/TOPS dense, GB/s) and the cost model's efficiencies.
PEAK = Opt(float, None)  # absent: no tensor-core path for that type on that GPU
GPU_PERF = Table(source=str, bandwidth_gbs=float, fp32_cuda=float, tf32_tc=PEAK, fp16_tc=PEAK, bf16_tc=PEAK,
                 int8_tc=PEAK, fp8_tc=PEAK,
                 pcie=Opt(Table(bandwidth_gbs=PEAK, fp32_cuda=PEAK, tf32_tc=PEAK, fp16_tc=PEAK, bf16_tc=PEAK,
                                int8_tc=PEAK, fp8_tc=PEAK), None))
TENSOR_CORE_RULE = Table(channels=int, below=OneOf("pad", "cuda_cores"))

# rules/observed_engines.toml: real engines whose ONNX is rebuilt node for node (plan/calibrate.py reads them).
ENGINE_LAYER = Table(kind=str, type=str, ops=ListOf(str), nodes=ListOf(str), fusions=Opt(ListOf(str), []))
ENGINE = Table(artifact=str, model=str, trt=VERSION, sm=int, gpu=str, precision=str,
               shapes=OneOf("static", "dynamic"), opt_level=int, build=str, showed=str, layers=ListOf(ENGINE_LAYER))

OP_CLASS = Table(ops=ListOf(str), kind=str, pointwise=bool, source=str)

# rules/trt.toml [trtexec.flags]: one trtexec option's history; value names a [trtexec.values] grammar
# ("" = no value) and value_from switches grammar from a version on.
TRTEXEC_FLAG = Table(value=str, since=Opt(VERSION, None), removed_in=Opt(VERSION, None),
                     deprecated_in=Opt(VERSION, None), value_from=Opt(MapOf(str, key=r"\d+\.\d+"), {}))
PLATFORM = Table(jetpack=bool, dla=bool, note=str)
# rules/trt.toml [onnx_opsets.by_version]: one version's documented opset range; an absent bound is unknown.
OPSET_RANGE = Table(min=Opt(int, None), max=Opt(int, None), source=str)

FILES: dict[str, Spec] = {
    "ops.toml": Table(
        meta=META,
        # "activation" and "other" must exist: the activation set and the class of unlisted ops.
        **{"class": MapOf(OP_CLASS, key=r"[a-z]+")},
        shape_inputs=Table(source=str, inputs=MapOf(ListOf(int))),
        no_importer=Table(source=str, ops=ListOf(str), since=MapOf(VERSION),
                          remedy=MapOf(Table(ops=ListOf(str), fix=str, source=str), key=r"[a-z_]+")),
        group=MapOf(Table(ops=ListOf(str), source=str), key=r"[a-z_]+"),
    ),
    "gpu_perf.toml": Table(
        meta=META,
        sm_default=Table(source=str, gpus=MapOf(str, key=r"\d+")),
        gpu=MapOf(GPU_PERF),
        tensor_cores=Table(source=str, tf32=TENSOR_CORE_RULE, fp16=TENSOR_CORE_RULE, bf16=TENSOR_CORE_RULE,
                           int8=TENSOR_CORE_RULE, fp8=TENSOR_CORE_RULE),
        efficiency=Table(source=str, overhead_ms=float, cuda_core=float,
                         kind=MapOf(Table(compute=float, memory=float))),
        work=Table(source=str, pool_ops=ListOf(str), per_input_prefixes=ListOf(str),
                   recurrent_ops=ListOf(str), flops_per_element=MapOf(int)),
        calibration=Table(source=str, fitted_on=ListOf(str)),
    ),
    "observed_engines.toml": Table(meta=META, calibration=Table(documented_markers=ListOf(str), max_run=int),
                          engine=MapOf(ENGINE)),
    "gpus.toml": Table(
        meta=META, gpus=MapOf(int),
        compute_capabilities=Table(
            source=str, known=ListOf(int), jetson=ListOf(int),
            since=MapOf(Table(trt=VERSION, source=str), key=r"\d+"),
            unconfirmed=Table(trt=VERSION, below=int, note=str, source=str)),
    ),
    "trt.toml": Table(
        meta=META,
        versions=Table(source=str, known=ListOf(VERSION), default=VERSION),
        target=Table(default_gpu=str, default_sm=int, default_precision=str),
        typing=Table(source=str, strong_only_since=VERSION, strongly_typed_flag_since=VERSION,
                     calibration_removed_in=VERSION, overflow_prone_ops=ListOf(str), autocast=str, autocast_source=str,
                     quantize=str, quantize_source=str),
        precision_flags=Table(source=str, removed_in=VERSION, fp16=str, bf16=str, int8=str, fp8=str, tf32_off=str,
                              best=str, strongly_typed=str, calib=str, bf16_since=VERSION, fp8_since=VERSION,
                              strongly_typed_since=VERSION),
        cuda_graph=Table(source=str, default_on_since=VERSION, flag=str, off_flag=str, blockers=ListOf(str),
                         blockers_source=str),
        stable_measurement=Table(source=str, flags=ListOf(str), default_since=VERSION),
        profiling=Table(source=str, flags=ListOf(str)),
        aux_streams=Table(source=str, since=VERSION, flag=str),
        precision_support=Table(source=str, min_sm=MapOf(int), tf32_min_sm=int,
                                weak_layer_precision=MapOf(ListOf(str))),
        batching=Table(source=str, max_batch=int, matrix_multiple=int, matrix_multiple_precisions=ListOf(str)),
        platforms=Table(source=str, unconfirmed=ListOf(VERSION), unconfirmed_note=str,
                        by_version=MapOf(PLATFORM, key=r"\d+\.\d+")),
        onnx_opsets=Table(source=str, converter=str, converter_source=str,
                          by_version=MapOf(OPSET_RANGE, key=r"\d+\.\d+")),
        trtexec=Table(source=str, values_source=str, unknown_option_fails_since=VERSION, values=MapOf(str),
                      flags=MapOf(TRTEXEC_FLAG, key=r"--[A-Za-z][A-Za-z0-9]*")),
    ),
    "typing.toml": Table(meta=META, rule=MapOf(RULE, key=CODE)),
    "fusions.toml": Table(
        fusion=MapOf(FUSION),
        platform=Table(gemm_as_conv_before=VERSION, gemm_as_conv_source=str, myelin_gemm_since=VERSION,
                       myelin_gemm_source=str, myelin_attention_since=VERSION, myelin_attention_source=str,
                       myelin_ops=ListOf(str), io_reformat_precisions=ListOf(str), io_reformat_source=str,
                       io_layer_precision=MapOf(str), io_layer_precision_source=str,
                       myelin_not_absorbed_kinds=ListOf(str), myelin_not_absorbed_source=str,
                       host_shape_ops=ListOf(str), host_shape_source=str,
                       conv_epilogue_ops=ListOf(str), conv_epilogue_source=str,
                       conv_act_chain_ops=ListOf(str), conv_act_chain_when=str, conv_act_chain_source=str,
                       conv_like_ops=ListOf(str), conv_like_source=str,
                       gemm_folded_shuffles=ListOf(str), gemm_folded_shuffles_source=str,
                       never_folded_ops=ListOf(str), never_folded_source=str,
                       concat_strided_writer_kinds=ListOf(str), concat_copied_kinds=ListOf(str),
                       concat_unstrided_reader_kinds=ListOf(str), concat_nested_source=str,
                       concat_shared_input_source=str,
                       concat_removal_source=str, conv_multi_input_pointwise_seen_since=VERSION,
                       conv_multi_input_pointwise_when=str, conv_multi_input_pointwise_source=str,
                       conv_horizontal_merge_seen_since=VERSION, conv_horizontal_merge_seen_before=VERSION,
                       conv_horizontal_merge_when=str, conv_horizontal_merge_source=str,
                       noop_shuffle_ops=ListOf(str), noop_shuffle_source=str),
    ),
    "advice.toml": Table(rule=MapOf(RULE, key=CODE)),
    "engine.toml": Table(
        thresholds=Table(source=str, enqueue_bound_ratio=float, transfer_bound_share=float,
                         unstable_p99_ratio=float, myelin_dominant_percent=float, largest_layer_percent=float),
        tactics=Table(source=str, tensor_core=str, xmma=str, scalar_fma=str, channel_multiple=MapOf(int),
                      channel_multiple_source=str),
        myelin=Table(source=str, layer_types=ListOf(str), nsys=str),
        rule=MapOf(ENGINE_RULE, key=CODE),
    ),
    "ci.toml": Table(rule=MapOf(RULE, key=CODE)),
    "attention.toml": Table(
        meta=META,
        mha=Table(source=str, gqa_requires_divisible_heads=bool, mqa_supported=bool, gqa_source=str,
                  column=ListOf(MHA_COLUMN)),
        mask=Table(blocked_below=float, source=str),
        verdict=Table(source=str, reduced_precision_fix_strong=str, reduced_precision_fix_weak=str,
                      conditions=MapOf(CONDITION_TEXT, key=CONDITION_ID)),
        versions=Table(iattention_since=VERSION, iattention_source=str, iattention_strict_source=str,
                       decomposed_fusion_since=VERSION, decomposed_fusion_source=str),
        # a finding that one check raises names its failing condition (conditions.ID = message)
        rule=MapOf(RULE.extend(conditions=Opt(MapOf(str, key=CONDITION_ID), {})), key=CODE),
    ),
    "qdq.toml": Table(
        qdq=Table(
            source=str, types_since=MapOf(VERSION), block_types=ListOf(str), weight_axis=MapOf(int),
            weight_axis_source=str, channel_multiple=MapOf(int), channel_multiple_source=str,
            int8_attention_head_sizes=ListOf(int), int8_attention_max_seq=int, fp8_attention_head_min=int,
            fp8_attention_head_max=int, fp8_attention_head_multiple=int, fp8_attention_min_seq=int,
            attention_source=str, pool_ops=ListOf(str), scale_activation_ops=ListOf(str),
            weighted_ops=ListOf(str), weighted_ops_source=str, window_pool_ops=ListOf(str),
            window_pool_source=str, folded_shuffle_ops=ListOf(str), folded_shuffle_source=str,
            eltwise_ops=ListOf(str), eltwise_source=str,
        ),
        fusion_evidence=Table(weight_qdq=str, input_dq=str, output_q=str, standalone_q=str, duplicate_q=str,
                              residual=str, scale_activation_names=str, generic_activation=str,
                              quantized_pooling=str, gemm_flatten=str),
        # every Q/DQ check names its failing condition: conditions.ID = message (knowledge/conditions.py)
        rule=MapOf(RULE.extend(conditions=MapOf(str, key=CONDITION_ID)), key=CODE),
    ),
}
