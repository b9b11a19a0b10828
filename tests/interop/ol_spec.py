"""Checking OpenLineage events against the spec, offline.

``openlineage-python`` 1.54 ships no JSON schema (its classes are generated from it, the files
are not in the wheel), so the RunEvent of spec 2-0-2
(https://openlineage.io/spec/2-0-2/OpenLineage.json) is restated here, reduced to what it
requires, with the required fields of each standard facet lineal writes. lineal's own facets are
checked against the schemas it publishes in ``docs/openlineage/``, with the spec's base facet
definitions they reference provided locally.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
from referencing import Registry, Resource

from lineal.lineage.export_openlineage import FACET_SCHEMA_BASE, LINEAL_FACETS

DOCS = Path(__file__).resolve().parents[2] / "docs" / "openlineage"
_BASE = {"type": "object", "required": ["_producer", "_schemaURL"],
         "properties": {"_producer": {"type": "string", "format": "uri"},
                        "_schemaURL": {"type": "string", "format": "uri"}}}
_STRING = {"type": "string"}


def _facet(required: dict[str, Any]) -> dict[str, Any]:
    return {"allOf": [_BASE, {"type": "object", "required": list(required),
                              "properties": required}]}


# Standard facets lineal writes, with the fields their schemas require.
STANDARD = {
    "nominalTime": _facet({"nominalStartTime": {"type": "string", "format": "date-time"}}),
    "parent": _facet({
        "run": {"type": "object", "required": ["runId"],
                "properties": {"runId": {"type": "string", "format": "uuid"}}},
        "job": {"type": "object", "required": ["namespace", "name"],
                "properties": {"namespace": _STRING, "name": _STRING}}}),
    "errorMessage": _facet({"message": _STRING, "programmingLanguage": _STRING}),
    "jobType": _facet({"processingType": _STRING, "integration": _STRING}),
    "sourceCodeLocation": _facet({"type": _STRING, "url": {"type": "string", "format": "uri"}}),
    "version": _facet({"datasetVersion": _STRING}),
    "schema": _facet({"fields": {"type": "array", "items": {
        "type": "object", "required": ["name"], "properties": {"name": _STRING}}}}),
}
_FACETS = {"type": "object", "additionalProperties": _BASE}
_DATASET = {"type": "object", "required": ["namespace", "name"],
            "properties": {"namespace": _STRING, "name": _STRING, "facets": _FACETS,
                           "inputFacets": _FACETS, "outputFacets": _FACETS}}
RUN_EVENT = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["eventTime", "producer", "schemaURL", "run", "job"],
    "properties": {
        "eventType": {"enum": ["START", "RUNNING", "COMPLETE", "ABORT", "FAIL", "OTHER"]},
        "eventTime": {"type": "string", "format": "date-time"},
        "producer": {"type": "string", "format": "uri"},
        "schemaURL": {"type": "string", "format": "uri"},
        "run": {"type": "object", "required": ["runId"],
                "properties": {"runId": {"type": "string", "format": "uuid"},
                               "facets": _FACETS}},
        "job": {"type": "object", "required": ["namespace", "name"],
                "properties": {"namespace": _STRING, "name": _STRING, "facets": _FACETS}},
        "inputs": {"type": "array", "items": _DATASET},
        "outputs": {"type": "array", "items": _DATASET},
    },
}
_SPEC = "https://openlineage.io/spec/2-0-2/OpenLineage.json"
_REGISTRY = Registry().with_resource(_SPEC, Resource.from_contents({
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$defs": {name: _BASE for name in ("RunFacet", "JobFacet", "DatasetFacet",
                                       "InputDatasetFacet", "OutputDatasetFacet")},
}))


def lineal_schema(name: str) -> dict[str, Any]:
    return json.loads((DOCS / f"{name}.json").read_text())


def _lineal_validator(schema_url: str) -> jsonschema.Validator:
    assert schema_url.startswith(FACET_SCHEMA_BASE), schema_url
    file, _, pointer = schema_url[len(FACET_SCHEMA_BASE):].partition("#/$defs/")
    assert file == f"{pointer}.json" and pointer in LINEAL_FACETS, schema_url
    doc = lineal_schema(pointer)
    registry = _REGISTRY.with_resource(doc["$id"], Resource.from_contents(doc))
    return jsonschema.Draft202012Validator({"$ref": f"{doc['$id']}#/$defs/{pointer}"},
                                           registry=registry,
                                           format_checker=jsonschema.FormatChecker())


def check_event(event: dict[str, Any]) -> None:
    """Raise if ``event`` breaks the RunEvent schema, a standard facet's required fields, or the
    published schema of a lineal facet."""
    jsonschema.Draft202012Validator(RUN_EVENT, format_checker=jsonschema.FormatChecker()).validate(event)
    facets = [*event["run"].get("facets", {}).items(), *event["job"].get("facets", {}).items()]
    for dataset in [*event.get("inputs", []), *event.get("outputs", [])]:
        for key in ("facets", "inputFacets", "outputFacets"):
            facets.extend(dataset.get(key, {}).items())
    for name, facet in facets:
        if facet["_schemaURL"].startswith(FACET_SCHEMA_BASE):
            _lineal_validator(facet["_schemaURL"]).validate(facet)
        elif name in STANDARD:
            assert facet["_schemaURL"].startswith("https://openlineage.io/spec/facets/")
            jsonschema.Draft202012Validator(
                STANDARD[name], format_checker=jsonschema.FormatChecker()).validate(facet)
