"""Every operation of /api/openapi.json under schemathesis, as an ordinary user and as staff.

Requests go to the in-process WSGI app, nowhere else. Each answer must not be a server
error, must have a documented status code and content type, and its body must match
the documented schema of that status (the 4xx bodies included: ``{"message": …}``).
Path parameters are often replaced by ids of the world's real rows, so that generated
requests reach objects, not only 404s. A stateful run follows the links schemathesis
infers between operations (a submitted job's id into its detail, cancel and retry, …).
"""

import contextlib
import os

import pytest
import schemathesis
from django.core.cache import cache
from django.db import transaction
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from apps.jobs.models import Job
from apps.notifications.models import Notification, WebhookDelivery, WebhookEndpoint
from apps.reports.models import ReportRun
from config.wsgi import application
from tests.hardening.conftest import Persona

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("wsgi_requests_keep_the_test_transaction")]

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]

# Small on purpose: about 40 operations x 2 personas, and the whole hardening suite must
# stay within a few minutes of CI on 2 CPUs.
EXAMPLES = 10
# The same examples on every run (CI must not fail one day in ten); HARDENING_EXPLORE=1
# draws new ones, ten times as many, to look further. No example database in the work tree.
EXPLORE = os.environ.get("HARDENING_EXPLORE") == "1"
COMMON = {
    "deadline": None,
    "database": None,
    "derandomize": not EXPLORE,
    "suppress_health_check": list(HealthCheck),
}
FUZZ = settings(max_examples=EXAMPLES * (10 if EXPLORE else 1), **COMMON)
WORKFLOWS = settings(max_examples=15 * (10 if EXPLORE else 1), stateful_step_count=6, **COMMON)

schema = schemathesis.openapi.from_wsgi("/api/openapi.json", application)


# Filled by the ``real_ids`` fixture before any case is generated: path parameter name ->
# values naming rows of the world (alice's, bob's and staff-visible ones).
REAL_IDS: dict[str, list] = {}


@schema.hook
def flatmap_path_parameters(context, path_parameters):
    """Often, each known parameter names a real row instead of a generated value."""
    known = {name: REAL_IDS[name] for name in path_parameters or {} if REAL_IDS.get(name)}
    if not known:
        return st.just(path_parameters)
    return st.fixed_dictionaries(
        {
            name: st.one_of(st.sampled_from(known[name]), st.just(value)) if name in known else st.just(value)
            for name, value in path_parameters.items()
        }
    )


@pytest.fixture
def real_ids(world):
    REAL_IDS.update(
        order_id=[world.order.pk, 2, 3],
        customer_id=[world.customer.pk, 2],
        job_id=[str(uuid) for uuid in Job.objects.values_list("uuid", flat=True)],
        run_id=[str(uuid) for uuid in ReportRun.objects.values_list("uuid", flat=True)],
        notification_id=list(Notification.objects.values_list("pk", flat=True)),
        endpoint_id=[str(uuid) for uuid in WebhookEndpoint.objects.values_list("uuid", flat=True)],
        delivery_id=[str(uuid) for uuid in WebhookDelivery.objects.values_list("uuid", flat=True)],
        query_id=[world.slow_query.pk],
    )
    yield REAL_IDS
    REAL_IDS.clear()


def validate(case, response, **kwargs) -> None:
    case.validate_response(response, checks=CHECKS, **kwargs)


@contextlib.contextmanager
def fresh_state():
    """A savepoint rolled back at its end, and an empty cache: whatever one generated request
    changed (rows, rate-limit counters, cached pages), the next one, and a replay of the same
    one while hypothesis shrinks a failure, meets the world as it was built."""
    cache.clear()
    with transaction.atomic():
        yield
        transaction.set_rollback(True)


def call_as(case, persona: Persona) -> None:
    with fresh_state():
        response = case.call(headers=persona.bearer)
    validate(case, response)


@schema.parametrize()
@FUZZ
def test_api_as_user_answers_as_documented(case, world, real_ids, published):
    call_as(case, world.alice)


@schema.parametrize()
@FUZZ
def test_api_as_staff_answers_as_documented(case, world, real_ids, published):
    call_as(case, world.ops)


class Workflow(schema.as_state_machine()):
    """Chains of linked calls (create, then read, act on and list what was created)."""

    persona: Persona

    def setup(self):
        # Each scenario starts from the world as built (see fresh_state); its steps see
        # each other's writes.
        self.scenario = fresh_state()
        self.scenario.__enter__()

    def teardown(self):
        self.scenario.__exit__(None, None, None)

    def get_call_kwargs(self, case):
        return {"headers": self.persona.bearer}

    def validate_response(self, response, case, additional_checks=None, **kwargs):
        validate(case, response)


@pytest.mark.parametrize("name", ["alice", "ops"])
def test_api_workflows_answer_as_documented(name, world, real_ids, published):
    Workflow.persona = world.persona(name)
    Workflow.run(settings=WORKFLOWS)
