from django.urls import path
from django.views.generic import RedirectView

app_name = "commerce"
urlpatterns = [path("orders/", RedirectView.as_view(url="/"), name="orders")]
