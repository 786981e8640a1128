"""Events the jobs app publishes; apps above it listen (DESIGN.md: never import upward).

job_started(sender=Job, job=Job)
job_finished(sender=Job, job=Job, status=<final status>) — succeeded, dead or cancelled.
"""

from django.dispatch import Signal

job_started = Signal()
job_finished = Signal()
