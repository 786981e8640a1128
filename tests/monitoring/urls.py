"""Test-only URLconf: the whole site plus deliberately bad views (an N+1, a slow query)."""

from django.db import connection
from django.http import JsonResponse
from django.urls import path

from apps.jobs.models import Job
from config.urls import urlpatterns as site

REPEATS = 12


def nplus1(request, page: int):
    """One query per item: the classic N+1."""
    found = 0
    for number in range(REPEATS):
        found += Job.objects.filter(pk=number).count()  # N+1 LINE
    return JsonResponse({"found": found})


def slow(request):
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_sleep(%s)", [0.15])
    return JsonResponse({"slept": 0.15})


def sql_seen(request):
    """Returns the SQL text as the driver got it (after the monitoring comment was added)."""
    seen = []

    def spy(execute, sql, params, many, context):
        seen.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(spy):
        Job.objects.filter(kind="nothing").exists()
    return JsonResponse({"sql": seen})


urlpatterns = [
    path("test/nplus1/<int:page>/", nplus1),
    path("test/slow/", slow),
    path("test/sql-seen/", sql_seen),
    *site,
]
