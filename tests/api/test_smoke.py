"""Reference scenario 1 (``docs/protocol.rst``) through HTTP, on each database."""

import math


def test_scenario_one(app):
    ann = app.post_json("/example/users", {"reputation": 10, "tokens": 10}).json
    bonnie = app.post_json("/example/users", {"reputation": 100, "tokens": 99}).json
    article = app.post_json(
        "/example/contributions", {"contributor_id": ann["id"], "type": "article"}
    ).json
    app.post_json(
        "/example/evaluations",
        {"evaluator_id": bonnie["id"], "contribution_id": article["id"], "value": 1},
        status=201,
    )
    bonnie = app.get(f"/example/users/{bonnie['id']}").json
    ann = app.get(f"/example/users/{ann['id']}").json
    assert math.isclose(bonnie["reputation"], 99.90692517849118, rel_tol=1e-12)
    assert math.isclose(ann["tokens"], 54.45454545454545, rel_tol=1e-12)
    assert math.isclose(ann["reputation"], 14.545454545454545, rel_tol=1e-12)
