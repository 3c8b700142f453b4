"""Every route Swagger lists (deprecated aliases aside) is named in the README, so a user reading
it meets every route the API has."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"
METHODS = ("get", "post", "put", "patch", "delete")


def test_every_route_of_the_openapi_schema_is_in_the_readme():
    from api.app import create_app

    schema = create_app().openapi_schema.to_schema()
    readme = README.read_text()
    missing = []
    for path, item in schema["paths"].items():
        operations = [item[m] for m in METHODS if m in item]
        if all(operation.get("deprecated") for operation in operations):
            continue
        # `{dataset_id}` in the schema may read `{id}` in the README's prose.
        pattern = re.sub(r"\\\{[^}]+\\\}", r"\\{[a-z_]+\\}", re.escape(path.rstrip("/")))
        if not re.search(pattern + r"(?![A-Za-z_])", readme):
            missing.append(path)
    assert missing == []
