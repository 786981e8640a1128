from django.urls import path

from apps.commerce import views

app_name = "commerce"
urlpatterns = [
    path("", views.home, name="home"),
    path("orders/", views.order_list, name="orders"),
    path("orders/<int:order_id>/", views.order_detail, name="order"),
    path("imports/", views.import_upload, name="import"),
]
