from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from apps.core.services import api_token_create


class Command(BaseCommand):
    help = "Create a personal API token for a user and print it once."

    def add_arguments(self, parser):
        parser.add_argument("username", help="The user the token authenticates as.")
        parser.add_argument("--name", default="default", help="A label to tell tokens apart.")

    def handle(self, *args, username: str, name: str, **options):
        User = get_user_model()
        try:
            user = User.objects.get(**{User.USERNAME_FIELD: username})
        except User.DoesNotExist:
            raise CommandError(f"No user named {username!r}.") from None
        if not user.is_active:
            raise CommandError(f"User {username!r} is inactive; activate it first.")
        _, raw = api_token_create(user=user, name=name)
        self.stderr.write(f"Token for {username} (store it now; it is not shown again):")
        self.stdout.write(raw)
