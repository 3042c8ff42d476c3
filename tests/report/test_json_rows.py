"""render_json writes each layer's row without building its dict (report/json_report._layer_rows): the text must be
the very bytes the general encoder writes for report_dict, with a cost model, alternatives and odd values."""

from __future__ import annotations

from dataclasses import replace

import pytest

from trtadvisor.api import audit
from trtadvisor.report.escape import json_document
from trtadvisor.report.json_report import dumps_readable, render_json, report_dict

from conftest import sample_path, samples_where

EFFICIENTNET = samples_where(name="efficientnet_b0", exporter="dynamo")[0]  # alternatives at every target


def _general(result) -> str:
    return json_document(dumps_readable(report_dict(result)))


@pytest.mark.parametrize("target", [{}, {"trt": "10.16", "sm": "90", "precision": "fp16"}, {"trt": "8.6", "sm": "86"}])
def test_layer_rows_are_the_general_encoding(target: dict) -> None:
    result = audit(sample_path(EFFICIENTNET), **target)
    assert any(layer.alternatives for layer in result.prediction.layers)  # the sample exercises them
    assert render_json(result) == _general(result)


def test_layer_rows_without_a_cost_model_and_with_odd_values() -> None:
    result = audit(sample_path(EFFICIENTNET))
    layers = result.prediction.layers
    odd = [layers[0]._replace(name='a "quoted"\n\u00e9 name', precision=None, evidence=("x\\y",)),
           layers[1]._replace(name=None), *layers[2:]]  # a name that is not a string takes the general path
    for changed in (replace(result, cost=None), replace(result, prediction=replace(result.prediction, layers=odd),
                                                         cost=replace(result.cost, layers=result.cost.layers))):
        assert render_json(changed) == _general(changed)
    only_first = replace(result, prediction=replace(result.prediction, layers=odd[:1]), cost=None)
    assert render_json(only_first) == _general(only_first)


def test_layer_rows_with_shared_and_equal_cost_objects() -> None:
    """Layers priced alike share one cost object; another object of equal fields but a different ms sign must
    keep its own text (encoding is per object, not per value)."""
    result = audit(sample_path(EFFICIENTNET))
    costs = [c for c in result.cost.layers if c is not None]
    assert len(costs) >= 3
    shared = costs[0]
    negative_zero, positive_zero = shared._replace(ms=-0.0), shared._replace(ms=0.0)
    layers = [shared, None, shared, negative_zero, positive_zero, *result.cost.layers[5:]]
    changed = replace(result, cost=replace(result.cost, layers=layers))
    text = render_json(changed)
    assert text == _general(changed)
    assert '"ms": -0.0' in text and '"ms": 0.0' in text
