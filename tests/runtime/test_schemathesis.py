"""A third-party fuzzer against the server's own OpenAPI schema: every operation, the binary
``/v1/infer`` body included, must answer without a 5xx and as the schema documents (status codes,
content types, response bodies). Slow: a few hundred generated requests,
schema-valid ones and (negative mode) schema-violating ones."""

from __future__ import annotations

import itertools

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from semcom.runtime.server import create_app

pytestmark = pytest.mark.slow


def test_the_server_honours_its_schema(run_dir) -> None:
    from hypothesis import given
    from schemathesis import GenerationMode
    from schemathesis.specs.openapi.checks import positive_data_acceptance

    schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(run_dir))
    operations = [result.ok() for result in schema.get_all_operations()]
    assert any(op.path == "/v1/infer" for op in operations)
    calls: dict[str, int] = {}
    for operation, mode in itertools.product(operations, GenerationMode):
        if mode is GenerationMode.NEGATIVE and operation.method.upper() == "GET":
            continue  # nothing in a parameterless GET can violate its schema

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
        def check(case) -> None:
            # Any bytes are schema-valid for the binary body, but only a well-formed payload is
            # accepted: "valid data must be accepted" cannot hold for it. Every other check does.
            case.call_and_validate(excluded_checks=[positive_data_acceptance])
            calls[case.path] = calls.get(case.path, 0) + 1

        check()
    assert calls["/v1/infer"] >= 200  # the fuzzer really exercised the binary body
