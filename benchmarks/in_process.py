"""Django set up in this process for a benchmark that calls the app directly (test client).

Importing this module does it: the project on sys.path, production-like settings (DEBUG
off, a throwaway SECRET_KEY, the test client's host) unless the environment says otherwise.
"""

import os
import sys
from pathlib import Path

import django

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("DEBUG", "0")
os.environ.setdefault("SECRET_KEY", "benchmark-only-secret-key-not-for-production")
os.environ.setdefault("ALLOWED_HOSTS", "testserver")
django.setup()
