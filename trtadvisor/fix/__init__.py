"""``trtadvisor fix``: semantics-preserving rewrites that let TensorRT build a model better.

Each rewrite lives in its own module and names the finding codes it resolves; the stage
(:mod:`trtadvisor.fix.stage`) applies them in order, proves the result (full ONNX check, and the same
outputs in onnxruntime where it is installed) and only then writes it. The input is never modified.
"""
