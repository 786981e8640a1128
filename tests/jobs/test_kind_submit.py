"""A job kind with a submit service of its own (reports.generate): the jobs app hands it
every submit, and shows users the request that service takes as the kind's parameters."""

import pytest
from pydantic import BaseModel

from apps.jobs.registry import job, kind_get
from tests.jobs.conftest import JOBS_URL


class Request(BaseModel):
    what: str


def test_a_submit_service_and_its_request_model_come_together():
    with pytest.raises(ValueError, match="a submit service and its submit_params come together"):
        job("tests.submit_without_params", submit=lambda **options: (None, False))
    with pytest.raises(ValueError, match="a submit service and its submit_params come together"):
        job("tests.params_without_submit", submit_params=Request)


def test_the_job_carries_its_own_params_and_users_submit_the_request():
    generate = kind_get("reports.generate")

    assert set(generate.job_params_for(staff=False).model_fields) == {"run_id"}
    assert set(generate.params_for(staff=False).model_fields) == {"report", "params", "format"}
    assert generate.params_for(staff=True) is generate.params_for(staff=False)


@pytest.mark.django_db
@pytest.mark.parametrize("persona", ["alice_client", "ops_client"])
def test_the_kinds_list_shows_the_request_a_submit_service_takes(request, persona):
    client = request.getfixturevalue(persona)
    kinds = {kind["name"]: kind for kind in client.get(f"{JOBS_URL}/kinds").json()}

    schema = kinds["reports.generate"]["params_schema"]
    assert set(schema["properties"]) == {"report", "params", "format"}
    assert schema["required"] == ["report"]
