import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

DEMO_USERNAME = "demo"


class Command(BaseCommand):
    help = (
        "Make sure someone can log in to a fresh installation: if no staff user exists, "
        f"create the superuser {DEMO_USERNAME!r} with a random password and print it once."
    )

    def handle(self, *args, **options):
        User = get_user_model()
        staff = User.objects.filter(is_staff=True, is_active=True).order_by("pk").first()
        if staff is not None:
            self.stdout.write(f"A staff user exists ({staff.get_username()}); nothing to do.")
            return
        if User.objects.filter(**{User.USERNAME_FIELD: DEMO_USERNAME}).exists():
            raise CommandError(
                f"A user named {DEMO_USERNAME!r} exists but is not active staff; "
                "make it staff in the admin shell or create a superuser with `manage.py createsuperuser`."
            )
        password = secrets.token_urlsafe(12)
        User.objects.create_superuser(DEMO_USERNAME, email="", password=password)
        self.stdout.write(f"Created the superuser {DEMO_USERNAME!r}; its password is shown only now.")
        self.stdout.write("Log in at /accounts/login/ with:")
        self.stdout.write(f"  username: {DEMO_USERNAME}")
        self.stdout.write(f"  password: {password}")
